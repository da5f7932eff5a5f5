"""`segsweep look`: one look of a sequential sweep: decide on the seeds run so far, or ask for more.

The sweep runs `sequential.seeds_per_look` seeds of every (model, augmentation, split), then this
step decides on the headline comparison (candidate vs baseline, the primary metric, every
augmentation) with the repeated confidence interval of segsweep.statistics.sequential: look k of K
uses the bound its alpha-spending function gives it, on seed-count information fractions, so the
chance that ANY look's interval misleads stays at `sequential.alpha`. The estimate is the observed
mean difference; its standard error comes from the seed, image and interaction variance components
(segsweep.statistics.bootstrap.components), and the interval's quantile is Student's t with
seeds - 1 degrees of freedom (bootstrap.student_t) at the look's nominal level: the
procedure whose error rate tests/test_sequential.py simulates on crossed seed x image data. (The crossed bootstrap's
percentile interval cannot reach the tail levels of early looks, 0.05% for the first of three
O'Brien-Fleming looks, with 10,000 resamples.) The decision rule is the fixed sweep's (decide:
equivalent, better, worse or inconclusive), on the same nominal level for equivalence and
superiority.

The sweep stops at the first look that decides, at `max_seeds`, or where the device-hours spent
(tuning trials included) plus one more look's would pass `max_device_hours`. Each look's record is kept in
aggregate/looks/look{k}/look.json; the workflow reads `stop` to plan the next look or the report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from segsweep.config.sequential import Schedule
from segsweep.data.staging import staged_file
from segsweep.errors import UserError
from segsweep.reporting import cost
from segsweep.reporting.comparisons import headline_splits
from segsweep.reporting.runs import load_runs, split_complete
from segsweep.reporting.tables import json_safe
from segsweep.statistics.bootstrap import Split, student_t
from segsweep.statistics.decision import decide
from segsweep.statistics.sequential import boundaries, nominal_level, seed_fractions


def look_bound(schedule: Schedule, look: int) -> float:
    """c_k of look k: the spending bounds of looks 1..last on seed-count fractions R_k / R_max."""
    seeds = [schedule.seeds_at(k) for k in range(1, schedule.last_look + 1)]
    return float(boundaries(seed_fractions(seeds, schedule.max_seeds), schedule.alpha, schedule.spending)[look - 1])


def decide_look(splits: list[Split], metric: str, margin: float, schedule: Schedule, look: int) -> dict:
    """The look's estimate, standard error, repeated interval and decision (JSON-ready). With one seed
    the seed variance is unknown: the look is inconclusive and the sweep goes on."""
    mean = student_t(splits, metric)
    bound = look_bound(schedule, look)
    low, high = mean.interval(bound)
    return {
        "look": look,
        "last_look": schedule.last_look,
        "n_seeds": schedule.seeds_at(look),
        "max_seeds": schedule.max_seeds,
        "alpha": schedule.alpha,
        "spending": schedule.spending,
        "bound": bound,
        "nominal_level": nominal_level(bound),
        "df": mean.df,
        "metric": metric,
        "estimate": mean.estimate,
        "standard_error": mean.standard_error,
        "low": low,
        "high": high,
        "min_effect": margin,
        "decision": decide(low, high, margin),
    }


def stop_reason(record: dict, schedule: Schedule, cost: dict) -> str | None:
    """Why the sweep stops after this look, or None to run the next one."""
    if record["decision"] != "inconclusive":
        return "decided"
    if record["look"] >= schedule.last_look:
        return "max_seeds"
    # The cap is on the whole sweep, tuning trials included (paid once, before the first look);
    # each further look costs what the looks so far cost on average.
    spent = cost["total_device_hours"]
    if schedule.max_device_hours is not None:
        if math.isnan(spent):
            return "budget_unknown"  # a cap cannot be kept without the cost: stop rather than overspend
        per_look = cost["device_hours"] / record["look"]
        if spent + per_look > schedule.max_device_hours:
            return "max_device_hours"
    return None


STOP_WORDS = {
    "decided": "the interval decides",
    "max_seeds": "it reached sequential.max_seeds",
    "max_device_hours": "one more look would pass sequential.max_device_hours",
    "budget_unknown": "the cost of the runs or tuning trials is unknown, so sequential.max_device_hours cannot be kept",
}


def sentence(record: dict, baseline: str, candidate: str) -> str:
    """'Look 2 of 3 (6 seeds): +1.9 IoU points, 98.8% repeated CI +0.2 to +3.6; unetpp is better. Stopped: ...'"""
    level = 100 * (1 - record["nominal_level"])
    words = {
        "candidate_better": f"{candidate} is better",
        "candidate_worse": f"{candidate} is worse",
        "equivalent": f"equivalent within ±{100 * record['min_effect']:.1f} points",
        "inconclusive": "inconclusive",
    }
    text = (
        f"Sequential verdict, look {record['look']} of at most {record['last_look']} ({record['n_seeds']} seeds, "
        f"{record['spending'].replace('_', '-')} spending of alpha {record['alpha']}): {candidate} vs {baseline} "
        f"{100 * record['estimate']:+.1f} IoU points, {level:.2f}% repeated CI {100 * record['low']:+.1f} to "
        f"{100 * record['high']:+.1f}: {words[record['decision']]}."
    )
    if record.get("stop"):
        text += f" The sweep stopped here: {STOP_WORDS[record['stop']]}. This decision cost {cost.describe(record['cost'])}."
    else:
        text += " The sweep goes on to the next look."
    return text


def add_arguments(parser) -> None:
    from segsweep.reporting.aggregate import add_sweep_arguments

    add_sweep_arguments(parser)
    parser.add_argument("--look", type=int, required=True, help="which look this is (1-based)")
    parser.add_argument("--sequential", required=True, help="the config's `sequential` mapping, as JSON")
    parser.add_argument("--out", type=Path, required=True, help="the look's record, aggregate/looks/look<k>.json")


def run(args) -> int:
    from segsweep.reporting.aggregate import decision_cost, sweep_from_args

    schedule = Schedule.from_config(json.loads(args.sequential))
    if not 1 <= args.look <= schedule.last_look:
        raise UserError(f"--look {args.look}: this schedule has looks 1 to {schedule.last_look}")
    if len(args.seeds) != schedule.seeds_at(args.look):
        raise UserError(f"--seeds: look {args.look} runs {schedule.seeds_at(args.look)} seeds, got {len(args.seeds)}")
    sweep = sweep_from_args(args)
    found, _ = split_complete(sweep.expected_runs(), allow_missing=False)
    tables = load_runs(found)
    record = decide_look(headline_splits(tables, sweep), args.metric, args.min_effect, schedule, args.look)
    record["seeds"] = list(args.seeds)
    record["schedule"] = json.loads(args.sequential)  # what the workflow checks a record against before trusting it
    record["sweep"] = {"models": list(sweep.models), "augmentations": list(sweep.augmentations)}
    record["cost"] = decision_cost(tables, args.tuning)
    record["stop"] = stop_reason(record, schedule, record["cost"])
    record["sentence"] = sentence(record, args.baseline, args.candidate)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with staged_file(args.out) as staging:
        staging.write_text(json.dumps(json_safe(record), indent=2) + "\n")
    print(record["sentence"])
    return 0
