"""results/index.html: every experiment's headline verdict side by side, as a table and a forest plot.

The Snakefile runs this after every successful Snakemake run; by hand:
  python -m segsweep index --results results --out results/index.html
An experiment is a folder results/<name>/ that holds report.html (or only report-partial.html,
listed as partial). Its row comes from <name>/aggregate/verdict.json (aggregate-partial/ for a
partial report) and nothing else: the index never retrains or re-aggregates, so it is as cheap to
rebuild as it is to read. The verdict is read defensively: a verdict from another segsweep
version, or none, leaves the fields it lacks as "-" (and the row without a point in the plot)
rather than failing the index of every other experiment.

Beside the page (segsweep.reporting.forest): the forest plot as INDEX-forest.png, which the page
embeds, and its data as INDEX-forest.csv, one row per experiment, to re-plot it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from segsweep import layout
from segsweep.data.staging import staged_file
from segsweep.reporting.cost import unit_name


@dataclass(frozen=True)
class Headline:
    """An experiment's headline comparison, candidate minus baseline, as its verdict.json states
    it; None (or "" for a condition) where the verdict lacks a field.

    A sequential sweep decided on its last look's repeated interval, not the fixed-sample 95% one
    its verdict also holds, so its row shows the look's interval and level, as its report does."""

    dataset: str | None = None
    metric: str | None = None
    baseline: str | None = None
    candidate: str | None = None
    difference: float | None = None  # IoU units
    low: float | None = None
    high: float | None = None
    level: float | None = None  # the confidence of [low, high]
    margin: float | None = None  # report.min_effect: differences inside +-margin do not matter
    seeds: int | None = None
    test_images: int | None = None
    splits: int | None = None
    tuned: str = ""  # e.g. "6 trials each"
    matched: str = ""  # e.g. "unet_flops FLOPs-matched to unetpp (24 epochs to its 10)"
    sequential: str = ""  # e.g. "look 2 of at most 3"
    device_hours: float | None = None  # what the decision cost, its tuning trials included
    cost_unit: str | None = None  # runs.csv's cost_unit (gpu_hours, cpu_hours), or "mixed"

    @property
    def plotted(self) -> bool:
        """Whether the forest plot draws this row: only with an interval, never a bare point."""
        return None not in (self.difference, self.low, self.high)

    @property
    def conditions(self) -> list[str]:
        """What the verdict holds under, beside its dataset: its tuning, matching, sequential looks
        and splits (segsweep.reporting.conditions says the same in the verdict sentence)."""
        found = [
            f"tuned: {self.tuned}" if self.tuned else "",
            self.matched,
            f"sequential: {self.sequential}" if self.sequential else "",
            f"{self.splits} splits" if (self.splits or 1) > 1 else "",
        ]
        return [condition for condition in found if condition]

    @property
    def cost(self) -> str:
        return "-" if self.device_hours is None else f"{self.device_hours:.2f} {unit_name(self.cost_unit or '')}"


@dataclass
class Experiment:
    name: str
    report: str  # relative to the index
    partial: bool
    date: str
    runs: str
    decision: str
    headline: Headline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="folder of the experiments (default results)"
    )
    parser.add_argument("--out", type=Path, default=None, help="index file (default RESULTS/index.html)")


def _read_verdict(path: Path) -> dict:
    try:
        verdict = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return verdict if isinstance(verdict, dict) else {}


def _decision(verdict: dict) -> str:
    """The verdict's `decision` (a sentence or a record with one), else its headline status."""
    decision = verdict.get("decision", verdict.get("status"))
    if isinstance(decision, dict):
        decision = next((decision[k] for k in ("sentence", "label", "status", "decision") if k in decision), None)
    return str(decision).replace("_", " ") if decision not in (None, "") else "-"


def _sweep_size(verdict: dict) -> str:
    expected, found = verdict.get("runs_expected"), verdict.get("runs_found")
    if expected is None:
        return "-"
    return f"{expected}" if found in (None, expected) else f"{found} of {expected}"


def _block(record: dict, key: str) -> dict:
    """A nested record of the verdict (tuning, matching, sequential, cost), {} where absent or not one."""
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _number(record: dict, key: str) -> float | None:
    """A finite number of the record, else None: verdict.json writes an unknown figure as null."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _text(record: dict, key: str) -> str | None:
    value = record.get(key)
    return str(value) if value not in (None, "") else None


def _cost(verdict: dict) -> tuple[float | None, str | None]:
    """The decision's device-hours with its tuning trials (cost.with_tuning's total_device_hours).
    A verdict from before the tuning trials were priced has only the runs' device_hours: that is
    the total where the sweep was not tuned, and unknown where it was."""
    cost = _block(verdict, "cost")
    if "total_device_hours" in cost:
        hours = _number(cost, "total_device_hours")
    else:
        hours = None if "tuning" in verdict else _number(cost, "device_hours")
    units = {unit for unit in (cost.get("unit"), cost.get("tuning_unit")) if unit is not None}
    return hours, (units.pop() if len(units) == 1 else "mixed" if units else None)


def _matched(verdict: dict) -> str:
    """Each compared model's matching, in the words of the report's models table."""
    matching = _block(verdict, "matching")
    compared = [verdict.get("baseline"), verdict.get("candidate")]
    return "; ".join(
        f"{model} {matching[model]['label']}"
        for model in compared
        if isinstance(matching.get(model), dict) and matching[model].get("label")
    )


def _sequential(record: dict) -> str:
    look, last = record.get("look"), record.get("last_look")
    return f"look {look} of at most {last}" if look and last else "sequential"


def headline(verdict: dict) -> Headline:
    """The verdict's headline comparison, with what it is conditional on and what it cost."""
    sequential = _block(verdict, "sequential")
    if sequential:
        decided, keys = sequential, ("estimate", "low", "high")
        nominal = _number(sequential, "nominal_level")
        level = None if nominal is None else 1 - nominal
    else:  # the fixed-sample rule's Student-t interval (segsweep.statistics.decision)
        decided, keys, level = verdict, ("mean_diff", "mean_diff_low", "mean_diff_high"), 0.95
    difference, low, high = (_number(decided, key) for key in keys)
    trials = _block(verdict, "tuning").get("trials")
    hours, unit = _cost(verdict)
    return Headline(
        dataset=_text(verdict, "dataset"),
        metric=_text(verdict, "class_metric") if verdict.get("class_metric") else _text(verdict, "metric"),
        baseline=_text(verdict, "baseline"),
        candidate=_text(verdict, "candidate"),
        difference=difference,
        low=low,
        high=high,
        level=level,
        margin=_number(decided, "min_effect"),
        seeds=_number(decided, "n_seeds"),
        test_images=_number(verdict, "n_images"),
        splits=_number(verdict, "n_splits"),
        tuned=f"{trials} trials each" if trials else "",
        matched=_matched(verdict),
        sequential=_sequential(sequential) if sequential else "",
        device_hours=hours,
        cost_unit=unit,
    )


def experiments(results: Path) -> list[Experiment]:
    """Every experiment with a report, newest report first."""
    found = []
    for folder in sorted(p for p in results.iterdir() if p.is_dir()) if results.is_dir() else []:
        for partial in (False, True):  # the full report first
            path = layout.report_file(folder, partial)
            if path.is_file():
                verdict = _read_verdict(layout.aggregate_dir(folder, partial) / layout.VERDICT_FILE)
                modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
                found.append(
                    Experiment(
                        name=folder.name,
                        report=f"{folder.name}/{path.name}",
                        partial=partial,
                        date=modified.strftime("%Y-%m-%d %H:%M UTC"),
                        runs=_sweep_size(verdict),
                        decision=_decision(_block(verdict, "sequential") or verdict),
                        headline=headline(verdict),
                    )
                )
                break  # the full report, when there is one, stands for the experiment
    return sorted(found, key=lambda e: e.date, reverse=True)


FOREST_COLUMNS = ("experiment", "report", "partial", "decision", *(f.name for f in fields(Headline)))


def forest_records(rows: list[Experiment]) -> list[dict]:
    """The forest plot's data, one record per experiment in FOREST_COLUMNS: what the CSV beside the
    index holds and what segsweep.reporting.forest draws, so that the CSV re-plots the figure."""
    return [
        {"experiment": e.name, "report": e.report, "partial": e.partial, "decision": e.decision, **asdict(e.headline)}
        for e in rows
    ]


def render(rows: list[Experiment], forest_src: str | None, files: dict[str, Path]) -> str:
    from segsweep.reporting.forest import metric_label
    from segsweep.reporting.report import fmt, interval, points, template

    return template("index.html").render(
        experiments=rows,
        forest_src=forest_src,
        forest_files={kind: path.name for kind, path in files.items()},
        metric_label=metric_label,
        fmt=fmt,
        interval=interval,
        points=points,
    )


def write_forest(rows: list[Experiment], files: dict[str, Path]) -> str | None:
    """Write the forest plot's CSV and PNG; return the PNG as a data URI for the page, None where no
    row has an interval (a PNG left from an earlier index is removed rather than left to mislead).

    The page embeds the PNG it wrote rather than linking to the file: two Snakemakes finishing at
    once each stage their own files, and a page never shows the other one's figure."""
    from segsweep.reporting import forest
    from segsweep.reporting.report import data_uri

    records = forest_records(rows)
    with staged_file(files["csv"]) as staging, staging.open("w", newline="", encoding="utf-8") as table:
        writer = csv.DictWriter(table, fieldnames=FOREST_COLUMNS)
        writer.writeheader()
        writer.writerows(records)
    plotted = [record for record, e in zip(records, rows) if e.headline.plotted]
    if not plotted:
        files["png"].unlink(missing_ok=True)
        return None
    with staged_file(files["png"]) as staging:
        forest.draw(plotted, staging)
        return data_uri(staging)


def run(args: argparse.Namespace) -> int:
    out = args.out or args.results / layout.INDEX.name
    rows = experiments(args.results)
    files = layout.forest_files(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    forest_src = write_forest(rows, files)
    with staged_file(out) as staging:  # two Snakemakes finishing at once never leave a torn index
        staging.write_text(render(rows, forest_src, files), encoding="utf-8")
    plotted = sum(e.headline.plotted for e in rows)
    print(f"wrote {out}: {len(rows)} experiment(s), {plotted} with an interval in {files['png'].name}")
    return 0
