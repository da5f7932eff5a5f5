"""A tuned sweep's verdict says what it is conditional on: the tuning budget and whether the curves cross."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from fake_runs import EVALUATE_SECONDS, make_fake_sweep
from segsweep import layout
from segsweep.cli import main
from segsweep.errors import UserError
from segsweep.reporting import cost
from segsweep.reporting.tuning import trial_run_files, trial_runs
from segsweep.statistics.tuning_curves import expected_max


def _chosen(path, model: str, scores: list[float]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    best = max(range(len(scores)), key=scores.__getitem__)
    path.write_text(json.dumps({
        "model": model, "metric": "val_road_iou", "chosen_on": "val", "trial": best,
        "configuration": {"train.learning_rate": 0.001 * (best + 1)}, "train": {"learning_rate": 0.001 * (best + 1)},
        "score": scores[best], "trial_scores": scores, "failed_runs": 0, "trials": len(scores), "seeds": [100],
    }))  # fmt: skip
    return str(path)


@pytest.mark.parametrize(
    "baseline_scores, candidate_scores, cross",
    [
        ([0.70, 0.71, 0.72, 0.73], [0.80, 0.81, 0.82, 0.83], False),  # the candidate ahead at every budget
        ([0.80, 0.80, 0.80, 0.80], [0.50, 0.60, 0.70, 0.95], True),  # behind after 1 trial, ahead after 4
    ],
)
def test_tuned_verdict_names_its_budget_and_crossing_curves(tmp_path, baseline_scores, candidate_scores, cross):
    sweep = make_fake_sweep(tmp_path, augmentations=("none",), n_images=8)
    files = [
        _chosen(tmp_path / "tune" / model / layout.CHOSEN_FILE, model, scores)
        for model, scores in ((sweep.models[0], baseline_scores), (sweep.models[-1], candidate_scores))
    ]
    assert main([*sweep.aggregate_args(grid_images=1), "--tuning", *files]) == 0
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    tuning = verdict["tuning"]
    assert tuning["trials"] == 4 and tuning["curves_cross"] is cross
    candidate = tuning["models"][sweep.models[-1]]
    assert candidate["expected_best"] == pytest.approx(expected_max(candidate_scores, [1, 2, 3, 4]))
    assert candidate["low"][-1] <= candidate["expected_best"][-1] <= candidate["high"][-1]
    assert verdict["sentence"].startswith("With 4 tuning trials each, chosen on validation (tuning seeds 100): ")
    assert ("The tuning curves cross" in verdict["sentence"]) is cross
    assert layout.plot_file(sweep.out_dir, layout.TUNING_PLOT).stat().st_size > 0
    out = tmp_path / "report.html"
    assert main(sweep.report_args(out)) == 0
    html = out.read_text(encoding="utf-8")
    box = html.split('<section id="verdict"')[1].split("</section>")[0]
    assert "<dt>Tuning</dt>" in box and "4 trials each, chosen on validation" in box
    assert ("the tuning curves cross" in box) is cross
    figures = html.split('<section id="plots"')[1].split("</section>")[0]
    assert f'alt="{layout.TUNING_PLOT}"' in figures
    crossing = "cross" if cross else "do not cross"
    assert f"Here {sweep.models[0]}&#39;s and {sweep.models[-1]}&#39;s curves {crossing}." in figures


def test_untuned_sweep_has_no_tuning_plot(tmp_path):
    sweep = make_fake_sweep(tmp_path, augmentations=("none",), seeds=(0, 1), n_images=8)
    assert main(sweep.aggregate_args(grid_images=1)) == 0
    assert not layout.plot_file(sweep.out_dir, layout.TUNING_PLOT).exists()
    out = tmp_path / "report.html"
    assert main(sweep.report_args(out)) == 0
    assert layout.TUNING_PLOT not in out.read_text(encoding="utf-8")


# Each model's two trials at tuning seed 100: (train_seconds, CPU threads), None for a trial that diverged
# after 180 s on 2 threads. 900 x 2 + 180 x 2 + 1800 x 2 + 360 x 2 = 6480 CPU-seconds = 1.80 CPU-hours.
TRIALS = {"unet": [(900.0, 2), None], "unetpp": [(1800.0, 2), (360.0, 2)]}
TRIAL_HOURS = 1.8


def _trials(sweep, model: str) -> None:
    """Trial run.json files as `segsweep tune-trial` writes them, a diverged one too."""
    for trial, spent in enumerate(TRIALS[model]):
        seconds, threads = spent or (180.0, 2)
        record = {"model": model, "seed": 100, "best_val_road_iou": None if spent is None else 0.8,
                  "train_seconds": seconds, "devices": {"kind": "cpu", "count": threads}, "slurm_job_ids": None,
                  **({"failed": "loss nan"} if spent is None else {})}  # fmt: skip
        path = layout.tune_dir(sweep.results, model, trial, 100) / layout.RUN_FILE
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(record))


def test_the_decision_cost_counts_the_tuning_trials(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no sacct: every figure from the runs' own timing
    sweep = make_fake_sweep(tmp_path, augmentations=("none",), seeds=(0, 1), n_images=8)
    files = []
    for model in sweep.models:
        _trials(sweep, model)
        files.append(_chosen(layout.tune_choice_dir(sweep.results, model) / layout.CHOSEN_FILE, model, [0.8, 0.0]))
    assert main([*sweep.aggregate_args(grid_images=1), "--tuning", *files]) == 0
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    # The evaluation runs: each run's train_seconds plus its evaluation's benchmark, on 1 CPU thread.
    seconds = [
        json.loads((sweep.run_dir(m, "none", s) / layout.RUN_FILE).read_text())["train_seconds"] + EVALUATE_SECONDS
        for m in sweep.models
        for s in sweep.seeds
    ]
    runs_hours = sum(seconds) / 3600
    spent = verdict["cost"]
    assert spent["device_hours"] == pytest.approx(runs_hours) and spent["runs"] == 4
    assert spent["tuning_device_hours"] == pytest.approx(TRIAL_HOURS)
    assert (spent["tuning_runs"], spent["tuning_known_runs"], spent["tuning_unit"]) == (4, 4, "cpu_hours")
    assert spent["total_device_hours"] == pytest.approx(runs_hours + TRIAL_HOURS)
    assert verdict["cost_sentence"] == (
        f"{runs_hours + TRIAL_HOURS:.2f} CPU-hours: {runs_hours:.2f} over 4 runs and 1.80 over 4 tuning trials "
        "(from the runs' own timing and Snakemake benchmark files)"
    )
    # More seeds reuse the chosen configurations: the plan prices evaluation runs only.
    assert verdict["plan"]["device_hours_per_seed"] == pytest.approx(runs_hours / 2)
    out = tmp_path / "report.html"
    assert main(sweep.report_args(out)) == 0
    box = out.read_text(encoding="utf-8").split('<section id="verdict"')[1].split("</section>")[0]
    assert f"this decision cost {verdict['cost_sentence']}".replace("'", "&#39;") in box

    # A trial with no recorded time makes the total unknown, as a run does; the runs' figure stands.
    untimed = layout.tune_dir(sweep.results, "unetpp", 1, 100) / layout.RUN_FILE
    untimed.write_text(json.dumps({**json.loads(untimed.read_text()), "devices": None}))
    runs = pd.read_csv(sweep.out_dir / layout.AGGREGATE_TABLES["runs"])
    unknown = cost.with_tuning(cost.total(runs), cost.trial_costs(trial_runs(list(map(Path, files)))))
    assert unknown["device_hours"] == pytest.approx(runs_hours)
    assert math.isnan(unknown["tuning_device_hours"]) and math.isnan(unknown["total_device_hours"])
    assert cost.describe(unknown).startswith("unknown: 1 of 4 tuning trials have no recorded time")


def test_trials_are_found_beside_chosen_json_only(tmp_path):
    chosen = _chosen(layout.tune_choice_dir(tmp_path / "exp", "unet") / layout.CHOSEN_FILE, "unet", [0.5, 0.6])
    assert trial_run_files(Path(chosen)) == [
        layout.tune_dir(tmp_path / "exp", "unet", trial, 100) / layout.RUN_FILE for trial in (0, 1)
    ]
    elsewhere = _chosen(tmp_path / "unet-choice" / layout.CHOSEN_FILE, "unet", [0.5])
    with pytest.raises(UserError, match="its trials cannot be found"):
        trial_run_files(Path(elsewhere))
