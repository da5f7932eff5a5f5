"""Tables, statistics, plots and mask grids over every run of one experiment.

Reads each expected run, the full cross product of --models x --augmentations x --splits x
--seeds, from EXP/runs/MODEL/AUG/splitSPLIT/seedSEED/ (run.json, history.csv) and
EXP/eval/MODEL/AUG/splitSPLIT/seedSEED/ (metrics.json, per_image.csv, masks/), plus the split
manifest EXP/splits/splitSPLIT.csv of the first split for the grids' images. A missing run stops
the command with a list of what is missing, so that a mean is never silently taken over fewer
seeds; --allow-missing goes on and records them in verdict.json["missing_runs"].

Writes to --out-dir: runs.csv (one row per run), summary.csv (per model x augmentation x metric
over runs: n, mean, std, 95% t-interval), models.csv (per model: IQM of pooled IoU with its
stratified-bootstrap interval, MaxF, AP, Boundary IoU, val-vs-test gap, parameters, training FLOPs,
epochs, what the model was matched to, the inference mode chosen on val), comparison.csv (the
candidate against every other model, per augmentation and over all of them, on both metrics),
per_image.csv, pruning.csv (U-Net++ inference modes, val and test), verdict.json (the headline and
its numbers, with what it is conditional on: tuning, matching; its cost counts the tuning trials
too, found beside each --tuning chosen.json), plots/*.png and grids/*.png.

The headline is the candidate against --baseline, over all augmentations, on --metric
(segsweep.reporting.comparisons). Grids show, per augmentation, the
first seed of --seeds in the first split for which both models have a run: the K test images with
the highest and lowest IoU (mean of the two models) and the K where the two models differ most.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from segsweep import layout
from segsweep.data.folder import add_folder_argument, format_from_args
from segsweep.errors import UserError
from segsweep.reporting import cost
from segsweep.reporting.classes import add_classes_argument, class_fields, classes_from_args
from segsweep.reporting.comparisons import DecisionSettings, comparisons, headline, verdict_fields
from segsweep.reporting.conditions import conditional_sentence
from segsweep.reporting.grids import GridSettings
from segsweep.reporting.matching import matching_fields
from segsweep.reporting.plan import describe as describe_plan
from segsweep.reporting.plan import next_decision, seed_cost
from segsweep.reporting.runs import Sweep, Tables, load_runs, read_json, split_complete
from segsweep.reporting.tables import image_pairs, json_safe, model_table, pruning, summarize
from segsweep.reporting.tuning import trial_runs, tuning_fields
from segsweep.statistics.bootstrap import CLASS_METRICS, METRICS
from segsweep.statistics.decision import ROW_COLUMNS, Comparison


def decision_metric(metric: str) -> str:
    """A ``report.metric``, checked: the bootstrap's metrics, or ``iou:<class>``."""
    if metric not in METRICS + CLASS_METRICS and not metric.startswith("iou:"):
        raise argparse.ArgumentTypeError(f"{metric!r} is not one of {', '.join(METRICS + CLASS_METRICS)}, iou:<class>")
    return metric


def add_sweep_arguments(parser) -> None:
    """The sweep and how its verdict is decided: the flags of every step that compares runs."""
    parser.add_argument(
        "--results", type=Path, required=True, help="the experiment folder EXP (runs/, eval/, splits/ inside)"
    )
    parser.add_argument("--dataset", help="the dataset's label in tables and the report (default: EXP's name)")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--augmentations", nargs="+", required=True)
    parser.add_argument("--splits", nargs="+", type=int, default=[0], help="split indices (default 0)")
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--baseline", required=True, help="model of the headline comparison (e.g. unet)")
    parser.add_argument(
        "--candidate", required=True, help="model compared with the baseline and with every other model (e.g. unetpp)"
    )
    parser.add_argument(
        "--metric",
        type=decision_metric,
        default="pooled_iou",
        help="primary metric of the decision: pooled_iou (default), per_image_iou, or with classes miou or "
        "iou:<class> (the focus class's pooled IoU, which the runs' road columns hold); another is the secondary view",
    )
    parser.add_argument(
        "--min-effect",
        type=float,
        default=0.01,
        help="smallest difference that matters, in IoU units (default 0.01 = 1 IoU point)",
    )
    parser.add_argument("--bootstrap-resamples", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.add_argument(
        "--tuning",
        nargs="*",
        type=Path,
        default=[],
        help="each model's tune/MODEL/chosen.json, where the sweep was tuned: its trials' cost, and the tuning curves",
    )


def add_arguments(parser) -> None:
    add_sweep_arguments(parser)
    add_classes_argument(parser)
    parser.add_argument("--grid-images", type=int, default=2, help="images per grid category (default 2)")
    parser.add_argument("--format", default="kitti_semantics", help="dataset format, to read grid images")
    add_folder_argument(parser)
    parser.add_argument(
        "--positive-ids",
        nargs="*",
        type=int,
        default=None,
        help="label IDs that mean road; none given: the format's own (7 for KITTI)",
    )
    parser.add_argument(
        "--void-ids",
        nargs="*",
        type=int,
        default=None,
        help="label IDs that are void, grey in the grids; none given: the format's own",
    )
    parser.add_argument("--allow-missing", action="store_true", help="go on without missing runs, listing them")
    parser.add_argument(
        "--looks",
        nargs="*",
        type=Path,
        default=[],
        help="a sequential sweep's look records (look1.json ...): the last one is the verdict",
    )
    parser.add_argument("--out-dir", type=Path, required=True)


def sweep_from_args(args) -> Sweep:
    return Sweep(
        results=args.results,
        dataset=args.dataset or args.results.resolve().name,
        models=tuple(args.models),
        augmentations=tuple(args.augmentations),
        splits=tuple(args.splits),
        seeds=tuple(args.seeds),
        baseline=args.baseline,
        candidate=args.candidate,
    )


def decision_from_args(args) -> DecisionSettings:
    # iou:<class> is the pooled IoU of the focus class, which segsweep.data.task made that class, so
    # its runs' road columns hold it; verdict.json keeps the class's name beside it (class_metric).
    class_metric = args.metric if args.metric.startswith("iou:") else None
    return DecisionSettings(
        metric="pooled_iou" if class_metric else args.metric,
        class_metric=class_metric,
        min_effect=args.min_effect,
        resamples=args.bootstrap_resamples,
        bootstrap_seed=args.bootstrap_seed,
    )


def decision_cost(tables: Tables, tuning: list[Path]) -> dict:
    """The device-hours of the runs, and of the tuning trials found beside each chosen.json in `tuning`."""
    return cost.with_tuning(cost.total(tables.runs), cost.trial_costs(trial_runs(list(tuning))) if tuning else None)


def cost_and_plan(tables: Tables, stated: Comparison | None, tuning: list[Path] = ()) -> dict:
    """What the decision cost, its tuning trials included (`tuning`: each model's chosen.json), and
    what settling it would take: the headline comparison's own plan (`stated`, None: no pairs),
    priced (segsweep.reporting.plan)."""
    spent = decision_cost(tables, tuning)
    fields = {"cost": spent, "cost_sentence": cost.describe(spent)}
    if stated is None:
        return fields
    # Evaluation runs only: more seeds train with the chosen values, no new tuning.
    plan = next_decision(stated.plan, stated.n_seeds, seed_cost(tables.runs))
    return {
        **fields,
        "plan": plan,
        "plan_sentence": describe_plan(plan, stated.n_seeds, stated.n_images, spent["unit"]),
    }


def sequential_fields(looks: list[Path]) -> dict:
    """A sequential sweep's verdict: the last look's decision, with every look's record."""
    if not looks:
        return {}
    records = [read_json(path) for path in looks]
    if not records[-1]["stop"]:
        raise UserError(
            f"{looks[-1]}: look {records[-1]['look']} did not stop, so the sequential sweep goes on; run it look by "
            "look with `python -m segsweep sweep` and Snakemake's arguments (docs/cost-and-sequential.md)"
        )
    return {"sequential": {**records[-1], "looks": records}}


def aggregate(
    sweep: Sweep,
    decision: DecisionSettings,
    grid: GridSettings,
    out: Path,
    allow_missing: bool,
    looks: list[Path] = (),
    tuning: list[Path] = (),
) -> dict:
    """Write every table, plot and grid of the sweep to `out` and return the verdict (also written)."""
    expected = sweep.expected_runs()
    found, missing = split_complete(expected, allow_missing)
    tables = load_runs(found)
    (out / layout.PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    class_block = class_fields(tables.classes, len(tables.runs), grid.classes, out)
    (out / layout.GRIDS_DIR).mkdir(parents=True, exist_ok=True)
    found_comparisons = comparisons(tables, sweep, decision)
    names = layout.AGGREGATE_TABLES
    tables.runs.to_csv(out / names["runs"], index=False)
    summarize(tables.runs).to_csv(out / names["summary"], index=False)
    model_table(tables.runs, decision.resamples, decision.bootstrap_seed).to_csv(out / names["models"], index=False)
    comparison_rows = [c.as_row() for c in found_comparisons]
    pd.DataFrame(comparison_rows, columns=ROW_COLUMNS).to_csv(out / names["comparison"], index=False)
    tables.per_image.to_csv(out / names["per_image"], index=False)
    pruning_table = pruning(tables.modes)
    pruning_table.to_csv(out / names["pruning"], index=False)

    from segsweep.reporting import grids, plots

    pairs = image_pairs(tables.per_image, sweep.baseline, sweep.candidate)
    tuned = tuning_fields(list(tuning), sweep.baseline, sweep.candidate)
    plots.write_all(tables, pairs, pruning_table, sweep.baseline, sweep.candidate, out, tuned.get("tuning"))
    first_split = tables.runs[tables.runs["split"] == sweep.splits[0]]
    have = set(zip(first_split["augmentation"], first_split["seed"], first_split["model"]))
    grid_files = grids.write_grids(tables.per_image, have, sweep, grid, out / layout.GRIDS_DIR)
    verdict = {
        "dataset": sweep.dataset,
        "baseline": sweep.baseline,
        "candidate": sweep.candidate,
        **verdict_fields(found_comparisons, sweep, decision),
        "models": list(sweep.models),
        "runs_expected": len(expected),
        "runs_found": len(found),
        "missing_runs": missing,
        "grids": grid_files,
        **({"class_metric": decision.class_metric} if decision.class_metric else {}),
        **class_block,
    }
    verdict.update(cost_and_plan(tables, headline(found_comparisons, sweep, decision), list(tuning)))
    verdict.update(sequential_fields(list(looks)))
    verdict.update(tuned)
    verdict.update(matching_fields(tables.runs))
    verdict["sentence"] = conditional_sentence(verdict)
    (out / layout.VERDICT_FILE).write_text(json.dumps(json_safe(verdict), indent=2) + "\n")
    return verdict


def run(args) -> int:
    sweep, decision = sweep_from_args(args), decision_from_args(args)
    fmt = format_from_args(args.format, args.folder)
    grid = GridSettings(
        fmt=fmt,
        positive_ids=args.positive_ids,
        void_ids=args.void_ids,
        k=args.grid_images,
        classes=classes_from_args(args, fmt),
    )
    verdict = aggregate(sweep, decision, grid, args.out_dir, args.allow_missing, args.looks, args.tuning)
    print(verdict["sentence"])
    return 0
