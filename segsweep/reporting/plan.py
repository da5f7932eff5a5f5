"""`segsweep plan`: what it would cost to settle a finished sweep's comparison, before spending it.

From the headline comparison's variance components (segsweep.statistics.bootstrap.components) and
the measured cost per run (segsweep.reporting.cost), the plan says how many seeds in all would most
likely settle the comparison at the margin (segsweep.statistics.planning: the interval then lies
inside the margin or on one side of 0, if the current estimate holds), the chance that they do, and
the device-hours of the runs those seeds add: every (model, augmentation, split) of the sweep
trains once per seed, at the mean cost of that model's runs so far. Where no number of seeds can
settle it (the test images alone leave too wide an interval), it says how many test images would.

These are planning figures: the between-seed variance of a few seeds is itself uncertain by a
factor of several, and the estimate may move.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from segsweep import layout
from segsweep.errors import UserError
from segsweep.reporting.cost import unit_name
from segsweep.reporting.tables import json_safe
from segsweep.statistics.bootstrap import components
from segsweep.statistics.planning import Plan, plan_next


def seed_cost(runs: pd.DataFrame) -> float:
    """Device-hours one more seed adds: per (model, augmentation, split), the mean cost of its runs.
    Evaluation runs only: a tuned sweep's further seeds train with the configurations already chosen,
    so its tuning trials, counted in the decision's cost, are not paid again."""
    per_condition = runs.groupby(["model", "augmentation", "split"])["device_hours"].mean()
    return float(per_condition.sum())


def next_decision(plan: Plan | None, n_seeds: int, cost_per_seed: float) -> dict:
    """The plan's figures, priced (JSON-ready; NaN cost where the runs' cost is unknown). No plan: a
    variance is unknown (one seed, or one test image)."""
    if plan is None:
        return {"seeds_to_settle": None, "images_to_settle": None, "limit": "unknown_seed_variance"}
    fields = {
        "seeds_to_settle": plan.seeds,
        "probability_to_settle": plan.probability,
        "images_to_settle": plan.images,
        "limit": plan.limit,
    }
    if plan.seeds is None:
        return fields
    more = plan.seeds - n_seeds
    return {
        **fields,
        "more_seeds": more,
        "device_hours_per_seed": cost_per_seed,
        "more_device_hours": more * cost_per_seed,
    }


def describe(plan: dict, n_seeds: int, n_images: int, unit: str) -> str:
    """One sentence for the terminal and the report."""
    kind = unit_name(unit)
    if plan["seeds_to_settle"] is not None:
        hours = plan["more_device_hours"]
        cost = f"about {hours:.2f} {kind}" if not math.isnan(hours) else "a cost not known (the runs' cost is unknown)"
        return (
            f"{plan['seeds_to_settle']} seeds in all ({plan['more_seeds']} more, {cost}) would most likely settle "
            f"it at these {n_images} test images: with probability {plan['probability_to_settle']:.2f} if the "
            "current estimate holds."
        )
    return {
        "unknown_seed_variance": "With one seed the seed variance is unknown: run at least two to plan.",
        "images": f"No number of seeds settles it at these {n_images} test images; about {plan['images_to_settle']} "
        "test images would, with enough seeds.",
        "splits": "Neither more seeds nor more test images settle it: the splits alone leave too wide an interval.",
        "max_seeds": "The seeds disagree so much that more than 1000 seeds would be needed at this test set.",
    }[plan["limit"]]


def add_arguments(parser) -> None:
    parser.add_argument(
        "--aggregate-dir",
        type=Path,
        required=True,
        help="a finished sweep's aggregate folder (verdict.json, runs.csv, per_image.csv)",
    )
    parser.add_argument(
        "--min-effect",
        type=float,
        default=None,
        help="the margin to plan for, in IoU units (default: the sweep's report.min_effect)",
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def run(args) -> int:
    from segsweep.reporting.comparisons import headline_splits
    from segsweep.reporting.runs import Sweep, Tables

    verdict_path = args.aggregate_dir / layout.VERDICT_FILE
    try:
        verdict = json.loads(verdict_path.read_text())
        runs = pd.read_csv(args.aggregate_dir / layout.AGGREGATE_TABLES["runs"])
        per_image = pd.read_csv(args.aggregate_dir / layout.AGGREGATE_TABLES["per_image"], dtype={"stem": str})
    except (OSError, ValueError) as error:
        raise UserError(f"{args.aggregate_dir}: not a finished sweep's aggregate folder ({error})") from None
    if verdict.get("mean_diff") is None:
        raise UserError(f"{verdict_path}: no comparison to plan ({verdict.get('sentence', 'no sentence')})")
    margin = args.min_effect if args.min_effect is not None else verdict["min_effect"]
    sweep = Sweep(
        results=args.aggregate_dir.parent,
        dataset=verdict["dataset"],
        models=tuple(dict.fromkeys(runs["model"])),
        augmentations=tuple(dict.fromkeys(runs["augmentation"])),
        splits=tuple(dict.fromkeys(runs["split"])),
        seeds=tuple(dict.fromkeys(runs["seed"])),
        baseline=verdict["baseline"],
        candidate=verdict["candidate"],
    )
    tables = Tables(runs=runs, histories=pd.DataFrame(), per_image=per_image, modes=pd.DataFrame())
    variance = components(headline_splits(tables, sweep), verdict["metric"])
    found = plan_next(variance, verdict["mean_diff"], margin, verdict["n_seeds"]) if variance is not None else None
    plan = next_decision(found, verdict["n_seeds"], seed_cost(runs))
    if args.json:
        print(json.dumps(json_safe(plan), indent=2))
    else:
        print(verdict.get("sequential", {}).get("sentence") or verdict["sentence"])
        print(f"This decision cost {verdict['cost_sentence']}.")
        print(describe(plan, verdict["n_seeds"], verdict["n_images"], verdict["cost"]["unit"]))
    return 0
