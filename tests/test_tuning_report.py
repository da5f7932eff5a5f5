"""A tuned sweep's verdict says what it is conditional on: the tuning budget and whether the curves cross."""

from __future__ import annotations

import json

import pytest

from fake_runs import make_fake_sweep
from segsweep import layout
from segsweep.cli import main
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
    assert main(["report", "--results", str(sweep.results), "--config-json", "{}", "--out", str(out)]) == 0
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
    assert main(["report", "--results", str(sweep.results), "--config-json", "{}", "--out", str(out)]) == 0
    assert layout.TUNING_PLOT not in out.read_text(encoding="utf-8")
