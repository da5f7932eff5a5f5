"""The wide U-Net of the U-Net++ paper: a U-Net as large as U-Net++, to tell topology from size.

Zhou et al. (2018, 2019) compare U-Net++ with a "wide U-Net" whose widths are raised until its
parameter count matches U-Net++'s; a gain over U-Net that the wide U-Net also gets is a gain
from size, not from the nested skips. Here every width of `network.filters` is scaled by one
factor and rounded, and the factor is found for the configured widths, whatever they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from segsweep.errors import ConfigError

TOLERANCE = 0.02  # |U-Net - U-Net++| / U-Net++ parameters


def scaled(filters: Sequence[int], factor: float) -> tuple[int, ...]:
    """Every width times `factor`, rounded to the nearest integer, at least 1."""
    return tuple(max(1, round(factor * width)) for width in filters)


def _steps(filters: Sequence[int], low: float, high: float) -> list[float]:
    """One factor inside each range of factors in [low, high] over which scaled() is constant.

    A width w_i changes where factor x w_i crosses a half-integer; between consecutive such
    points every rounded width is fixed, so the midpoints stand for every width vector there is.
    """
    edges = sorted(
        {low, high}
        | {
            (n + 0.5) / w
            for w in filters
            for n in range(math.floor(low * w), math.ceil(high * w) + 1)
            if low < (n + 0.5) / w < high
        }
    )
    return [(a + b) / 2 for a, b in zip(edges, edges[1:])]


def matched_unet_filters(filters: Sequence[int], parameters: Callable[[str, Sequence[int]], int]) -> tuple[int, ...]:
    """The U-Net widths scaled(filters, f) whose parameter count is closest to U-Net++'s at `filters`.

    `parameters(architecture, widths)` counts a model's parameters (each call builds one, so
    few calls). The count grows about as f^2, so its square root is close to linear in f: a few
    secant steps on it come near the factor; then, since the count rises with f, a walk over
    the neighbouring width vectors finds the two that bracket U-Net++'s count, and the closer
    one wins. Raises ConfigError when even that misses by more than TOLERANCE (widths too small
    for one factor to fit).
    """
    target = parameters("unetpp", filters)
    tried: dict[tuple[int, ...], int] = {}

    def count(factor: float) -> int:
        widths = scaled(filters, factor)
        if widths not in tried:
            tried[widths] = parameters("unet", widths)
        return tried[widths]

    def gap(factor: float) -> float:
        return math.sqrt(count(factor)) - math.sqrt(target)

    low, high = 1.0, math.sqrt(target / count(1.0))
    gap_low, gap_high = gap(low), gap(high)
    for _ in range(8):
        if gap_high == gap_low:  # the rounded widths stopped changing
            break
        low, high = high, high - gap_high * (high - low) / (gap_high - gap_low)
        gap_low, gap_high = gap_high, gap(high)
    steps = _steps(filters, high / 1.25, high * 1.25)
    i = min(range(len(steps)), key=lambda j: abs(steps[j] - high))
    direction = 1 if count(steps[i]) < target else -1
    while 0 <= i + direction < len(steps) and (count(steps[i]) < target) == (direction == 1):
        i += direction
    widths = min(tried, key=lambda w: abs(tried[w] - target))
    if abs(tried[widths] - target) > TOLERANCE * target:
        raise ConfigError(
            f"key 'network.filters': {list(filters)} are too narrow for unet_wide: no single width factor brings "
            f"U-Net within {TOLERANCE:.0%} of U-Net++'s {target:,} parameters (closest: {list(widths)}, "
            f"{tried[widths]:,})"
        )
    return widths
