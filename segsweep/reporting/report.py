"""Write the sweep's report as one self-contained HTML file.

Reads EXP/aggregate/ (verdict.json, runs.csv, summary.csv, models.csv, comparison.csv, pruning.csv,
plots/*.png, grids/*.png; class_iou.csv where verdict.json has `classes`) of the experiment folder
EXP and the training jobs' Snakemake benchmark files
EXP/benchmarks/train/MODEL/AUG/splitSPLIT/seedSEED.tsv (wall time and peak memory; shown as "-"
for runs made without Snakemake). Images are embedded as data URIs and the stylesheet is inline,
so the file opens from disk with no server, and its Content-Security-Policy forbids any request.
Every name and string from the config or the files goes through jinja2's autoescaping.
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

from segsweep import layout
from segsweep.errors import UserError
from segsweep.hardware import cpu_model
from segsweep.reporting.classes import CLASS_IOU_COLUMNS, IOU, MIOU
from segsweep.reporting.cost import unit_name
from segsweep.reporting.runs import read_csv, read_json
from segsweep.statistics.bootstrap import FEW_SEEDS
from segsweep.statistics.decision import IQM_NAME

REPO = Path(__file__).resolve().parents[2]
REPORT_PACKAGES = ("segsweep", "numpy", "pandas", "scipy", "matplotlib", "seaborn", "jinja2", "snakemake")
DECISION_LABELS = {
    "candidate_better": "candidate better",
    "candidate_worse": "candidate worse",
    "equivalent": "equivalent",
    "inconclusive": "inconclusive",
    "no_pairs": "no pairs",
}


def add_arguments(parser) -> None:
    parser.add_argument(
        "--results", type=Path, required=True, help="the experiment folder EXP (aggregate/, benchmarks/ inside)"
    )
    parser.add_argument("--dataset", help="the dataset's label in the title (default: verdict.json's)")
    parser.add_argument("--config-json", required=True, help="the workflow config as JSON, shown as provenance")
    parser.add_argument("--out", type=Path, required=True, help="HTML file to write")
    parser.add_argument("--aggregate-dir", type=Path, help="what `segsweep aggregate` wrote (default EXP/aggregate)")


def fmt(value, spec: str = ".3f") -> str:
    """A number for a table cell; NaN and None become "-"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def points(value) -> str:
    """An IoU difference as signed percentage points."""
    return fmt(None if value is None else 100 * value, "+.1f")


def data_uri(path: Path) -> str:
    try:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as error:
        raise UserError(f"{path}: cannot read image: {error.strerror}") from None


def is_wide(path: Path) -> bool:
    """Figures much wider than tall (a row of panels) get the page's full width."""
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
    return width > 2.2 * height


def read_benchmark(path: Path) -> dict:
    """Wall seconds and peak RSS (MB) of a Snakemake benchmark file; empty if the file is absent."""
    if not path.exists():
        return {}
    try:
        table = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read benchmark TSV: {error}") from None
    if not {"s", "max_rss"} <= set(table.columns):
        raise UserError(f"{path}: not a Snakemake benchmark file (no 's' and 'max_rss' columns)")
    return {"seconds": table["s"].sum(), "max_rss_mb": table["max_rss"].max()}


def git_commit() -> str:
    """HEAD of the checkout the code runs from, marked when it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in REPORT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def plus_minus(std: float) -> str:
    """'± 0.013' beside a mean; nothing where one run leaves no spread."""
    return f"± {fmt(std)}" if not math.isnan(std) else ""


def iou_table(summary: pd.DataFrame) -> dict:
    """Pooled-IoU cells per model (rows) and augmentation (columns)."""
    pooled = summary[summary["metric"] == "pooled_iou"]
    augmentations = list(dict.fromkeys(pooled["augmentation"]))
    cells: dict[str, dict[str, dict]] = {}
    for row in pooled.itertuples():
        cells.setdefault(row.model, {})[row.augmentation] = {
            "mean": fmt(row.mean),
            "std": plus_minus(row.std),
            "ci": f"95% CI {fmt(row.ci_low)} to {fmt(row.ci_high)}" if not math.isnan(row.ci_low) else "no CI",
            "n": row.n,
        }
    return {"augmentations": augmentations, "rows": cells}


def interval(low, high, spec: str = "+.1f", scale: float = 100) -> str:
    """'+0.8 to +3.4' (IoU points by default); '-' without an interval."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return "-"
    return f"{format(scale * low, spec)} to {format(scale * high, spec)}"


def comparison_rows(comparison: pd.DataFrame) -> list[dict]:
    from segsweep.statistics.decision import METRIC_NAMES

    return [
        {
            "baseline": row.baseline,
            "scope": row.scope,
            "metric": METRIC_NAMES.get(row.metric, row.metric),
            "design": f"{row.n_seeds} x {row.n_images}" + (f" x {row.n_splits} splits" if row.n_splits > 1 else ""),
            "diff": points(row.mean_diff),
            "ci": interval(row.mean_diff_low, row.mean_diff_high),
            "iqm": f"{points(row.iqm_diff)} ({interval(row.iqm_diff_low, row.iqm_diff_high)})",
            "prob": f"{fmt(row.prob_improvement, '.2f')} ({interval(row.prob_improvement_low, row.prob_improvement_high, '.2f', 1)})",
            "decision": row.decision,
            "decision_label": DECISION_LABELS.get(row.decision, row.decision),
            "seeds_needed": fmt(row.seeds_needed, ".0f") if row.decision == "inconclusive" else "",
        }
        for row in comparison.itertuples()
    ]


def class_table(table: pd.DataFrame, names: list[str], colours: list[str]) -> dict:
    """Per-class IoU cells of class_iou.csv: classes (in the runs' order) as rows, then mIoU (no
    colour), and models as columns; a cell is None where the table has no row for it."""
    cells = {
        (row["model"], row["metric"], row["class"] if row["metric"] == IOU else None): {
            "mean": fmt(row["mean"]),
            "std": plus_minus(row["std"]),
            "n": row["n"],
        }
        for row in table.rename(columns={"sd": "std"}).to_dict("records")
    }
    models = list(dict.fromkeys(table["model"]))
    return {
        "models": models,
        "rows": [
            *(
                {"name": name, "colour": colour, "cells": [cells.get((m, IOU, name)) for m in models]}
                for name, colour in zip(names, colours)
            ),
            {"name": "mIoU", "colour": None, "cells": [cells.get((m, MIOU, None)) for m in models]},
        ],
    }


def class_context(agg: Path, verdict: dict) -> dict | None:
    """The per-class section and the grids' legend of a multi-class sweep (verdict.json's
    `classes`, segsweep.reporting.classes); None for binary road, whose report shows neither."""
    found = verdict.get("classes")
    if found is None:
        return None
    from segsweep.reporting.plots import CONFUSION_CAPTION

    table = read_csv(agg / layout.CLASS_IOU_FILE, CLASS_IOU_COLUMNS, dtype={"model": str, "class": str}, na_values=[""])
    colours = ["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in found["colours"]]
    return {
        "focus": found["focus"],
        "legend": [{"name": name, "colour": colour} for name, colour in zip(found["names"], colours)],
        "table": class_table(table, found["names"], colours),
        "heatmaps": [
            {
                "model": model,
                "caption": CONFUSION_CAPTION.format(model=model, runs=runs),
                "src": data_uri(layout.plot_file(agg, layout.confusion_plot(model))),
            }
            for model, runs in found["confusion_runs"].items()
        ],
    }


def run_cost(hours: float, unit: str) -> str:
    """'0.014 CPU-h' per run; 'unknown' where a run's time was not recorded."""
    short = unit_name(unit).replace("hours", "h")
    return "unknown" if pd.isna(hours) else f"{hours:.3g} {short}"


def model_rows(models: pd.DataFrame) -> list[dict]:
    return [
        {
            "model": row.model,
            "n": row.n_runs,
            "iqm": fmt(row.iqm_pooled_iou),
            "iqm_ci": interval(row.iqm_low, row.iqm_high, ".3f", 1),
            "pooled_iou": fmt(row.mean_pooled_iou),
            "per_image_iou": fmt(row.mean_per_image_mean_iou),
            "max_f": fmt(row.mean_max_f),
            "ap": fmt(row.mean_average_precision),
            "boundary_iou": fmt(row.mean_boundary_iou),
            "val_iou": fmt(row.mean_val_pooled_iou),
            "gap": points(row.mean_val_test_gap),
            "parameters": fmt(row.parameters, ",.0f"),
            "gflops": fmt(row.training_flops_per_image / 1e9, ",.1f"),
            "epochs": fmt(row.epochs_run, ".1f"),
            "total_gflops": fmt(row.training_flops_per_image_x_epochs / 1e9, ",.0f"),
            "matching": row.matching if isinstance(row.matching, str) else "",  # an empty cell reads back as NaN
            "cost": run_cost(row.device_hours_per_run, row.cost_unit),
            "modes": row.modes_chosen,
            "chosen_on": row.mode_chosen_on,
            "empty": fmt(row.n_empty_reference, ".0f"),
        }
        for row in models.itertuples()
    ]


def run_rows(runs: pd.DataFrame, results: Path) -> list[dict]:
    rows = []
    for run in runs.itertuples():
        bench = read_benchmark(
            layout.benchmark_file(results, "train", layout.run_path(run.model, run.augmentation, run.split, run.seed))
        )
        rows.append(
            {
                "model": run.model,
                "augmentation": run.augmentation,
                "split": run.split,
                "seed": run.seed,
                "pooled_iou": fmt(run.pooled_iou),
                "val_iou": fmt(run.val_pooled_iou),
                "per_image_iou": fmt(run.per_image_mean_iou),
                "max_f": fmt(run.max_f),
                "ap": fmt(run.average_precision),
                "boundary_iou": fmt(run.boundary_iou),
                "mode": run.mode,
                "epochs": f"{run.best_epoch} / {run.epochs_run}",
                "train_time": fmt(run.train_seconds, ".0f"),
                "parameters": fmt(run.parameters, ","),
                "speed": fmt(run.images_per_second, ".1f"),
                "precision_policy": run.precision_policy,
                "device": run.device_type if isinstance(run.device_type, str) else "-",
                "wall": fmt(bench.get("seconds"), ".0f"),
                "max_rss": fmt(bench.get("max_rss_mb"), ",.0f"),
                "attempts": fmt(run.attempts, ".0f"),
            }
        )
    return rows


def context(results: Path, dataset: str | None, config_json: str, agg: Path | None = None) -> dict:
    """Everything the template shows, as display-ready strings and lists."""
    from segsweep.statistics.decision import METRIC_NAMES

    agg = agg or layout.aggregate_dir(results)
    verdict = read_json(agg / layout.VERDICT_FILE)
    dataset = dataset or verdict.get("dataset", results.name)
    runs = read_csv(
        agg / layout.AGGREGATE_TABLES["runs"], ("model", "augmentation", "seed", "pooled_iou", "precision_policy")
    )
    summary = read_csv(
        agg / layout.AGGREGATE_TABLES["summary"],
        ("model", "augmentation", "metric", "n", "mean", "std", "ci_low", "ci_high"),
    )
    comparison = read_csv(
        agg / layout.AGGREGATE_TABLES["comparison"], ("baseline", "scope", "metric", "mean_diff", "decision")
    )
    models = read_csv(agg / layout.AGGREGATE_TABLES["models"], ("model", "iqm_pooled_iou", "iqm_low", "iqm_high"))
    pruning = read_csv(agg / layout.AGGREGATE_TABLES["pruning"], ("model", "augmentation", "mode"))
    try:
        config = json.loads(config_json)
    except ValueError as error:
        raise UserError(f"--config-json is not valid JSON: {error}") from None
    version_columns = [c for c in runs.columns if c.startswith("version_")]
    return {
        "dataset": dataset,
        "verdict": verdict,
        "decision_label": DECISION_LABELS.get(verdict.get("decision"), verdict.get("decision")),
        "decision_labels": DECISION_LABELS,
        "metric_name": METRIC_NAMES.get(verdict.get("metric"), verdict.get("metric")),  # as comparison_rows names it
        "few_seeds": FEW_SEEDS,
        "iqm_name": IQM_NAME,
        "points": points,
        "interval": interval,
        "models": model_rows(models),
        "iou": iou_table(summary),
        "comparison": comparison_rows(comparison),
        "plots": [
            {
                "name": name,
                "caption": plot_caption(name, verdict),
                "src": data_uri(layout.plot_file(agg, name)),
                "wide": is_wide(layout.plot_file(agg, name)),
            }
            for name in layout.plot_names("tuning" in verdict)
        ],
        "grids": [
            {**grid, "src": data_uri(agg / layout.GRIDS_DIR / grid["file"])} for grid in verdict.get("grids", [])
        ],
        "pruning": pruning.to_dict("records"),
        "classes": class_context(agg, verdict),
        "runs": run_rows(runs, results),
        "precisions": list(dict.fromkeys(runs["precision_policy"].astype(str))),
        "provenance": {
            "commit": git_commit(),
            "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "report_host": f"{platform.node()}: {cpu_model()}, {os.cpu_count()} logical cores",
            "devices": list(
                dict.fromkeys(f"{r.host}: {r.device_type} {r.device_name}" + isa_note(r) for r in runs.itertuples())
            ),
            "train_versions": {
                c.removeprefix("version_"): ", ".join(map(str, runs[c].dropna().unique())) for c in version_columns
            },
            "report_versions": package_versions(),
            "config": json.dumps(config, indent=2, sort_keys=False),
        },
        "fmt": fmt,
    }


def plot_caption(name: str, verdict: dict) -> str:
    """A figure's caption; the tuning curves' says whether this sweep's curves cross."""
    from segsweep.reporting.plots import CAPTIONS

    if name != layout.TUNING_PLOT:
        return CAPTIONS[name]
    crossing = "cross" if verdict["tuning"]["curves_cross"] else "do not cross"
    return f"{CAPTIONS[name]} Here {verdict['baseline']}'s and {verdict['candidate']}'s curves {crossing}."


def isa_note(run) -> str:
    """ ", oneDNN ISA avx2" where run.json recorded it: same seed and ISA give the same bits."""
    isa = getattr(run, "isa", None)
    return f", oneDNN ISA {isa}" if isinstance(isa, str) else ""


def template(name: str):
    """A page template of segsweep/reporting/templates/: autoescaped, and strict, so that a missing
    value fails the step instead of leaving a gap in the page."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("segsweep.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(name)


def render(ctx: dict) -> str:
    return template("report.html").render(**ctx)


def run(args) -> int:
    html = render(context(args.results, args.dataset, args.config_json, args.aggregate_dir))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(html, encoding="utf-8")
    print(f"wrote {args.out} ({len(html) / 1e6:.1f} MB)")
    return 0
