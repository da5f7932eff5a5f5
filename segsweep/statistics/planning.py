"""What the next decision would cost: the seeds (or test images) that would most likely settle it.

A comparison SETTLES when its interval lies wholly inside the margin (-m, +m) (equivalent) or wholly
on one side of 0 (better or worse): any verdict of segsweep.statistics.decision.decide but
"inconclusive". Planning assumes the current estimate d is the truth and the interval is d +- h
with the planned half-width h of bootstrap.Components.half_width; that interval settles when

    h < max(|d|, m - |d|)        (it then clears 0, or fits inside the margin).

The old target h < m ("seeds needed") settles d = 0 and |d| >= m, but not a difference near the
margin: at d = 0.9 m an interval of half-width 0.95 m holds 0 and reaches beyond m. The target is
never under m / 2 (at |d| = m / 2 both sides are equally far), so a finite answer always exists
unless the images or the splits alone leave the half-width above it.

"Most likely": with the target met only just, the future estimate falls on the settling side about
half the time; `probability_to_settle` gives the chance under the normal approximation, drawing
the future estimate afresh from N(d, SE(R)^2). That ignores that seeds in hand and the same test
images are shared with the future estimate (which makes it vary less), and the uncertainty of the
variance components themselves, which from 3 seeds is large: these are planning figures.
"""

from __future__ import annotations

import dataclasses
import math

from scipy import stats

from segsweep.statistics.bootstrap import Components

Z95 = 1.959964


def settle_target(diff: float, margin: float) -> float:
    """The largest half-width at which an interval centred on diff settles: max(|d|, m - |d|)."""
    return max(abs(diff), margin - abs(diff))


def seeds_to_settle(components: Components, diff: float, margin: float, z: float = Z95,
                    max_seeds: int = 1000) -> int | None:
    """Fewest seeds (at least 2) at this test set whose planned interval around diff settles; None when
    no number up to max_seeds can (the images or splits alone leave the half-width at the target or above)."""
    needed = components.seeds_needed(settle_target(diff, margin), z)
    return needed if needed is not None and needed <= max_seeds else None


def images_to_settle(components: Components, diff: float, margin: float, n_seeds: float = math.inf,
                     z: float = Z95) -> int | None:
    """Fewest test images (at least 2) at which n_seeds seeds (math.inf: unlimited seeds) give a planned
    interval around diff that settles, the per-image variance taken as measured; None when no number
    can (the seeds or splits alone leave the half-width at the target or above)."""
    target = settle_target(diff, margin)

    def half_width(n_images: float) -> float:
        return dataclasses.replace(components, n_images=n_images).half_width(n_seeds, z)

    if half_width(math.inf) >= target:
        return None
    low, high = 1, 2  # half_width(low) >= target > half_width(high), by doubling then bisection
    while half_width(high) >= target:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if half_width(middle) >= target else (low, middle)
    return high


def probability_to_settle(components: Components, diff: float, margin: float, n_seeds: float,
                          z: float = Z95) -> float:
    """P(the interval D +- h settles) for D ~ N(diff, SE^2), SE and h = z SE planned for n_seeds seeds at
    this test set: P(|D| > h) + P(|D| < m - h), or 1 when h < m / 2 (every D then settles)."""
    se = components.half_width(n_seeds, z=1.0)
    h = z * se
    if h < margin / 2:
        return 1.0
    if se == 0:
        return float(abs(diff) > h or abs(diff) < margin - h)
    future = stats.norm(diff, se)
    beyond = future.sf(h) + future.cdf(-h)
    inside = future.cdf(margin - h) - future.cdf(h - margin) if margin > h else 0.0
    return float(beyond + inside)
