"""What the next decision would cost: the seeds (or test images) that would most likely settle it.

A comparison SETTLES when its interval lies wholly inside the margin (-m, +m) (equivalent) or wholly
on one side of 0 (better or worse): any verdict of segsweep.statistics.decision.decide but
"inconclusive". An interval D +- h settles when |D| > h or |D| < m - h.

"Most likely" is taken literally: the plan is the fewest seeds (or test images) with which the
future interval settles with probability at least 1/2, when the current estimate d is the truth and
the future estimate D is drawn from N(d, SE^2), SE and h the planned standard error and
half-width of bootstrap.Components.half_width (`probability_to_settle`): h = t SE, Student's t at
the degrees of freedom the verdict's interval would have with those seeds, so that a plan for few
seeds pays for their wider interval (tests may fix h = z SE). Two older readings fall
short. A half-width under the margin (h < m, this project's first "seeds needed") does not decide a
difference near the margin: at d = 0.9 m an interval of half-width 0.95 m holds 0 and reaches beyond
m. An interval centred on d that settles (h < max(|d|, m - |d|)) is necessary but
far from enough at d near 0: there the future D wanders by about SE, and an interval just under
the margin settles in fewer than one sweep in ten.

These are planning figures: D is drawn afresh, although the seeds in hand and the same test images
are shared with the future estimate (which makes it vary less), and the variance components from a
few seeds are themselves uncertain by a factor of several.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from scipy import stats

from segsweep.statistics.bootstrap import Components

MOST_LIKELY = 0.5  # the chance of settling a plan asks for


def seeds_to_settle(
    components: Components, diff: float, margin: float, z: float | None = None, max_seeds: int = 1000
) -> int | None:
    """Fewest seeds (at least 2) at this test set with which the comparison settles with probability
    at least MOST_LIKELY; None when no number up to max_seeds does (the images or splits alone leave
    too wide an interval)."""
    return next(
        (n for n in range(2, max_seeds + 1) if probability_to_settle(components, diff, margin, n, z) >= MOST_LIKELY),
        None,
    )


def images_to_settle(
    components: Components, diff: float, margin: float, n_seeds: float = math.inf, z: float | None = None
) -> int | None:
    """Fewest test images (at least 2) with which n_seeds seeds (math.inf: unlimited seeds) settle the
    comparison with probability at least MOST_LIKELY, the per-image variance taken as measured; None
    when no number does (the seeds or splits alone leave too wide an interval)."""

    def settles(n_images: float) -> bool:
        at = dataclasses.replace(components, n_images=n_images)
        return probability_to_settle(at, diff, margin, n_seeds, z) >= MOST_LIKELY

    if not settles(math.inf):
        return None
    low, high = 1, 2  # not settles(low), settles(high): by doubling, then bisection
    while not settles(high):
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if settles(middle) else (middle, high)
    return high


def probability_to_settle(
    components: Components, diff: float, margin: float, n_seeds: float, z: float | None = None
) -> float:
    """P(the interval D +- h settles) for D ~ N(diff, SE^2), SE and h (Components.half_width, z SE if z
    is given) planned for n_seeds seeds at this test set: P(|D| > h) + P(|D| < m - h), or 1 when
    h < m / 2 (every D then settles)."""
    se = components.half_width(n_seeds, z=1.0)
    h = components.half_width(n_seeds, z)
    if h < margin / 2:
        return 1.0
    if se == 0:
        return float(abs(diff) > h or abs(diff) < margin - h)
    future = stats.norm(diff, se)
    beyond = future.sf(h) + future.cdf(-h)
    inside = future.cdf(margin - h) - future.cdf(h - margin) if margin > h else 0.0
    return float(beyond + inside)


@dataclass(frozen=True)
class Plan:
    """The next decision: what would most likely settle the comparison, or what stands in the way."""

    seeds: int | None  # seeds in all, at this test set (always more than those run: today's did not settle)
    probability: float | None  # that those seeds settle it
    images: int | None  # where no number of seeds does: test images that would, with unlimited seeds
    limit: str  # "": seeds suffice; "images": the test images alone are too few; "splits": so are the splits;
    #             "max_seeds": more seeds than max_seeds would be needed, though the test images would do


def plan_next(
    components: Components, diff: float, margin: float, n_seeds: int, max_seeds: int = 1000, z: float | None = None
) -> Plan:
    """The plan of the module docstring for a comparison that `n_seeds` seeds left inconclusive."""
    seeds = seeds_to_settle(components, diff, margin, z, max_seeds)
    if seeds is not None:
        seeds = max(seeds, n_seeds + 1)
        return Plan(seeds, probability_to_settle(components, diff, margin, seeds, z), None, "")
    images = images_to_settle(components, diff, margin, z=z)
    if images is None:
        return Plan(None, None, None, "splits")
    if images <= components.n_images:
        return Plan(None, None, None, "max_seeds")
    return Plan(None, None, images, "images")
