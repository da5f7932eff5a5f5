"""`segsweep aggregate` over fabricated runs: tables, verdicts, missing runs, figures."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fake_runs import make_fake_sweep
from segsweep.cli import main

T_975_DF2 = 4.302653  # Student t quantile for 3 seeds, from printed tables


@pytest.fixture(scope="module")
def clear_win(tmp_path_factory):
    """2 models x 2 augmentations x 3 seeds; U-Net++ errs by 2 pixels where U-Net errs by 7."""
    sweep = make_fake_sweep(tmp_path_factory.mktemp("clear"))
    assert main(sweep.aggregate_args(grid_images=2)) == 0
    return sweep


def read(sweep, name: str) -> pd.DataFrame:
    return pd.read_csv(sweep.out_dir / name, dtype={"stem": str})


def test_runs_table_has_one_row_per_run_with_its_files_values(clear_win):
    runs = read(clear_win, "runs.csv")
    assert len(runs) == 2 * 2 * 3
    assert {"dataset", "model", "augmentation", "seed", "pooled_iou", "per_image_mean_iou", "precision", "recall",
            "f1", "best_epoch", "epochs_run", "train_seconds", "parameters", "images_per_second",
            "precision_policy"} <= set(runs.columns)
    row = runs[(runs.model == "unetpp") & (runs.augmentation == "flip_crop") & (runs.seed == 1)].iloc[0]
    metrics = json.loads((clear_win.eval_dir("unetpp", "flip_crop", 1) / "metrics.json").read_text())
    info = json.loads((clear_win.run_dir("unetpp", "flip_crop", 1) / "run.json").read_text())
    assert row.pooled_iou == pytest.approx(metrics["pooled"]["iou"])
    assert row.per_image_mean_iou == pytest.approx(metrics["per_image_mean"]["iou"])
    assert row.images_per_second == pytest.approx(metrics["speed"]["images_per_second"])
    assert (row.best_epoch, row.epochs_run, row.precision_policy) == (info["best_epoch"], info["epochs_run"], "float32")


def test_summary_is_mean_std_and_t_interval_over_seeds(clear_win):
    runs, summary = read(clear_win, "runs.csv"), read(clear_win, "summary.csv")
    assert len(summary) == 2 * 2 * 5  # models x augmentations x metrics
    values = runs[(runs.model == "unet") & (runs.augmentation == "none")]["pooled_iou"].to_numpy()
    cell = summary[(summary.model == "unet") & (summary.augmentation == "none") & (summary.metric == "pooled_iou")].iloc[0]
    std = math.sqrt(((values - values.mean()) ** 2).sum() / 2)
    half = T_975_DF2 * std / math.sqrt(3)
    assert cell.n == 3
    assert (cell["mean"], cell["std"]) == pytest.approx((values.mean(), std))
    assert (cell.ci_low, cell.ci_high) == pytest.approx((values.mean() - half, values.mean() + half), rel=1e-6)


def test_comparison_pairs_seeds_and_images(clear_win):
    comparison = read(clear_win, "comparison.csv")
    assert list(comparison.augmentation) == ["none", "none", "flip_crop", "flip_crop", "all", "all"]
    seeds = comparison[(comparison.augmentation == "none") & (comparison.level == "seeds")].iloc[0]
    images = comparison[(comparison.augmentation == "none") & (comparison.level == "images")].iloc[0]
    assert seeds.n == 3 and seeds.p_min == pytest.approx(0.25) and seeds.evidence == "ci_only"
    assert images.n == 8 and images.evidence == "clear"
    # The seed-level difference is the mean over seeds of (candidate - baseline) pooled IoU.
    runs = read(clear_win, "runs.csv").query("augmentation == 'none'")
    by_model = runs.pivot(index="seed", columns="model", values="pooled_iou")
    assert seeds.mean_diff == pytest.approx((by_model.unetpp - by_model.unet).mean())
    # The image-level difference averages each image over seeds first.
    per_image = read(clear_win, "per_image.csv").query("augmentation == 'none'")
    image_means = per_image.pivot_table(index="stem", columns="model", values="iou", aggfunc="mean")
    assert images.mean_diff == pytest.approx((image_means.unetpp - image_means.unet).mean())
    assert images.prob_improvement == pytest.approx(((image_means.unetpp > image_means.unet).mean()))


def test_verdict_reports_a_clear_win(clear_win):
    verdict = json.loads((clear_win.out_dir / "verdict.json").read_text())
    assert verdict["status"] == "candidate_better" and verdict["scope"] == "all"
    assert verdict["sentence"].startswith("unetpp beats unet by +")
    assert [v["augmentation"] for v in verdict["by_augmentation"]] == ["none", "flip_crop", "all"]
    assert verdict["missing_runs"] == [] and verdict["runs_found"] == verdict["runs_expected"] == 12


def test_per_image_and_pruning_tables(clear_win):
    per_image = read(clear_win, "per_image.csv")
    assert len(per_image) == 12 * 8
    assert per_image.stem.str.fullmatch(r"\d{6}_10").all()
    pruning = read(clear_win, "pruning.csv")
    assert len(pruning) == 2 * 5  # augmentations x (accurate, L1..L4), only for the deep-supervised U-Net++
    assert set(pruning.model) == {"unetpp"} and (pruning.n == 3).all()
    l1 = pruning[(pruning.augmentation == "none") & (pruning["mode"] == "L1")].iloc[0]
    speeds = [next(m["images_per_second"] for m in json.loads(
        (clear_win.eval_dir("unetpp", "none", seed) / "metrics.json").read_text())["modes"] if m["mode"] == "L1")
        for seed in clear_win.seeds]
    assert l1.images_per_second == pytest.approx(np.mean(speeds))


def test_plots_and_grids_are_written(clear_win):
    for name in ("iou_by_model", "val_iou_curves", "per_image_scatter", "pruning_speed_iou"):
        with Image.open(clear_win.out_dir / "plots" / f"{name}.png") as image:
            assert min(image.size) > 200
    verdict = json.loads((clear_win.out_dir / "verdict.json").read_text())
    grids = sorted(p.name for p in (clear_win.out_dir / "grids").glob("*.png"))
    assert grids == sorted(f"{aug}_{cat}.png" for aug in ("none", "flip_crop") for cat in ("best", "worst", "differ"))
    assert sorted(g["file"] for g in verdict["grids"]) == grids
    best = next(g for g in verdict["grids"] if g["file"] == "none_best.png")
    assert best["seed"] == 0 and len(best["stems"]) == 2
    per_image = read(clear_win, "per_image.csv").query("augmentation == 'none' and seed == 0")
    mean_iou = per_image.groupby("stem")["iou"].mean()
    assert best["stems"] == list(mean_iou.sort_values(ascending=False).index[:2])


def test_equal_models_are_not_declared_different(tmp_path):
    """Same error on average, but each run draws its own: on the same images one model may look
    better, which retraining (the seeds) does not confirm. No pruned modes: the figure says so."""
    sweep = make_fake_sweep(tmp_path, augmentations=("none",), error_px={"unet": 4.0, "unetpp": 4.0},
                            deep_supervision=False)
    assert main(sweep.aggregate_args(grid_images=1)) == 0
    verdict = json.loads((sweep.out_dir / "verdict.json").read_text())
    assert verdict["status"] in ("within_noise", "within_seed_noise") and verdict["scope"] == "none"
    assert "within noise" in verdict["sentence"] or "within seed noise" in verdict["sentence"]
    assert " beats " not in verdict["sentence"]
    assert read(sweep, "pruning.csv").empty
    assert (sweep.out_dir / "plots" / "pruning_speed_iou.png").stat().st_size > 1000


@pytest.fixture
def small_sweep(tmp_path):
    return make_fake_sweep(tmp_path, augmentations=("none",), seeds=(0, 1), n_images=8)


def test_missing_run_fails_listing_it(small_sweep, capsys):
    (small_sweep.eval_dir("unetpp", "none", 1) / "metrics.json").unlink()
    assert main(small_sweep.aggregate_args()) == 2
    error = capsys.readouterr().err
    assert "1 of 4 expected runs are missing" in error
    assert "unetpp/none/seed1" in error and "metrics.json" in error and "--allow-missing" in error
    assert not (small_sweep.out_dir / "runs.csv").exists()


def test_allow_missing_goes_on_and_records_them(small_sweep):
    shutil.rmtree(small_sweep.eval_dir("unetpp", "none", 1) / "masks")
    assert main([*small_sweep.aggregate_args(), "--allow-missing"]) == 0
    verdict = json.loads((small_sweep.out_dir / "verdict.json").read_text())
    assert verdict["runs_found"] == 3 and verdict["runs_expected"] == 4
    [missing] = verdict["missing_runs"]
    assert (missing["model"], missing["augmentation"], missing["seed"]) == ("unetpp", "none", 1)
    assert missing["missing"] == [str(small_sweep.eval_dir("unetpp", "none", 1) / "masks")]
    summary = read(small_sweep, "summary.csv").query("model == 'unetpp' and metric == 'pooled_iou'").iloc[0]
    assert summary.n == 1 and math.isnan(summary.ci_low) and "one value" in summary.note
    seeds = read(small_sweep, "comparison.csv").query("level == 'seeds'").iloc[0]
    assert seeds.n == 1  # only seed 0 has both models


def test_bad_input_names_the_file(small_sweep, capsys):
    metrics = small_sweep.eval_dir("unet", "none", 0) / "metrics.json"
    metrics.write_text("{not json")
    assert main(small_sweep.aggregate_args()) == 2
    assert str(metrics) in capsys.readouterr().err
    assert main([*small_sweep.aggregate_args(), "--candidate", "nope"]) == 2  # the last --candidate counts
    assert "--candidate 'nope' is not one of --models" in capsys.readouterr().err
