"""results/index.html: one row per experiment with a report, read defensively from its verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path

from segsweep import layout
from segsweep.cli import main
from segsweep.reporting.index import experiments


def _experiment(
    results: Path, name: str, partial: bool = False, verdict: dict | str | None = None, mtime: int = 1_700_000_000
) -> None:
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
    _experiment(
        results,
        "kitti",
        verdict={"decision": "adopt_candidate", "status": "candidate_better", "runs_expected": 30, "runs_found": 30},
        mtime=1_700_000_000,
    )
    _experiment(
        results, "camvid", verdict={"status": "within_noise", "runs_expected": 6, "runs_found": 6}, mtime=1_700_086_400
    )
    _experiment(
        results,
        "failed",
        partial=True,
        verdict={"decision": {"sentence": "<b>keep</b> baseline"}, "runs_expected": 4, "runs_found": 3},
    )
    _experiment(results, "broken", verdict="{not json")
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
