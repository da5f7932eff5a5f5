"""The tuning stage in the workflow: the example config plans its trials, the choice is made on
validation only, both models get identical trials, a diverged trial counts against the budget, no
tuning output holds a test score, and what a change to `seeds` or `tune` reruns."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import workflow_runner as wf
from conftest import REPO, merged
from segsweep import layout
from segsweep.config.tuning import trial_configurations
from segsweep.training.choose import choose, trial_table
from segsweep.training.tune_trial import failed_record

TUNE = {
    "trials": 3,
    "seeds": [10, 11],
    "metric": "val_road_iou",
    "space": {"train.learning_rate": {"loguniform": [1e-4, 1e-2]}},
}
# Keys of an evaluation's metrics.json (test scores): none may appear in a tuning output.
TEST_METRIC_KEYS = {
    "pooled",
    "pooled_iou",
    "per_image_mean",
    "per_image_mean_iou",
    "maxf",
    "boundary_iou",
    "n_empty_reference",
    "test",
}


def _fake_runs(tmp_path: Path, model: str, scores: dict[tuple[int, int], float | None]) -> list[Path]:
    """run.json of each (trial, seed), trial-major, with a validation score or a failure (None)."""
    paths = []
    for trial, configuration in enumerate(trial_configurations(TUNE)):
        for seed in TUNE["seeds"]:
            settings = {
                "dataset": {"name": "d"},
                "model": {"name": model},
                "train": {"learning_rate": configuration["train.learning_rate"], "epochs": 2},
            }
            score = scores[trial, seed]
            record = (
                failed_record(settings, seed, "loss nan")
                if score is None
                else {"model": model, "seed": seed, "settings": settings, "best_val_road_iou": score}
            )
            path = tmp_path / model / f"trial{trial}" / f"seed{seed}" / "run.json"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps(record))
            paths.append(path)
    return paths


def test_choice_is_the_best_mean_validation_score_with_failures_as_worst(tmp_path: Path) -> None:
    # Trial means: 0 -> (0.5 + 0.75) / 2 = 0.625; 1 -> (0.9 + failed 0) / 2 = 0.45; 2 -> (0.625 + 0.625) / 2.
    scores = {(0, 10): 0.5, (0, 11): 0.75, (1, 10): 0.9, (1, 11): None, (2, 10): 0.625, (2, 11): 0.625}
    table = trial_table("unet", TUNE, _fake_runs(tmp_path, "unet", scores))
    chosen = choose("unet", TUNE, table)
    assert chosen["trial_scores"] == pytest.approx([0.625, 0.45, 0.625])
    assert chosen["trial"] == 0  # tie with trial 2: the lower index
    assert chosen["train"] == {"learning_rate": trial_configurations(TUNE)[0]["train.learning_rate"]}
    assert (chosen["chosen_on"], chosen["failed_runs"]) == ("val", 1)
    assert table["failed"].tolist() == [False, False, False, True, False, False]


def test_a_diverged_trial_records_what_it_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from segsweep.reporting.cost import RunCost, trial_costs
    from segsweep.training import job, tune_trial
    from segsweep.training.callbacks import LossNotFinite

    def diverge(args) -> int:  # what train_run raises: the error with what the run held until then
        error = LossNotFinite("the training loss became nan at epoch 2")
        error.spent = {"train_seconds": 450.0, "devices": {"kind": "cpu", "count": 4}, "slurm_job_ids": None}
        raise error

    monkeypatch.setattr(job, "run", diverge)
    settings = {"dataset": {"name": "d"}, "model": {"name": "unet"}, "train": {"learning_rate": 0.01}}
    out = tmp_path / "trial0" / "seed10"
    args = argparse.Namespace(settings=json.dumps(settings), config=None, model=None, aug=None, seed=10, out_dir=out)
    assert tune_trial.run(args) == 0
    record = json.loads((out / layout.RUN_FILE).read_text())
    assert record["failed"] and record["best_val_road_iou"] is None
    assert trial_costs([record]) == [RunCost(450 * 4 / 3600, "cpu_hours", "benchmark")]
    old = failed_record(settings, 10, "loss nan")  # nothing known of its time: null, never made up
    assert (old["train_seconds"], old["devices"], old["slurm_job_ids"]) == (None, None, None)


def test_runs_out_of_order_are_refused(tmp_path: Path) -> None:
    paths = _fake_runs(tmp_path, "unet", {(t, s): 0.5 for t in range(3) for s in (10, 11)})
    with pytest.raises(Exception, match="not trial 0 of model 'unet' at seed 10"):
        trial_table("unet", TUNE, paths[::-1])


def test_example_tuning_config_plans_the_tuning_jobs(tmp_path: Path) -> None:
    config = merged(*(yaml.safe_load((REPO / "config" / name).read_text()) for name in ("config.yaml", "tune.yaml")))
    code, out = wf.run(tmp_path, config, "-n", "--printshellcmds")
    assert code == 0, out[-3000:]
    jobs = wf.planned_jobs(out)
    assert (jobs["tune_trial"], jobs["tune_choose"]) == (6 * 2, 2)
    for model in ("unet", "unetpp"):
        for trial in range(6):
            assert f"results/synthetic-tune/tune/{model}/trial{trial}/seed100/run.json" in out
    assert "tune/unet/trial0/seed0/" not in out  # evaluation seeds never tune


def test_a_tuned_sequential_sweep_counts_the_trials_at_every_look(tmp_path: Path) -> None:
    """Each look's stop rule weighs sequential.max_device_hours against the whole sweep's cost, so the
    look is given the tuning choices, beside which it finds the trials' cost."""
    config = merged(
        merged(*(yaml.safe_load((REPO / "config" / name).read_text()) for name in ("config.yaml", "tune.yaml"))),
        {"seeds": [0, 1, 2, 3], "sequential": {"looks": 2, "seeds_per_look": 2, "max_device_hours": 1.0}},
    )
    code, out = wf.run(tmp_path, config, "-n", "--printshellcmds")
    assert code == 0, out[-3000:]
    look = next(line for line in out.splitlines() if "python -m segsweep look " in line)
    chosen = [f"results/synthetic-tune/tune/{model}/chosen.json" for model in ("unet", "unetpp")]
    assert all(path in look.split("--tuning", 1)[1] for path in chosen), look


def _tuning_files(experiment: Path) -> list[Path]:
    return [path for path in (experiment / "tune").rglob("*") if path.suffix in (".json", ".csv")]


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.slow
def test_tuned_sweep_end_to_end(tmp_path: Path) -> None:
    tune = {"trials": 2, "seeds": [7], "space": {"train.learning_rate": {"loguniform": [1e-3, 1e-2]}}}
    config = wf.tiny_config(seeds=[0], train={"epochs": 1}, tune=tune)
    code, out = wf.run(tmp_path, config, "--cores", "2", timeout=900)
    assert code == 0, out[-3000:]
    experiment = tmp_path / "results" / "tiny"
    files = _tuning_files(experiment)
    assert files and not list((experiment / "tune").rglob(layout.METRICS_FILE))
    for path in files:  # no tuning output holds a test score
        keys = _keys(json.loads(path.read_text())) if path.suffix == ".json" else set(pd.read_csv(path).columns)
        assert not keys & TEST_METRIC_KEYS, (path, keys & TEST_METRIC_KEYS)
    tables = {m: pd.read_csv(layout.tune_choice_dir(experiment, m) / layout.TRIALS_FILE) for m in ("unet", "unetpp")}
    assert tables["unet"]["train.learning_rate"].tolist() == tables["unetpp"]["train.learning_rate"].tolist()
    for model in ("unet", "unetpp"):
        chosen = json.loads((layout.tune_choice_dir(experiment, model) / layout.CHOSEN_FILE).read_text())
        val = [
            json.loads((layout.tune_dir(experiment, model, t, 7) / layout.RUN_FILE).read_text())["best_val_road_iou"]
            for t in range(2)
        ]
        assert chosen["trial"] == int(np.argmax(val)) and chosen["chosen_on"] == "val"
        run = json.loads((layout.run_dir(experiment, model, "none", 0, 0) / layout.RUN_FILE).read_text())
        assert run["settings"]["train"]["learning_rate"] == chosen["train"]["learning_rate"]
    assert layout.plot_file(layout.aggregate_dir(experiment), layout.TUNING_PLOT).stat().st_size > 0
    # Only `seeds` changed: no tuning job; one more trial: only that trial's jobs and what follows.
    code, out = wf.run(tmp_path, wf.tiny_config(seeds=[0, 1], train={"epochs": 1}, tune=tune), "-n")
    assert code == 0 and "tune_trial" not in wf.planned_jobs(out) and "tune_choose" not in wf.planned_jobs(out), out[
        -2000:
    ]
    code, out = wf.run(tmp_path, wf.tiny_config(seeds=[0], train={"epochs": 1}, tune={**tune, "trials": 3}), "-n")
    assert code == 0 and wf.planned_jobs(out)["tune_trial"] == 2, out[-2000:]
    planned = {line.split(":", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("output:")}
    assert {"results/tiny/tune/unet/trial2/seed7/run.json", "results/tiny/tune/unetpp/trial2/seed7/run.json"} <= planned
    assert "results/tiny/tune/unet/trial0/seed7/run.json" not in planned
