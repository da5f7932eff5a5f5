"""results/index.html: every experiment under results/ with its report, date, sweep size and decision.

The Snakefile runs this after every successful Snakemake run; by hand:
  python -m segsweep index --results results --out results/index.html
An experiment is a folder results/<name>/ that holds report.html (or only report-partial.html,
listed as partial). Its row comes from <name>/aggregate/verdict.json (aggregate-partial/ for a
partial report), read defensively: a verdict from another segsweep version, or none, leaves the
fields it lacks as "-" rather than failing the index of every other experiment.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from segsweep import layout
from segsweep.data.staging import staged_file


@dataclass
class Experiment:
    name: str
    report: str  # relative to the index
    partial: bool
    date: str
    runs: str
    decision: str


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
                        decision=_decision(verdict),
                    )
                )
                break  # the full report, when there is one, stands for the experiment
    return sorted(found, key=lambda e: e.date, reverse=True)


def render(rows: list[Experiment]) -> str:
    from segsweep.reporting.report import template

    return template("index.html").render(experiments=rows)


def run(args: argparse.Namespace) -> int:
    out = args.out or args.results / layout.INDEX.name
    rows = experiments(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    with staged_file(out) as staging:  # two Snakemakes finishing at once never leave a torn index
        staging.write_text(render(rows), encoding="utf-8")
    print(f"wrote {out}: {len(rows)} experiment(s)")
    return 0
