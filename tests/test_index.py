"""results/index.html: one row per experiment with a report, read defensively from its verdict."""

from __future__ import annotations

import base64
import csv
import json
import math
import os
from pathlib import Path

from PIL import Image

from segsweep import layout
from segsweep.cli import main
from segsweep.layout import forest_files
from segsweep.reporting import cost
from segsweep.reporting.forest import panels
from segsweep.reporting.index import experiments, forest_records
from segsweep.reporting.tables import json_safe
from segsweep.statistics.decision import Comparison
from segsweep.statistics.stats import Estimate


def make_experiment(
    results: Path, name: str, partial: bool = False, verdict: dict | str | None = None, mtime: int = 1_700_000_000
) -> None:
    """An experiment folder as the index sees it: a report (dated `mtime`) and its verdict.json."""
    folder = results / name
    aggregate = layout.aggregate_dir(folder, partial)
    aggregate.mkdir(parents=True)
    if verdict is not None:
        (aggregate / layout.VERDICT_FILE).write_text(verdict if isinstance(verdict, str) else json.dumps(verdict))
    report = layout.report_file(folder, partial)
    report.write_text("<html></html>")
    os.utime(report, (mtime, mtime))


def test_index_lists_each_report_with_date_sweep_size_and_decision(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_experiment(
        results,
        "kitti",
        verdict={"decision": "adopt_candidate", "status": "candidate_better", "runs_expected": 30, "runs_found": 30},
        mtime=1_700_000_000,
    )
    make_experiment(
        results, "camvid", verdict={"status": "within_noise", "runs_expected": 6, "runs_found": 6}, mtime=1_700_086_400
    )
    make_experiment(
        results,
        "failed",
        partial=True,
        verdict={"decision": {"sentence": "<b>keep</b> baseline"}, "runs_expected": 4, "runs_found": 3},
    )
    make_experiment(results, "broken", verdict="{not json")
    (results / "data" / "synthetic").mkdir(parents=True)  # a dataset folder: no report, no row

    rows = {row.name: row for row in experiments(results)}
    assert sorted(rows) == ["broken", "camvid", "failed", "kitti"]
    assert (rows["kitti"].date, rows["kitti"].runs, rows["kitti"].decision) == (
        "2023-11-14 22:13 UTC",
        "30",
        "adopt candidate",
    )
    assert (rows["camvid"].runs, rows["camvid"].decision) == ("6", "within noise")  # no `decision`: the status
    assert (rows["failed"].report, rows["failed"].partial, rows["failed"].runs) == (
        "failed/report-partial.html",
        True,
        "3 of 4",
    )
    assert (rows["broken"].runs, rows["broken"].decision) == ("-", "-")
    assert [row.name for row in experiments(results)][0] == "camvid"  # newest first

    assert main(["index", "--results", str(results)]) == 0
    html = (results / "index.html").read_text()
    assert 'href="kitti/report.html"' in html and 'href="failed/report-partial.html"' in html
    assert "&lt;b&gt;keep&lt;/b&gt; baseline" in html  # escaped, never markup


def test_index_of_a_folder_without_experiments_says_so(tmp_path: Path) -> None:
    assert main(["index", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "index.html")]) == 0
    assert "No experiment" in (tmp_path / "index.html").read_text()


def headline_verdict(
    difference: float,
    low: float,
    high: float,
    metric: str = "pooled_iou",
    baseline: str = "unet",
    dataset: str = "kitti",
    tuning_trials: int = 0,
    **extra,
) -> dict:
    """A verdict.json as aggregate writes it, from the project's own Comparison row and cost block:
    the headline, runs at 0.5 CPU-hours, and `tuning_trials` trials at 0.125 each beside them."""
    interval = Estimate(difference, low, high)
    comparison = Comparison(
        baseline, "unetpp", metric, "all", interval, interval, Estimate(0.7, 0.5, 0.9), 0.01, 1, 3, 8, 0, None, "",
        10_000, 0, df=2.0,
    )  # fmt: skip
    spent = {"device_hours": 0.5, "unit": "cpu_hours", "runs": 12, "known_runs": 12, "sources": ["benchmark"]}
    trials = [cost.RunCost(0.125, "cpu_hours", "benchmark")] * tuning_trials
    tuning = {"tuning": {"trials": tuning_trials, "seeds": [100], "curves_cross": False}} if tuning_trials else {}
    verdict = {
        "dataset": dataset,
        **comparison.as_row(),
        "runs_expected": 12,
        "runs_found": 12,
        "cost": cost.with_tuning(spent, trials or None),
        **tuning,
        **extra,
    }
    return json_safe(verdict)  # an unknown figure is null, as in verdict.json


COMPUTE_MATCHED = {
    "matching": {
        "unet_flops": {
            "match": "flops",
            "reference": "unetpp",
            "label": "FLOPs-matched to unetpp (24 epochs to its 10)",
        }
    }
}


def test_index_is_a_forest_plot_and_table_of_every_verdict(tmp_path: Path) -> None:
    results = tmp_path / "results"
    verdicts = {
        "default": headline_verdict(0.021, 0.008, 0.034),
        "tuned": headline_verdict(0.004, -0.002, 0.009, tuning_trials=6),
        "matched": headline_verdict(-0.003, -0.02, 0.014, baseline="unet_flops", **COMPUTE_MATCHED),
        "roads": headline_verdict(0.05, 0.01, 0.09, metric="iou:road", dataset="camvid"),
        "failed": headline_verdict(0.03, -0.01, 0.07),
        "sequential": headline_verdict(
            0.019,
            0.006,
            0.032,
            sequential={
                "look": 2,
                "last_look": 3,
                "n_seeds": 6,
                "nominal_level": 0.012,
                "estimate": 0.019,
                "low": 0.001,
                "high": 0.037,
                "min_effect": 0.01,
                "decision": "candidate_better",
            },
        ),  # fmt: skip
    }
    old = headline_verdict(0.01, 0.0, 0.02)
    for missing in ("mean_diff_low", "cost", "min_effect"):  # a verdict from an older segsweep
        del old[missing]
    verdicts["old"] = old
    for day, (name, verdict) in enumerate(verdicts.items()):
        make_experiment(results, name, partial=name == "failed", verdict=verdict, mtime=1_700_000_000 + 86_400 * day)

    assert main(["index", "--results", str(results)]) == 0
    files = forest_files(results / "index.html")
    with files["csv"].open(newline="") as table:
        rows = {row["experiment"]: row for row in csv.DictReader(table)}
    assert list(rows) == ["old", "sequential", "failed", "roads", "matched", "tuned", "default"]  # newest first

    def numbers(row: dict, *keys: str) -> tuple:
        return tuple(float(row[key]) if row[key] else None for key in keys)

    figures = ("difference", "low", "high", "level", "margin", "seeds", "test_images", "splits", "device_hours")
    for name in ("default", "tuned", "matched", "roads", "failed"):
        v = verdicts[name]
        expected = (v["mean_diff"], v["mean_diff_low"], v["mean_diff_high"], 0.95, v["min_effect"], 3, 8, 1)
        assert numbers(rows[name], *figures) == (*expected, v["cost"]["total_device_hours"]), name
        assert (rows[name]["metric"], rows[name]["baseline"]) == (v["metric"], v["baseline"])
    assert numbers(rows["tuned"], "device_hours") == (0.5 + 6 * 0.125,)  # the tuning trials counted
    assert rows["tuned"]["tuned"] == "6 trials each" and rows["default"]["tuned"] == ""
    assert rows["matched"]["matched"] == "unet_flops FLOPs-matched to unetpp (24 epochs to its 10)"
    assert rows["failed"]["partial"] == "True" and rows["failed"]["report"] == "failed/report-partial.html"
    # A sequential sweep decided on its last look's repeated interval, so that is its row's.
    sequential = verdicts["sequential"]["sequential"]
    assert numbers(rows["sequential"], "difference", "low", "high", "seeds") == (0.019, 0.001, 0.037, 6)
    assert abs(float(rows["sequential"]["level"]) - (1 - sequential["nominal_level"])) < 1e-12
    assert rows["sequential"]["sequential"] == "look 2 of at most 3"
    # What the old verdict lacks is empty, and it gets no point: no interval.
    assert numbers(rows["old"], "difference", "low", "margin", "device_hours") == (0.01, None, None, None)

    records = [r for r in forest_records(experiments(results)) if r["experiment"] != "old"]
    assert {metric: [r["experiment"] for r in rows] for metric, rows in panels(records).items()} == {
        "pooled_iou": ["sequential", "failed", "matched", "tuned", "default"],
        "iou:road": ["roads"],
    }

    html = (results / "index.html").read_text()
    png = files["png"].read_bytes()
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in html  # this very figure, embedded
    with Image.open(files["png"]) as image:
        assert image.size[0] > 0 and image.size[1] > image.size[0] / 2  # two panels of rows
    assert 'href="index-forest.csv"' in html and "Rows are never pooled" in html
    for name, row in rows.items():
        assert f'href="{row["report"]}"' in html and (results / row["report"]).is_file()
    assert "pooled test IoU" in html and "test IoU of class road" in html
    assert "tuned: 6 trials each" in html and "1.25 CPU-hours" in html and "+2.1" in html
    assert "sequential: look 2 of at most 3" in html and "(98.80%)" in html


def test_index_without_intervals_draws_no_figure(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_experiment(results, "one_seed", verdict=headline_verdict(0.02, math.nan, math.nan))
    files = forest_files(results / "index.html")
    files["png"].parent.mkdir(parents=True, exist_ok=True)
    files["png"].write_bytes(b"an earlier index's figure")
    assert main(["index", "--results", str(results)]) == 0
    assert not files["png"].exists()  # removed, not left to stand for these rows
    html = (results / "index.html").read_text()
    assert "<img" not in html and "No experiment has a difference with an interval" in html
