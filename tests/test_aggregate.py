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
from segsweep import layout
from segsweep.cli import main
from segsweep.statistics import stats

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
    runs = read(clear_win, layout.AGGREGATE_TABLES["runs"])
    assert len(runs) == 2 * 2 * 3
    assert {
        "dataset",
        "model",
        "augmentation",
        "split",
        "seed",
        "pooled_iou",
        "per_image_mean_iou",
        "precision",
        "recall",
        "f1",
        "max_f",
        "average_precision",
        "boundary_iou",
        "val_pooled_iou",
        "val_test_gap",
        "mode",
        "mode_chosen_on",
        "training_flops_per_image",
        "n_empty_reference",
        "best_epoch",
        "epochs_run",
        "train_seconds",
        "parameters",
        "images_per_second",
        "precision_policy",
    } <= set(runs.columns)
    row = runs[(runs.model == "unetpp") & (runs.augmentation == "flip_crop") & (runs.seed == 1)].iloc[0]
    metrics = json.loads((clear_win.eval_dir("unetpp", "flip_crop", 1) / layout.METRICS_FILE).read_text())
    info = json.loads((clear_win.run_dir("unetpp", "flip_crop", 1) / "run.json").read_text())
    assert row.pooled_iou == pytest.approx(metrics["pooled"]["iou"])
    assert row.per_image_mean_iou == pytest.approx(metrics["per_image_mean"]["iou"])
    assert row.images_per_second == pytest.approx(metrics["speed"]["images_per_second"])
    assert row.boundary_iou == pytest.approx(metrics["boundary_iou"])
    assert row.val_test_gap == pytest.approx(metrics["val"]["pooled"]["iou"] - metrics["pooled"]["iou"])
    assert (row.best_epoch, row.epochs_run, row.precision_policy) == (info["best_epoch"], info["epochs_run"], "float32")


def test_summary_is_mean_std_and_t_interval_over_seeds(clear_win):
    runs, summary = (
        read(clear_win, layout.AGGREGATE_TABLES["runs"]),
        read(clear_win, layout.AGGREGATE_TABLES["summary"]),
    )
    assert len(summary) == 2 * 2 * 9  # models x augmentations x metrics
    values = runs[(runs.model == "unet") & (runs.augmentation == "none")]["pooled_iou"].to_numpy()
    cell = summary[
        (summary.model == "unet") & (summary.augmentation == "none") & (summary.metric == "pooled_iou")
    ].iloc[0]
    std = math.sqrt(((values - values.mean()) ** 2).sum() / 2)
    half = T_975_DF2 * std / math.sqrt(3)
    assert cell.n == 3
    assert (cell["mean"], cell["std"]) == pytest.approx((values.mean(), std))
    assert (cell.ci_low, cell.ci_high) == pytest.approx((values.mean() - half, values.mean() + half), rel=1e-6)


def test_comparison_covers_every_scope_and_metric(clear_win):
    comparison = read(clear_win, layout.AGGREGATE_TABLES["comparison"])
    assert list(zip(comparison.scope, comparison.metric)) == [
        (scope, metric) for scope in ("none", "flip_crop", "all") for metric in ("pooled_iou", "per_image_iou")
    ]
    assert (
        (comparison.baseline == "unet").all() and (comparison.n_seeds == 3).all() and (comparison.n_images == 8).all()
    )
    # The difference over all augmentations: per seed, pooled IoU averaged over augmentations, then the mean.
    runs = read(clear_win, layout.AGGREGATE_TABLES["runs"])
    per_seed = runs.pivot_table(index="seed", columns="model", values="pooled_iou", aggfunc="mean")
    row = comparison[(comparison.scope == "all") & (comparison.metric == "pooled_iou")].iloc[0]
    assert row.mean_diff == pytest.approx((per_seed.unetpp - per_seed.unet).mean())
    assert row.ci_low < row.mean_diff < row.ci_high and row.decision == "candidate_better"
    # P(improvement) with augmentations as tasks and seeds as runs.
    wins = [
        stats.prob_improvement(
            g.pivot(index="seed", columns="model", values="pooled_iou")[["unetpp"]],
            g.pivot(index="seed", columns="model", values="pooled_iou")[["unet"]],
        )
        for _, g in runs.groupby("augmentation")
    ]
    assert row.prob_improvement == pytest.approx(np.mean(wins))


def test_verdict_reports_a_clear_win(clear_win):
    verdict = json.loads((clear_win.out_dir / layout.VERDICT_FILE).read_text())
    for key in (
        "decision",
        "metric",
        "min_effect",
        "mean_diff",
        "ci_low",
        "ci_high",
        "iqm_diff",
        "iqm_diff_low",
        "iqm_diff_high",
        "prob_improvement",
        "prob_improvement_low",
        "prob_improvement_high",
        "seeds_needed",
        "n_seeds",
        "n_images",
        "n_splits",
        "sentence",
    ):
        assert key in verdict, key
    assert verdict["decision"] == "candidate_better" and verdict["scope"] == "all" and verdict["metric"] == "pooled_iou"
    assert (verdict["n_seeds"], verdict["n_images"], verdict["n_splits"], verdict["min_effect"]) == (3, 8, 1, 0.01)
    assert verdict["resamples"] == 10_000 and verdict["conflicts"] == []
    assert verdict["sentence"].startswith("unetpp vs unet, pooled test IoU (3 seeds x 8 test images): +")
    assert "Verdict: unetpp is better" in verdict["sentence"]
    assert [v["scope"] for v in verdict["by_augmentation"]] == ["none", "flip_crop"]
    assert verdict["secondary"]["metric"] == "per_image_iou"
    assert verdict["missing_runs"] == [] and verdict["runs_found"] == verdict["runs_expected"] == 12


def test_models_table_has_iqm_metrics_and_costs(clear_win):
    models = read(clear_win, layout.AGGREGATE_TABLES["models"]).set_index("model")
    runs = read(clear_win, layout.AGGREGATE_TABLES["runs"])
    unetpp = runs[runs.model == "unetpp"]
    assert models.loc["unetpp", "iqm_pooled_iou"] == pytest.approx(stats.iqm(unetpp.pooled_iou))
    assert models.loc["unetpp", "iqm_low"] < models.loc["unetpp", "iqm_pooled_iou"] < models.loc["unetpp", "iqm_high"]
    assert models.loc["unetpp", "mean_max_f"] == pytest.approx(unetpp.max_f.mean())
    assert models.loc["unetpp", "mean_val_test_gap"] == pytest.approx(
        (unetpp.val_pooled_iou - unetpp.pooled_iou).mean()
    )
    assert models.loc["unetpp", "training_flops_per_image"] == 12e9 and models.loc["unet", "parameters"] == 1_200_000
    assert models.loc["unetpp", "modes_chosen"] == "L4 (6)" and models.loc["unet", "modes_chosen"] == "single (6)"


def test_per_image_and_pruning_tables(clear_win):
    per_image = read(clear_win, layout.AGGREGATE_TABLES["per_image"])
    assert len(per_image) == 12 * 8
    assert per_image.stem.str.fullmatch(r"\d{6}_10").all()
    pruning = read(clear_win, layout.AGGREGATE_TABLES["pruning"])
    assert len(pruning) == 2 * 5  # augmentations x (accurate, L1..L4), only for the deep-supervised U-Net++
    assert set(pruning.model) == {"unetpp"} and (pruning.n == 3).all()
    assert (pruning.val_pooled_iou > pruning.pooled_iou).all()  # the fake runs' val is 3 points above test
    l1 = pruning[(pruning.augmentation == "none") & (pruning["mode"] == "L1")].iloc[0]
    speeds = [
        next(
            m["images_per_second"]
            for m in json.loads((clear_win.eval_dir("unetpp", "none", seed) / layout.METRICS_FILE).read_text())["modes"]
            if m["mode"] == "L1"
        )
        for seed in clear_win.seeds
    ]
    assert l1.images_per_second == pytest.approx(np.mean(speeds))


def assert_drawn(path) -> None:
    """A PNG that decodes, at least 200 pixels each way, with something drawn on its white page."""
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) > 200, (path, image.size)
        pixels = np.asarray(image.convert("L"))
    assert (pixels < 200).mean() > 0.001, f"{path}: blank"


def test_plots_and_grids_are_written(clear_win):
    for name in ("iou_by_model", "score_distribution", "val_iou_curves", "per_image_scatter", "pruning_speed_iou"):
        assert_drawn(clear_win.out_dir / "plots" / f"{name}.png")
    verdict = json.loads((clear_win.out_dir / layout.VERDICT_FILE).read_text())
    grids = sorted(p.name for p in (clear_win.out_dir / "grids").glob("*.png"))
    assert grids == sorted(f"{aug}_{cat}.png" for aug in ("none", "flip_crop") for cat in ("best", "worst", "differ"))
    assert sorted(g["file"] for g in verdict["grids"]) == grids
    best = next(g for g in verdict["grids"] if g["file"] == "none_best.png")
    assert best["seed"] == 0 and len(best["stems"]) == 2
    per_image = read(clear_win, layout.AGGREGATE_TABLES["per_image"]).query(
        "augmentation == 'none' and seed == 0 and split == 0"
    )
    mean_iou = per_image.groupby("stem")["iou"].mean()
    assert best["stems"] == list(mean_iou.sort_values(ascending=False).index[:2])


def test_models_within_the_margin_everywhere_are_equivalent(tmp_path):
    """Same error on average, each run drawing its own. A pooled IoU lies between its images' IoUs, so no
    resampled difference can leave [-spread, spread], spread = max - min per-image IoU over the sweep: with
    a margin above the spread the interval must lie inside it. No pruned modes: the figure says so."""
    sweep = make_fake_sweep(
        tmp_path, augmentations=("none",), error_px={"unet": 4.0, "unetpp": 4.0}, deep_supervision=False
    )
    margin = 0.3
    assert main([*sweep.aggregate_args(grid_images=1), "--min-effect", str(margin)]) == 0
    iou = read(sweep, layout.AGGREGATE_TABLES["per_image"]).iou
    assert iou.max() - iou.min() < margin  # the premise
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    assert (verdict["decision"], verdict["scope"]) == ("equivalent", "none")
    assert -margin < verdict["ci_low"] < verdict["ci_high"] < margin
    assert "Verdict: equivalent, the whole interval lies inside the ±30.0-point margin" in verdict["sentence"]
    assert read(sweep, layout.AGGREGATE_TABLES["pruning"]).empty
    assert_drawn(sweep.out_dir / "plots" / "pruning_speed_iou.png")


def trading_places(tmp_path):
    """An aggregated sweep in which U-Net++ errs by 8 pixels where U-Net errs by 2 on seed 0, and the
    other way round on seed 1."""
    sweep = make_fake_sweep(
        tmp_path,
        augmentations=("none",),
        seeds=(0, 1),
        deep_supervision=False,
        error_px={"unet": {0: 2.0, 1: 8.0}, "unetpp": {0: 8.0, 1: 2.0}},
    )
    assert main(sweep.aggregate_args(grid_images=1)) == 0
    return sweep


def test_models_that_trade_places_between_seeds_are_inconclusive(tmp_path):
    """U-Net++ errs by 8 pixels where U-Net errs by 2 on seed 0, and the other way round on seed 1: the
    seed differences lie on both sides of 0, farther out than the margin, and a resample of seeds draws
    either one twice, so the interval holds 0 and reaches past the margin on both sides."""
    sweep = trading_places(tmp_path)
    runs = read(sweep, layout.AGGREGATE_TABLES["runs"]).pivot(index="seed", columns="model", values="pooled_iou")
    seed_diffs = (runs.unetpp - runs.unet).to_numpy()
    assert seed_diffs[0] < -0.1 and seed_diffs[1] > 0.1  # the premise, with the 0.01 margin far inside
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    assert verdict["decision"] == "inconclusive" and verdict["ci_low"] < -0.01 and verdict["ci_high"] > 0.01
    assert "Verdict: inconclusive, the interval holds 0" in verdict["sentence"]
    assert " is better" not in verdict["sentence"] and " is worse" not in verdict["sentence"]


def test_each_comparison_is_planned_once(tmp_path, monkeypatch):
    """The verdict prices the headline comparison's own plan: no second plan of the same comparison."""
    from segsweep.reporting import plan
    from segsweep.statistics import decision

    planned = []

    def counted(*args, **kwargs):
        planned.append(args)
        return real(*args, **kwargs)

    real = decision.plan_next
    monkeypatch.setattr(decision, "plan_next", counted)
    monkeypatch.setattr(plan, "plan_next", counted)
    sweep = trading_places(tmp_path)
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    assert verdict["decision"] == "inconclusive"  # the premise: a plan to make
    assert len(planned) == len(read(sweep, layout.AGGREGATE_TABLES["comparison"]))
    assert verdict["plan"]["seeds_to_settle"] == verdict["seeds_needed"]


def test_empty_references_splits_and_every_baseline(tmp_path):
    """Two splits, an image without road per split, and a third model: comparisons against each
    baseline; per-image IoU leaves the empty images out and counts them."""
    sweep = make_fake_sweep(
        tmp_path,
        models=("unet", "unet_wide", "unetpp"),
        augmentations=("none",),
        splits=(0, 1),
        seeds=(0, 1),
        n_images=12,
        empty_images=1,
        error_px={"unet": 7.0, "unet_wide": 6.0, "unetpp": 2.0},
        deep_supervision=False,
    )
    assert main([*sweep.aggregate_args(grid_images=1), "--bootstrap-resamples", "2000"]) == 0
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    assert (verdict["n_splits"], verdict["n_seeds"], verdict["baseline"]) == (2, 2, "unet")
    assert [v["baseline"] for v in verdict["by_baseline"]] == ["unet_wide"]
    assert "2 splits x 2 seeds" in verdict["sentence"]
    per_image = read(sweep, layout.AGGREGATE_TABLES["per_image"])
    empty = per_image[per_image.empty_reference]
    assert len(empty) == 3 * 2 * 2 and empty.iou.isna().all()  # models x splits x seeds, one image each
    assert (
        verdict["secondary"]["n_empty_reference"] == 2 and "2 without road left out" in verdict["secondary"]["sentence"]
    )
    runs = read(sweep, layout.AGGREGATE_TABLES["runs"])
    assert (runs.n_empty_reference == 1).all()
    kept = per_image[~per_image.empty_reference].groupby(["model", "split", "seed"]).iou.mean()
    assert runs.set_index(["model", "split", "seed"]).per_image_mean_iou.sort_index().to_numpy() == pytest.approx(
        kept.sort_index().to_numpy()
    )


@pytest.fixture
def small_sweep(tmp_path):
    return make_fake_sweep(tmp_path, augmentations=("none",), seeds=(0, 1), n_images=8)


def test_missing_run_fails_listing_it(small_sweep, capsys):
    (small_sweep.eval_dir("unetpp", "none", 1) / layout.METRICS_FILE).unlink()
    assert main(small_sweep.aggregate_args()) == 2
    error = capsys.readouterr().err
    assert "1 of 4 expected runs are missing" in error
    assert "unetpp/none/split0/seed1" in error and "metrics.json" in error and "--allow-missing" in error
    assert not (small_sweep.out_dir / layout.AGGREGATE_TABLES["runs"]).exists()


def test_allow_missing_goes_on_and_records_them(small_sweep):
    shutil.rmtree(small_sweep.eval_dir("unetpp", "none", 1) / "masks")
    assert main([*small_sweep.aggregate_args(), "--allow-missing"]) == 0
    verdict = json.loads((small_sweep.out_dir / layout.VERDICT_FILE).read_text())
    assert verdict["runs_found"] == 3 and verdict["runs_expected"] == 4
    [missing] = verdict["missing_runs"]
    assert (missing["model"], missing["augmentation"], missing["seed"]) == ("unetpp", "none", 1)
    assert missing["missing"] == [str(small_sweep.eval_dir("unetpp", "none", 1) / "masks")]
    summary = (
        read(small_sweep, layout.AGGREGATE_TABLES["summary"])
        .query("model == 'unetpp' and metric == 'pooled_iou'")
        .iloc[0]
    )
    assert summary.n == 1 and math.isnan(summary.ci_low) and "one value" in summary.note
    verdict_row = read(small_sweep, layout.AGGREGATE_TABLES["comparison"]).iloc[0]
    assert verdict_row.n_seeds == 1  # only seed 0 has both models
    assert "seed variance is unknown with one seed" in verdict_row.seeds_needed_note


def test_bad_input_names_the_file(small_sweep, capsys):
    metrics = small_sweep.eval_dir("unet", "none", 0) / layout.METRICS_FILE
    metrics.write_text("{not json")
    assert main(small_sweep.aggregate_args()) == 2
    assert str(metrics) in capsys.readouterr().err
    assert main([*small_sweep.aggregate_args(), "--candidate", "nope"]) == 2  # the last --candidate counts
    assert "--candidate: 'nope' is not in --models" in capsys.readouterr().err


def test_per_image_without_the_empty_reference_column_names_the_file(small_sweep, capsys):
    path = small_sweep.eval_dir("unet", "none", 1) / "per_image.csv"
    table = pd.read_csv(path, dtype={"stem": str})
    table.drop(columns="empty_reference").to_csv(path, index=False)
    assert main(small_sweep.aggregate_args()) == 2
    assert f"{path}: missing columns empty_reference" in capsys.readouterr().err


def test_no_complete_pair_is_reported_not_compared(small_sweep, tmp_path):
    (small_sweep.eval_dir("unetpp", "none", 0) / layout.METRICS_FILE).unlink()
    (small_sweep.eval_dir("unet", "none", 1) / layout.METRICS_FILE).unlink()
    assert main([*small_sweep.aggregate_args(), "--allow-missing"]) == 0
    verdict = json.loads((small_sweep.out_dir / layout.VERDICT_FILE).read_text())
    assert verdict["decision"] == "no_pairs" and "nothing to compare" in verdict["sentence"]
    out = tmp_path / "report.html"
    assert main(small_sweep.report_args(out)) == 0
    assert "no pairs" in out.read_text(encoding="utf-8")


def test_grids_read_labels_with_the_configured_void_ids(tmp_path, monkeypatch):
    """A config's own dataset.void_ids reach the grids, which paint void pixels grey, as the metrics left them out."""
    from segsweep.data import formats

    seen = []

    def recording_load_pair(fmt, sample, positive_ids=None, void_ids=None, classes=None):
        seen.append(void_ids)
        return load_pair(fmt, sample, positive_ids, void_ids, classes)

    load_pair = formats.load_pair
    monkeypatch.setattr(formats, "load_pair", recording_load_pair)
    sweep = make_fake_sweep(tmp_path, augmentations=("none",))
    assert main([*sweep.aggregate_args(grid_images=1), "--void-ids", "9", "10"]) == 0
    assert seen and all(ids == [9, 10] for ids in seen)
