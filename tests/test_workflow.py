"""The whole workflow on the tiny config: a clean run, what a config change reruns, and the faults
a long sweep meets.

Each test runs real Snakemake, real training and evaluation on a 12-image procedural dataset
with 3-level networks at 32x96 (see tests/configs/tiny.yaml), in its own scratch folder; the
dry-run tests share the suite's one finished sweep (conftest's `finished_tiny_sweep`).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import workflow_runner as wf
from conftest import REPO
from segsweep.layout import forest_files
from segsweep.training.state import saved_epochs

BIN = Path(sys.executable).parent
RUN_FILES = ("model.keras", "history.csv", "run.json")


def experiment(workdir: Path, name: str = "tiny") -> Path:
    return workdir / "results" / name


def run_dir(workdir: Path, model: str, seed: int, aug: str = "none", name: str = "tiny") -> Path:
    return experiment(workdir, name) / "runs" / model / aug / "split0" / f"seed{seed}"


def eval_dir(workdir: Path, model: str, seed: int, aug: str = "none", name: str = "tiny") -> Path:
    return experiment(workdir, name) / "eval" / model / aug / "split0" / f"seed{seed}"


def assert_all_or_nothing(directory: Path) -> None:
    """A run folder either holds every output or none: a half-written job is never taken as done."""
    present = [name for name in RUN_FILES if (directory / name).exists()]
    assert present in ([], list(RUN_FILES)), f"{directory}: only {present}"


# ---------------------------------------------------------------------------------------------
# static checks of the workflow's code (no job runs)


def test_snakemake_lint_finds_nothing() -> None:
    result = subprocess.run([BIN / "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True, timeout=180)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Lints for" not in output and "Congratulations" in output, output[-3000:]


def test_snakefmt_leaves_the_workflow_unchanged() -> None:
    result = subprocess.run(
        [BIN / "snakefmt", "--check", "workflow"], cwd=REPO, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_split_axis_fans_out_the_runs_and_the_aggregate_reads_every_split(tmp_path: Path) -> None:
    code, out = wf.run(tmp_path, wf.tiny_config(split={"repeats": 3}), "-n", "--printshellcmds")
    assert code == 0, out[-3000:]
    assert wf.planned_jobs(out)["make_split"] == 3 and wf.planned_jobs(out)["train"] == 12
    for index in range(3):
        assert f"--index {index} --out results/tiny/splits/split{index}.csv" in out
        assert f"results/tiny/runs/unet/none/split{index}/seed1/model.keras" in out
    jobs = re.findall(r"segsweep split --settings '([^']*)' --index (\d+)", out)  # the config's split settings
    assert sorted(int(index) for _, index in jobs) == [0, 1, 2]
    assert all(json.loads(settings)["split"]["repeats"] == 3 for settings, _ in jobs)
    assert "--splits 0 1 2 " in out and "--bootstrap-resamples 10000" in out


# ---------------------------------------------------------------------------------------------
# one finished tiny sweep, and what `snakemake -n` plans after a config change


@pytest.mark.slow
def test_sweep_runs_end_to_end_and_snakemake_report_works(finished_tiny_sweep: Path) -> None:
    config = wf.tiny_config()
    exp = experiment(finished_tiny_sweep)
    for model in config["models"]:
        for seed in config["seeds"]:
            run = json.loads((run_dir(finished_tiny_sweep, model, seed) / "run.json").read_text())
            assert (run["model"], run["seed"], run["resumed"]) == (model, seed, False)
            metrics = json.loads((eval_dir(finished_tiny_sweep, model, seed) / "metrics.json").read_text())
            per_image = pd.read_csv(eval_dir(finished_tiny_sweep, model, seed) / "per_image.csv")
            tp, fp, fn = (int(per_image[count].sum()) for count in ("tp", "fp", "fn"))
            assert len(per_image) == metrics["n_images"] and tp + fp + fn > 0
            # Pooled IoU: the counts summed over the test images, then one ratio.
            assert (metrics["pooled"]["tp"], metrics["pooled"]["fp"], metrics["pooled"]["fn"]) == (tp, fp, fn)
            assert metrics["pooled"]["iou"] == pytest.approx(tp / (tp + fp + fn))
    html = (exp / "report.html").read_text()
    assert "unetpp" in html and "<img" in html
    verdict = json.loads((exp / "aggregate" / "verdict.json").read_text())
    assert verdict["runs_found"] == verdict["runs_expected"] == 4 and verdict["missing_runs"] == []
    # Every output of the experiment is under results/tiny/ (the generated dataset is config's dataset.root);
    # beside them only the index of every experiment and its forest plot.
    forest = [path.name for path in forest_files(Path("index.html")).values()]
    assert sorted(p.name for p in (finished_tiny_sweep / "results").iterdir()) == sorted(
        ["data", "index.html", "tiny", *forest]
    )
    index = (finished_tiny_sweep / "results" / "index.html").read_text()
    assert 'href="tiny/report.html"' in index and re.search(r"<td class=\"num\">4</td>", index), index

    code, out = wf.run(finished_tiny_sweep, config, "-n")
    assert code == 0 and "Nothing to be done" in out  # a second run redoes nothing

    # Outside results/: test_slurm compares this sweep's result tree with its SLURM run's.
    code, out = wf.run(finished_tiny_sweep, config, "--report", "snakemake-report.zip")
    assert code == 0, out[-3000:]
    with zipfile.ZipFile(finished_tiny_sweep / "snakemake-report.zip") as report:
        data = "\n".join(
            report.read(name).decode(errors="replace") for name in report.namelist() if name.endswith((".html", ".js"))
        )
    # Each run's items carry its model, augmentation, split and seed as labels.
    for label in ('"model"', '"augmentation"', '"seed"', '"unetpp"'):
        assert label in data, label


def _reordered(value):
    """The same content with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    return value


@pytest.mark.slow
def test_only_what_a_change_affects_is_planned_again(finished_tiny_sweep: Path) -> None:
    config = wf.tiny_config()
    plans = {}
    for case, changed in {
        "key order": _reordered(wf.tiny_config()),
        "threads": wf.tiny_config(train={"threads": 2}),
        "evaluation only": wf.tiny_config(evaluate={"speed_repeats": 3}),
        "report only": wf.tiny_config(report={"grid_images": 2}),
        "training": wf.tiny_config(train={"learning_rate": 0.01}),
    }.items():
        code, out = wf.run(finished_tiny_sweep, changed, "-n")
        assert code == 0, out[-3000:]
        plans[case] = wf.planned_jobs(out)
    runs = len(config["models"]) * len(config["seeds"])
    assert plans == {
        "key order": {},
        "threads": {"report": 1, "all": 1},  # the report shows the config
        "evaluation only": {"evaluate": runs, "aggregate": 1, "report": 1, "all": 1},
        "report only": {"aggregate": 1, "report": 1, "all": 1},
        "training": {"train": runs, "evaluate": runs, "aggregate": 1, "report": 1, "all": 1},
    }


@pytest.mark.slow
def test_another_experiment_name_plans_only_its_own_files(finished_tiny_sweep: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in experiment(finished_tiny_sweep).rglob("*")}
    code, out = wf.run(finished_tiny_sweep, wf.tiny_config(name="tiny-lr", train={"learning_rate": 0.01}), "-n")
    assert code == 0, out[-3000:]
    outputs = [
        path
        for line in out.splitlines()
        if line.strip().startswith("output:")
        for path in line.split(":", 1)[1].replace(",", " ").split()
    ]
    assert outputs and all(path.startswith("results/tiny-lr/") for path in outputs), outputs
    assert wf.planned_jobs(out)["train"] == 4
    code, out = wf.run(finished_tiny_sweep, wf.tiny_config(), "-n")
    assert code == 0 and "Nothing to be done" in out  # the first experiment is still complete
    assert {p: p.stat().st_mtime_ns for p in experiment(finished_tiny_sweep).rglob("*")} == before


@pytest.mark.slow
def test_killed_training_job_resumes_and_finished_runs_are_not_redone(tmp_path: Path) -> None:
    config = wf.tiny_config(seeds=[0], train={"epochs": 5, "early_stopping_patience": 0})
    first, second = run_dir(tmp_path, "unet", 0), run_dir(tmp_path, "unetpp", 0)
    kill_after = random.Random(21).randint(1, 3)  # an epoch of the second run, the same on every run of the test
    # The two trainings only: what follows them (evaluation, report) is another test's.
    trainings = [str((d / "run.json").relative_to(tmp_path)) for d in (first, second)]
    process = wf.start(tmp_path, config, "--cores", "1", *trainings)

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

    code, out = wf.run(tmp_path, config, "--cores", "1", *trainings)
    assert code == 0, out[-4000:]
    run = json.loads((killed / "run.json").read_text())
    assert run["resumed"] is True and run["resumed_from_epoch"] >= epochs_saved >= kill_after
    assert run["epochs_run"] == 5
    assert (done / "model.keras").stat().st_mtime_ns == done_mtime  # the finished run was not redone


@pytest.mark.slow
def test_killed_snakemake_leaves_no_output_that_looks_done_and_reruns_to_completion(tmp_path: Path) -> None:
    config = wf.tiny_config(seeds=[0], train={"epochs": 4, "early_stopping_patience": 0})  # two runs, trained together
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
    assert (experiment(tmp_path) / "report.html").exists()
    assert any(json.loads((d / "run.json").read_text())["resumed"] for d in runs)


@pytest.mark.slow
def test_failed_run_is_named_and_the_report_never_averages_fewer_seeds(tmp_path: Path) -> None:
    config = wf.tiny_config(
        models=["unet", "unetpp", "unet_nan"],
        seeds=[0],
        model_variants={"unet_nan": {"architecture": "unet", "train": {"learning_rate": 1e30}}},
    )
    code, out = wf.run(tmp_path, config, "--cores", "2", "--keep-going")
    assert code != 0
    log = experiment(tmp_path) / "logs" / "train" / "unet_nan" / "none" / "split0" / "seed0.log"
    assert "loss became nan" in log.read_text()
    assert "Error in rule train" in out and "unet_nan" in out
    for model in ("unet", "unetpp"):  # every other run finished
        assert (eval_dir(tmp_path, model, 0) / "metrics.json").exists()
    assert not (experiment(tmp_path) / "report.html").exists()  # nothing averaged over fewer runs

    code, out = wf.run(tmp_path, config, "--cores", "2", "partial_report")
    assert code == 0, out[-4000:]
    html = (experiment(tmp_path) / "report-partial.html").read_text()
    assert "unet_nan" in html and "missing" in html.lower()
    verdict = json.loads((experiment(tmp_path) / "aggregate-partial" / "verdict.json").read_text())
    index = (tmp_path / "results" / "index.html").read_text()  # the index links the partial report
    assert 'href="tiny/report-partial.html"' in index
    assert [(m["model"], m["seed"]) for m in verdict["missing_runs"]] == [("unet_nan", 0)]
