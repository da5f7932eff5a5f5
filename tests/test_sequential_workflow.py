"""A sequential sweep through the real workflow on the tiny config: look by look, stopping at a
budget, then going on with a larger one without redoing a finished run.

It starts from a copy of the suite's finished tiny sweep (conftest's `finished_tiny_sweep`):
turning `sequential` on for a finished sweep reuses its runs, so look 1 trains nothing and
look 2 trains seeds 2 and 3."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import workflow_runner as wf
from conftest import REPO
from segsweep import layout


def _sweep(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """`python -m segsweep sweep` with Snakemake's arguments, as docs/cost-and-sequential.md runs it."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "segsweep",
        "sweep",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
        "--configfile",
        str(workdir / "config.yaml"),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)


def _look(experiment: Path, look: int) -> dict:
    return json.loads(layout.look_file(experiment, look).read_text())


@pytest.mark.slow
def test_sequential_sweep_stops_at_its_budget_then_resumes_look_by_look(
    tmp_path: Path, finished_tiny_sweep: Path
) -> None:
    workdir = tmp_path / "sweep"
    # Modification times kept. Not .snakemake/locks: test_workflow's dry runs in the shared sweep
    # hold locks while they run, which would stop every Snakemake in a copy taken meanwhile.
    shutil.copytree(finished_tiny_sweep, workdir, symlinks=True, ignore=shutil.ignore_patterns("locks"))
    experiment = workdir / "results" / "tiny"
    finished = {seed: layout.run_dir(experiment, "unetpp", "none", 0, seed) / layout.RUN_FILE for seed in (0, 1)}
    stamps = {seed: path.stat().st_mtime_ns for seed, path in finished.items()}
    capped = wf.tiny_config(seeds=[0, 1, 2, 3], sequential={"looks": 2, "seeds_per_look": 2, "max_device_hours": 1e-6})
    done = _sweep(workdir, capped)
    assert done.returncode == 0, done.stdout + done.stderr
    first = _look(experiment, 1)
    assert first["seeds"] == [0, 1] and first["stop"] == "max_device_hours", first
    assert first["decision"] == "inconclusive"  # two seeds: a 1-degree-of-freedom interval at the first look's level
    assert first["cost"]["device_hours"] > 0 and first["cost"]["sources"] == ["benchmark"]
    assert not layout.look_file(experiment, 2).exists()
    assert not layout.run_dir(experiment, "unet", "none", 0, 2).exists()  # no look-2 seed was trained
    verdict = json.loads((layout.aggregate_dir(experiment) / layout.VERDICT_FILE).read_text())
    assert verdict["sequential"]["look"] == 1 and verdict["n_seeds"] == 2
    assert verdict["cost"]["runs"] == 4 and verdict["cost"]["device_hours"] == pytest.approx(
        first["cost"]["device_hours"]
    )
    report = layout.report_file(experiment).read_text(encoding="utf-8")
    assert "Sequential verdict, look 1 of at most 2 (2 seeds" in report
    assert "one more look would pass sequential.max_device_hours" in report

    assert {seed: path.stat().st_mtime_ns for seed, path in finished.items()} == stamps  # the finished runs served
    uncapped = wf.tiny_config(seeds=[0, 1, 2, 3], sequential={"looks": 2, "seeds_per_look": 2})
    code, out = wf.run(workdir, uncapped, "--cores", "2", timeout=600)
    # plain snakemake decides the out-of-date look again, then refuses to report a sweep that goes on
    why = layout.log_file(experiment, "aggregate").read_text()
    assert code != 0 and "look 1 did not stop" in why and "python -m segsweep sweep" in why, out
    assert _look(experiment, 1)["stop"] is None and not layout.look_file(experiment, 2).exists()
    done = _sweep(workdir, uncapped)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {seed: path.stat().st_mtime_ns for seed, path in finished.items()} == stamps  # not trained again
    second = _look(experiment, 2)
    assert second["seeds"] == [0, 1, 2, 3] and second["stop"] in ("decided", "max_seeds")
    assert second["bound"] < first["bound"]  # O'Brien-Fleming: the last look spends the most alpha
    verdict = json.loads((layout.aggregate_dir(experiment) / layout.VERDICT_FILE).read_text())
    assert verdict["sequential"]["look"] == 2 and [k["look"] for k in verdict["sequential"]["looks"]] == [1, 2]
    assert verdict["n_seeds"] == 4 and verdict["cost"]["runs"] == 8
    code, out = wf.run(workdir, uncapped, "-n", "--cores", "2", timeout=300)
    assert code == 0 and wf.planned_jobs(out) == {}, out
