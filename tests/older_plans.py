"""The two planning rules that `segsweep.statistics.planning` replaced, kept here only so that the
tests can show where they fall short (see that module's docstring): neither is used by segsweep."""

from __future__ import annotations

import math

from segsweep.statistics.bootstrap import Components

Z95 = 1.959964


def seeds_for_half_width(components: Components, half_width: float, z: float = Z95) -> int | None:
    """Fewest seeds whose planned half-width is under `half_width` (this project's first "seeds
    needed"); None if no number of seeds can get there (the images or splits alone leave a wider interval)."""
    room = (half_width / z) ** 2 * components.n_splits - components.split - components.image / components.n_images
    if room <= 0:
        return None
    per_seed = components.seed + components.residual / components.n_images
    return max(2, math.floor(per_seed / room) + 1)


def settle_target(diff: float, margin: float) -> float:
    """The largest half-width at which an interval centred on diff settles: max(|d|, m - |d|)."""
    return max(abs(diff), margin - abs(diff))
