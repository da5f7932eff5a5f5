"""The whole workflow on the tiny config: a clean run, and the faults a long sweep meets.

Each test runs real Snakemake, real training and evaluation on a 12-image procedural dataset
with 3-level networks at 32x96 (see tests/configs/tiny.yaml), in its own scratch folder.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from segsweep.training.state import saved_epochs
import workflow_runner as wf

pytestmark = pytest.mark.slow

RUN_FILES = ("model.keras", "history.csv", "run.json")


def run_dir(workdir: Path, model: str, seed: int, aug: str = "none", dataset: str = "tiny") -> Path:
    return workdir / "results" / "runs" / dataset / model / aug / f"seed{seed}"


def assert_all_or_nothing(directory: Path) -> None:
    """A run folder either holds every output or none: a half-written job is never taken as done."""
    present = [name for name in RUN_FILES if (directory / name).exists()]
    assert present in ([], list(RUN_FILES)), f"{directory}: only {present}"


def test_sweep_runs_end_to_end_and_snakemake_report_works(tmp_path: Path) -> None:
    config = wf.tiny_config()
    code, out = wf.run(tmp_path, config, "--cores", "2")
    assert code == 0, out[-4000:]
    results = tmp_path / "results"
    for model in config["models"]:
        for seed in config["seeds"]:
            run = json.loads((run_dir(tmp_path, model, seed) / "run.json").read_text())
            assert (run["model"], run["seed"], run["resumed"]) == (model, seed, False)
            metrics = json.loads((results / "eval" / "tiny" / model / "none" / f"seed{seed}" / "metrics.json").read_text())
            assert 0 <= metrics["pooled"]["iou"] <= 1
    html = (results / "report.html").read_text()
    assert "unetpp" in html and "<img" in html
    verdict = json.loads((results / "aggregate" / "tiny" / "verdict.json").read_text())
    assert verdict["runs_found"] == verdict["runs_expected"] == 4 and verdict["missing_runs"] == []

    code, out = wf.run(tmp_path, config, "-n")
    assert code == 0 and "Nothing to be done" in out  # a second run redoes nothing

    code, out = wf.run(tmp_path, config, "--report", "results/snakemake-report.zip")
    assert code == 0, out[-3000:]
    assert (results / "snakemake-report.zip").stat().st_size > 10_000


def test_killed_training_job_resumes_and_finished_runs_are_not_redone(tmp_path: Path) -> None:
    config = wf.tiny_config(seeds=[0], train={"epochs": 5, "early_stopping_patience": 0})
    first, second = run_dir(tmp_path, "unet", 0), run_dir(tmp_path, "unetpp", 0)
    kill_after = random.Random().randint(1, 3)  # a random epoch of the second run
    process = wf.start(tmp_path, config, "--cores", "1")

    def second_run_mid_training() -> bool:
        finished = [d for d in (first, second) if (d / "run.json").exists()]
        running = [d for d in (first, second) if d not in finished]
        return len(finished) == 1 and saved_epochs(running[0]) >= kill_after

    wf.wait_for(second_run_mid_training, process, 300, f"one run done and the other past epoch {kill_after}")
    done, killed = (first, second) if (first / "run.json").exists() else (second, first)
    done_mtime = (done / "model.keras").stat().st_mtime_ns
    trainer = subprocess.run(
        ["pgrep", "-f", f"segsweep train .*{killed.relative_to(tmp_path)}"], capture_output=True, text=True
    )
    # Only this test's job: another test may train a run with the same relative path elsewhere.
    pids = [int(p) for p in trainer.stdout.split() if Path(f"/proc/{p}/cwd").resolve() == tmp_path.resolve()]
    assert pids, "the training process was not found"
    epochs_saved = saved_epochs(killed)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert wf.finish(process, 120) != 0  # Snakemake reports the killed job as failed
    assert_all_or_nothing(killed)

    code, out = wf.run(tmp_path, config, "--cores", "1")
    assert code == 0, out[-4000:]
    run = json.loads((killed / "run.json").read_text())
    assert run["resumed"] is True and run["resumed_from_epoch"] >= epochs_saved >= kill_after
    assert run["epochs_run"] == 5
    assert (done / "model.keras").stat().st_mtime_ns == done_mtime  # the finished run was not redone


def test_killed_snakemake_leaves_no_output_that_looks_done_and_reruns_to_completion(tmp_path: Path) -> None:
    config = wf.tiny_config(train={"epochs": 4, "early_stopping_patience": 0})
    runs = [run_dir(tmp_path, m, s) for m in config["models"] for s in config["seeds"]]
    process = wf.start(tmp_path, config, "--cores", "2")
    wf.wait_for(lambda: any(saved_epochs(d) >= 1 for d in runs), process, 300, "a training epoch saved")
    wf.kill_group(process)  # Snakemake and its jobs, all at once
    for directory in runs:
        assert_all_or_nothing(directory)

    code, out = wf.run(tmp_path, config, "--cores", "2")
    assert code != 0 and "Directory cannot be locked" in out  # the killed Snakemake's lock stays
    code, out = wf.run(tmp_path, config, "--unlock")
    assert code == 0, out[-4000:]
    code, out = wf.run(tmp_path, config, "--cores", "2", "--rerun-incomplete")
    assert code == 0, out[-4000:]
    assert (tmp_path / "results" / "report.html").exists()
    assert any(json.loads((d / "run.json").read_text())["resumed"] for d in runs)


def test_failed_run_is_named_and_the_report_never_averages_fewer_seeds(tmp_path: Path) -> None:
    config = wf.tiny_config(
        models=["unet", "unetpp", "unet_nan"],
        seeds=[0],
        model_variants={"unet_nan": {"architecture": "unet", "train": {"learning_rate": 1e30}}},
    )
    code, out = wf.run(tmp_path, config, "--cores", "2", "--keep-going")
    assert code != 0
    assert "loss became nan" in (tmp_path / "results" / "logs" / "train" / "tiny" / "unet_nan" / "none" / "seed0.log").read_text()
    assert "Error in rule train" in out and "unet_nan" in out
    for model in ("unet", "unetpp"):  # every other run finished
        assert (tmp_path / "results" / "eval" / "tiny" / model / "none" / "seed0" / "metrics.json").exists()
    assert not (tmp_path / "results" / "report.html").exists()  # nothing averaged over fewer runs

    code, out = wf.run(tmp_path, config, "--cores", "2", "partial_report")
    assert code == 0, out[-4000:]
    html = (tmp_path / "results" / "report-partial.html").read_text()
    assert "unet_nan" in html and "missing" in html.lower()
    verdict = json.loads((tmp_path / "results" / "aggregate-partial" / "tiny" / "verdict.json").read_text())
    assert [(m["model"], m["seed"]) for m in verdict["missing_runs"]] == [("unet_nan", 0)]
