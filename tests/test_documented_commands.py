"""The shell commands that README.md and docs/*.md show are run, cheaply, so that a renamed flag,
step, make target or config file fails here rather than in a newcomer's terminal.

The convention (what a doc writer needs to know):

- Every fenced block opened with ```bash in README.md or docs/*.md is tested: each line is one
  command (a trailing ``# comment`` is dropped, a line ending in ``\\`` goes on on the next).
  Blocks in other languages (```yaml, ```python, a bare ```) are not commands and are not run.
- A bash block that cannot run here (it needs a cluster's login shell, conda and the internet, or
  changes your home folder) is opted out by the line before its fence, saying why:
  ``<!-- test: skip: needs conda and the internet -->``.
- Each command runs as cheaply as it still reads every argument:

  ``make TARGET``                     ``make -n TARGET``, the target a rule of the Makefile (make alone
                                      would take a folder of that name, tests/, as done)
  ``snakemake ARGS``                  ``snakemake -n ARGS``, a dry run that reads every config file and
                                      checks the config; ``--profile slurm`` is ``--profile profiles/slurm``,
                                      the folder docs/slurm.md links to where Snakemake looks for it
  ``python -m segsweep sweep ARGS``   ``snakemake -n ARGS``: sweep hands its arguments to Snakemake
  ``python -m segsweep plan ARGS``    run as written, where ``results/synthetic/aggregate`` is a finished
                                      (fake) sweep's aggregate folder
  ``python -m segsweep ... --help``   run as written

  A dry run may stop at a config's missing data folder (config/kitti.yaml's, where KITTI is not
  downloaded): Snakemake has read every argument and config file by then. Any other command fails
  the test: teach this file to run it cheaply, or mark its block skipped.

Commands shown more than once run once.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO
from fake_runs import make_fake_sweep
from segsweep.cli import main

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SKIP = re.compile(r"^<!-- test: skip: .+ -->$")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PYTHONS = {"python", "python3", ".venv/bin/python"}
MISSING_DATA = re.compile(r"key 'dataset\.root': data folder '[^']+' does not exist")


@dataclass(frozen=True)
class Command:
    """One documented command and where it is shown."""

    where: str  # page:line
    argv: tuple[str, ...]


def commands(page: Path) -> list[Command]:
    """The commands of `page`'s tested bash blocks (module docstring)."""
    found, lines = [], page.read_text(encoding="utf-8").splitlines()
    block, skipped, pending, start = None, False, "", 0
    for number, line in enumerate(lines, start=1):
        if block is None:
            if line.strip() == "```bash":
                previous = next((text.strip() for text in reversed(lines[: number - 1]) if text.strip()), "")
                block, skipped = number, bool(SKIP.match(previous))
            continue
        if line.strip() == "```":
            block = None
            continue
        if skipped:
            continue
        start = start if pending else number
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        argv = tuple(shlex.split(pending, comments=True))
        pending = ""
        if argv:
            found.append(Command(f"{page.relative_to(REPO)}:{start}", argv))
    return found


def unique(found: list[Command]) -> list[Command]:
    first: dict[tuple[str, ...], Command] = {}
    for command in found:
        first.setdefault(command.argv, command)
    return list(first.values())


DOCUMENTED = unique([command for page in PAGES for command in commands(page)])


def dry_run(argv: tuple[str, ...]) -> list[str]:
    """Snakemake's own arguments as a dry run, with the profile the docs link as `slurm`."""
    args = list(argv)
    for index, (flag, value) in enumerate(zip(args, args[1:])):
        if flag == "--profile" and value == "slurm":
            args[index + 1] = str(REPO / "profiles" / "slurm")
    return [SNAKEMAKE, "-n", *args]


def cheap(argv: tuple[str, ...]) -> tuple[list[str], bool]:
    """The command to run for `argv` (module docstring), and whether it is a Snakemake dry run."""
    program, *rest = argv
    if program == "make":
        rules = set(re.findall(r"^([\w.-]+):", (REPO / "Makefile").read_text(), flags=re.MULTILINE))
        assert set(rest) <= rules, f"make {' '.join(rest)}: no such rule in the Makefile ({', '.join(sorted(rules))})"
        return ["make", "-n", *rest], False
    if Path(program).name == "snakemake":
        return dry_run(tuple(rest)), True
    if program in PYTHONS and rest[:2] == ["-m", "segsweep"]:
        step = rest[2] if len(rest) > 2 else "--help"
        if step == "sweep":
            return dry_run(tuple(rest[3:])), True
        if step == "plan" or "--help" in rest:
            return [sys.executable, *rest], False
    pytest.fail(
        f"no cheap way to run `{shlex.join(argv)}` here: teach tests/test_documented_commands.py to run it, "
        "or mark its block <!-- test: skip: why -->"
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A folder holding results/synthetic/aggregate, a finished (fake) sweep's, to run commands in."""
    sweep = make_fake_sweep(tmp_path_factory.mktemp("sweep"))
    assert main([*sweep.aggregate_args(grid_images=1), "--bootstrap-resamples", "1000"]) == 0
    where = tmp_path_factory.mktemp("cwd")
    (where / "results").mkdir()
    (where / "results" / "synthetic").symlink_to(sweep.results, target_is_directory=True)
    return where


def test_the_docs_show_commands() -> None:
    """The collection itself works: the README's two set-up commands are among them."""
    assert {("make", "run"), ("make", "test")} <= {command.argv for command in DOCUMENTED}


@pytest.mark.parametrize("command", DOCUMENTED, ids=[command.where for command in DOCUMENTED])
def test_documented_command_runs(command: Command, finished: Path) -> None:
    argv, is_dry_run = cheap(command.argv)
    where = finished if "plan" in command.argv else REPO
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(argv, cwd=where, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    stopped_at_data = is_dry_run and MISSING_DATA.search(output) is not None
    assert result.returncode == 0 or stopped_at_data, (
        f"{command.where}: `{shlex.join(command.argv)}` (run as `{shlex.join(argv)}`) failed:\n{output[-3000:]}"
    )
