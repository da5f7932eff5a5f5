"""The verdict: a decision with a margin, the seeds that would settle it, conflicts, one sentence.

The rule, on the 95% interval [low, high] of the mean candidate-minus-baseline difference of one
metric, with the margin m = report.min_effect (the smallest difference that matters, in IoU units:
0.01 = 1 IoU point), checked in this order:

1. equivalent:        -m < low and high < m. Whatever the true difference is within the interval,
                      it is smaller than what matters. This comes first: an interval of
                      +0.2..+0.8 points with m = 1 point is above 0, yet "better" would oversell
                      a gain the user said does not matter.
2. candidate_better:  low > 0. `exceeds_min_effect` says whether low >= m too ("better by at
                      least the margin") or the gain may still be smaller than the margin.
3. candidate_worse:   high < 0, symmetrically.
4. inconclusive:      otherwise: the interval holds 0 and reaches beyond the margin; the data
                      cannot tell "no difference that matters" from "a difference that matters".

The interval. Student's t on the seeds: the mean difference +- t_{0.975, df} SE, SE from the
seed, image and interaction variance components and df = seeds - 1 (pooled over splits;
bootstrap.Components.degrees_of_freedom), the interval a sequential look computes at its own
level (bootstrap.student_t). Not the crossed bootstrap's percentile interval, which the verdict
used until 2026-12-04: over R seeds a bootstrap sees (R - 1) / R of their variance, with normal
tails, and where the seeds' spread dominates its 95% interval held the truth in about 82% of
simulated 3-seed designs; the t interval in 95-97%, and in more where the images dominate
(tests/test_stats.py). The bootstrap still gives the IQM and the probability of improvement, and
their intervals, which are too narrow with few seeds (bootstrap.FEW_SEEDS).

Seeds needed (stated when inconclusive): the planned half-width of the mean difference with R
seeds at this test set, t_{0.975, df(R)} sqrt((s2_split + s2_seed / R + s2_image / I + s2_res / (R I)) / S),
from the variance components of segsweep.statistics.bootstrap.components; the fewest R (more than
the seeds in hand, whose interval did not settle) at which an interval around the current estimate
d would settle the question: clear 0 or fit inside +-m, i.e. a half-width under max(|d|, m - |d|)
(segsweep.statistics.planning). A half-width under m alone would not settle a d near the margin.
If the test images (or splits) alone leave a wider interval, no number of seeds suffices and the
sentence says how many test images would (planning.images_to_settle). It is a planning figure
from few seeds: the between-seed variance of 3 seeds is itself uncertain by a factor of several.

Conflicts: views of the same comparison (the primary metric, the secondary metric, each
augmentation) whose intervals lie on opposite sides of 0 are named in the sentence.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from segsweep.statistics.bootstrap import Split, crossed_bootstrap, student_t
from segsweep.statistics.planning import Plan, plan_next
from segsweep.statistics.stats import Estimate

DECISIONS = ("candidate_better", "candidate_worse", "equivalent", "inconclusive")
METRIC_NAMES = {"pooled_iou": "pooled test IoU", "per_image_iou": "per-image test IoU", "miou": "test mIoU"}
# What `iqm_diff` is: the IQM of the (split, seed) differences, not the difference of the two models' own
# IQMs (rliable's, in the models table), which a bare "IQM" beside it would suggest.
IQM_NAME = "IQM of the per-seed differences"


def decide(low: float, high: float, min_effect: float) -> str:
    """One of DECISIONS for the interval [low, high], by the rule of the module docstring."""
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if -min_effect < low and high < min_effect:
        return "equivalent"
    if low > 0:
        return "candidate_better"
    if high < 0:
        return "candidate_worse"
    return "inconclusive"


@dataclass(frozen=True)
class Comparison:
    """Candidate minus baseline on one metric over one scope (an augmentation, or all of them)."""

    baseline: str
    candidate: str
    metric: str
    scope: str
    mean_diff: Estimate
    iqm_diff: Estimate
    prob_improvement: Estimate
    min_effect: float
    n_splits: int
    n_seeds: int
    n_images: int
    n_empty_reference: int
    seeds_needed: int | None
    seeds_needed_note: str
    resamples: int
    bootstrap_seed: int
    images_needed: int | None = None  # when no number of seeds settles it: test images that would, seeds unlimited
    df: float = math.nan  # Student's t degrees of freedom of mean_diff's interval (seeds - 1)
    plan: Plan | None = None  # behind seeds_needed (None: a variance unknown), for the verdict's plan; in no row

    @property
    def decision(self) -> str:
        return decide(self.mean_diff.low, self.mean_diff.high, self.min_effect)

    @property
    def exceeds_min_effect(self) -> bool:
        """The whole interval lies at least min_effect away from 0."""
        return self.mean_diff.low >= self.min_effect or self.mean_diff.high <= -self.min_effect

    def as_row(self) -> dict:
        """A flat row for comparison.csv and verdict.json, in ROW_COLUMNS order."""
        row = {k: v for k, v in asdict(self).items() if k not in NOT_COLUMNS}
        for name in ESTIMATES:
            estimate = getattr(self, name)
            row[name], row[f"{name}_low"], row[f"{name}_high"] = estimate.value, estimate.low, estimate.high
        row["ci_low"], row["ci_high"] = self.mean_diff.low, self.mean_diff.high
        return {**row, "decision": self.decision, "exceeds_min_effect": self.exceeds_min_effect}


ESTIMATES = ("mean_diff", "iqm_diff", "prob_improvement")
NOT_COLUMNS = (*ESTIMATES, "plan")  # an estimate is three columns; the plan is spelled out in verdict.json only
ROW_COLUMNS = [
    *(f for f in Comparison.__dataclass_fields__ if f not in NOT_COLUMNS),
    *(f"{name}{end}" for name in ESTIMATES for end in ("", "_low", "_high")),
    "ci_low",
    "ci_high",
    "decision",
    "exceeds_min_effect",
]


def compare(
    splits: list[Split],
    baseline: str,
    candidate: str,
    metric: str,
    scope: str,
    *,
    min_effect: float,
    resamples: int,
    seed: int,
) -> Comparison:
    """The difference with its Student-t interval, its IQM and P(improvement) with the bootstrap's, then
    the plan of the seeds that would most likely settle it (module docstring)."""
    summary = crossed_bootstrap(splits, metric, resamples, seed).summary()
    mean = student_t(splits, metric)
    summary["mean_diff"] = Estimate(mean.estimate, *mean.interval())
    variance = mean.variance
    n_seeds = mean.n_seeds
    diff = mean.estimate
    plan, needed, images, note = None, None, None, ""
    if variance is None:
        note = "seed variance is unknown with one seed" if n_seeds < 2 else "too few test images"
    else:
        plan = plan_next(variance, diff, min_effect, n_seeds)
        needed, images = plan.seeds, plan.images
        alone = (
            f"the test images{' and splits' if len(splits) > 1 else ''} alone leave a half-width of about "
            f"{_points(variance.half_width(math.inf), signed=False)} points: no number of seeds settles it; "
        )
        note = {
            "": "",
            "images": alone + f"more test images would: about {images} with many seeds",
            "splits": alone + "nor would more test images: the splits alone leave too wide an interval",
            "max_seeds": "the seeds disagree so much that more than 1000 seeds would be needed at this test set",
        }[plan.limit]
    n_images = sum(s.n_images for s in splits) if len({s.stems for s in splits}) > 1 else splits[0].n_images
    n_empty = sum(s.n_empty for s in splits) if len({s.stems for s in splits}) > 1 else splits[0].n_empty
    return Comparison(
        baseline=baseline,
        candidate=candidate,
        metric=metric,
        scope=scope,
        **summary,
        min_effect=min_effect,
        n_splits=len(splits),
        n_seeds=n_seeds,
        n_images=n_images,
        n_empty_reference=n_empty,
        seeds_needed=needed,
        seeds_needed_note=note,
        resamples=resamples,
        bootstrap_seed=seed,
        images_needed=images,
        df=mean.df,
        plan=plan,
    )


def _points(x: float, signed: bool = True) -> str:
    """An IoU difference in percentage points: +2.1."""
    return f"{100 * x:{'+' if signed else ''}.1f}"


def _interval(e: Estimate) -> str:
    return f"{_points(e.value)} IoU points (95% CI {_points(e.low)} to {_points(e.high)})"


def _difference(c: Comparison) -> str:
    """The difference with its interval, or why it has none: one seed or one test image leaves a
    variance unknown (bootstrap.components)."""
    if math.isnan(c.mean_diff.low):
        return f"{_points(c.mean_diff.value)} IoU points (no interval: {'one seed' if c.n_seeds < 2 else 'one test image'})"
    return _interval(c.mean_diff)


def _design(c: Comparison) -> str:
    """'3 seeds x 18 test images', or with splits '2 splits x 3 seeds, 16 test images in all'."""
    seeds = f"{c.n_seeds} seed{'s' * (c.n_seeds != 1)}"
    images = f"{c.n_images} test images{' in all' if c.n_splits > 1 else ''}"
    if c.metric == "per_image_iou" and c.n_empty_reference:
        images += f" ({c.n_empty_reference} without road left out)"
    return f"{c.n_splits} splits x {seeds}, {images}" if c.n_splits > 1 else f"{seeds} x {images}"


def _reason(c: Comparison) -> str:
    margin = f"{_points(c.min_effect, signed=False)}-point margin"
    if c.decision == "equivalent":
        return f"Verdict: equivalent, the whole interval lies inside the ±{margin}"
    if c.decision in ("candidate_better", "candidate_worse"):
        word = "better" if c.decision == "candidate_better" else "worse"
        side = "above" if word == "better" else "below"
        if c.exceeds_min_effect:
            return f"Verdict: {c.candidate} is {word}, the whole interval lies {side} 0 and beyond the {margin}"
        return (
            f"Verdict: {c.candidate} is {word}, the whole interval lies {side} 0, but it reaches inside the {margin}, so the "
            f"difference may be smaller than what matters"
        )
    text = f"Verdict: inconclusive, the interval holds 0 and reaches beyond the ±{margin}"
    if c.seeds_needed is not None:
        return text + (
            f"; about {c.seeds_needed} seeds at this test set would most likely settle it (the interval "
            f"clear of 0 or inside the ±{margin})"
        )
    return text + (f"; {c.seeds_needed_note}" if c.seeds_needed_note else "")


def sentence(c: Comparison, conflicts: list[str] = ()) -> str:
    """The headline: metric, difference, interval, IQM of the differences, P(improvement), design, decision and why."""
    scope = "" if c.scope == "all" else f", augmentation {c.scope}"
    text = (
        f"{c.candidate} vs {c.baseline}, {METRIC_NAMES[c.metric]}{scope} ({_design(c)}): "
        f"{_difference(c)}, {IQM_NAME} {_points(c.iqm_diff.value)}; "
        f"P({c.candidate} > {c.baseline}) = {c.prob_improvement.value:.2f} "
        f"(95% CI {c.prob_improvement.low:.2f} to {c.prob_improvement.high:.2f}). {_reason(c)}."
    )
    return " ".join([text, *conflicts])


def conflicts(views: dict[str, Comparison]) -> list[str]:
    """A sentence for each pair of views (label -> comparison) whose intervals lie on opposite sides of 0."""
    better = {label: c for label, c in views.items() if c.mean_diff.low > 0}
    worse = {label: c for label, c in views.items() if c.mean_diff.high < 0}
    return [
        f"Conflict: {up} says {cu.candidate} is better ({_interval(cu.mean_diff)}) while {down} says it is worse "
        f"({_interval(cd.mean_diff)})."
        for up, cu in better.items()
        for down, cd in worse.items()
    ]
