"""The package's imports run one way, down the stages of the workflow, and never in a circle.

Stages, lowest first (docs/workflow.md, "What runs, and where its code is"):

  0  config, hardware, errors, layout   what every step reads: settings, the machine, errors, paths
     (and segsweep/__init__.py, the version)
  1  data                               datasets, split manifests
  2  models                             the networks
  3  evaluation                         metrics, prediction, the choices made on val
  4  training                           (its validation IoU is evaluation's metric)
  5  statistics                         pure functions
  6  reporting                          reads the files of the steps below
  7  bench, cli, sweep                  entry points over everything (sweep drives Snakemake)

A module may import its own stage and those below it, never one above: evaluation never imports
training, config never imports training or evaluation. Every import counts, those inside
functions too, and they form no cycle, within a stage as across stages: an import moved into a
function hides a circle (the two modules still need each other), it does not break it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "segsweep"
STAGES = {
    "config": 0, "hardware": 0, "errors": 0, "layout": 0,
    "data": 1, "models": 2, "evaluation": 3, "training": 4, "statistics": 5, "reporting": 6,
    "bench": 7, "cli": 7, "sweep": 7, "__main__": 7, "__init__": 0,  # the package itself holds only its version
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> int:
    parts = module.split(".")
    return STAGES[parts[1] if len(parts) > 1 else "__init__"]


def imports(path: Path) -> set[str]:
    """The segsweep modules `path` imports anywhere in it (a `from package import name` counts as
    the package, or as the submodule where `name` is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "segsweep"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "segsweep":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_stage() -> None:
    assert {module.split(".")[1] for module in MODULES if "." in module} <= set(STAGES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_up_the_stages(module: str) -> None:
    upward = sorted(other for other in imports(MODULES[module]) if stage(other) > stage(module))
    assert not upward, f"{module} (stage {stage(module)}) imports a later stage: {upward}"


def first_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` (module -> the modules it imports), as a path back to its start."""
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> list[str] | None:
        if module in trail:
            return [*trail[trail.index(module) :], module]
        if module in done:
            return None
        for other in sorted(graph.get(module, ())):
            cycle = visit(other, [*trail, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    return next((cycle for module in sorted(graph) if (cycle := visit(module, []))), None)


def test_imports_form_no_cycle() -> None:
    cycle = first_cycle({module: imports(path) & set(MODULES) for module, path in MODULES.items()})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_check_finds_a_cycle_through_a_function(tmp_path: Path) -> None:
    """The check can fail: a module importing back, inside a function, the one that imports it closes a circle."""
    path = tmp_path / "formats.py"
    path.write_text("def f():\n    from segsweep.data.folder import folder_format\n")
    graph = {"segsweep.data.formats": imports(path), "segsweep.data.folder": {"segsweep.data.formats"}}
    assert first_cycle(graph) == ["segsweep.data.folder", "segsweep.data.formats", "segsweep.data.folder"]


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """The check can fail: evaluation importing training is found."""
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from segsweep.training.runtime import configure\n")
    assert {stage(m) for m in imports(path)} == {STAGES["training"]}
    assert stage("segsweep.evaluation.job") < STAGES["training"]
