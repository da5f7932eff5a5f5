"""The package's imports run one way, down the stages of the workflow, and never in a circle.

Stages, lowest first (README, "What runs, and where its code is"):

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
training, config never imports training or evaluation. Every import counts for that, those inside
functions too. And the module-level imports form no cycle, within a stage as across stages.
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


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The segsweep modules `path` imports (a `from package import name` counts as the package,
    or as the submodule where `name` is one)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
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
    upward = sorted(other for other in imports(MODULES[module], top_level_only=False) if stage(other) > stage(module))
    assert not upward, f"{module} (stage {stage(module)}) imports a later stage: {upward}"


def test_module_level_imports_form_no_cycle() -> None:
    graph = {module: imports(path, top_level_only=True) & set(MODULES) for module, path in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(module) :], module]))
        if module in done:
            return
        for other in sorted(graph[module]):
            visit(other, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """The check can fail: evaluation importing training is found."""
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from segsweep.training.runtime import configure\n")
    assert {stage(m) for m in imports(path, top_level_only=False)} == {STAGES["training"]}
    assert stage("segsweep.evaluation.job") < STAGES["training"]
