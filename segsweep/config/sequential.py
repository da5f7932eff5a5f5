"""The looks of a sequential sweep (config key `sequential`): which seeds each look runs.

Only the arithmetic of the schedule lives here, so that the workflow can plan look k's runs and the
config check can refuse a schedule before any job; the bounds and the decision of a look are
segsweep.reporting.look's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from segsweep.errors import ConfigError


@dataclass(frozen=True)
class Schedule:
    """Look k runs the first seeds_at(k) entries of the config's `seeds`."""

    looks: int
    seeds_per_look: int
    max_seeds: int
    alpha: float
    spending: str
    max_device_hours: float | None = None

    @classmethod
    def from_config(cls, sequential: dict) -> Schedule:
        """From the validated `sequential` mapping (the schema has filled its defaults)."""
        max_seeds = sequential.get("max_seeds") or sequential["looks"] * sequential["seeds_per_look"]
        return cls(
            sequential["looks"],
            sequential["seeds_per_look"],
            max_seeds,
            sequential.get("alpha", 0.05),
            sequential.get("spending", "obrien_fleming"),
            sequential.get("max_device_hours"),
        )

    @property
    def last_look(self) -> int:
        """The look that reaches max_seeds, or the last of `looks`, whichever comes first."""
        return min(self.looks, math.ceil(self.max_seeds / self.seeds_per_look))

    def seeds_at(self, look: int) -> int:
        return min(look * self.seeds_per_look, self.max_seeds)


def check_sequential(config: dict) -> None:
    """The cross-key checks of `sequential`; raises ConfigError naming the key."""
    sequential = config.get("sequential")
    if not sequential:
        return
    schedule = Schedule.from_config(sequential)
    if schedule.max_seeds < schedule.seeds_per_look:
        raise ConfigError(
            f"key 'sequential.max_seeds': {schedule.max_seeds} is smaller than one look "
            f"('sequential.seeds_per_look': {schedule.seeds_per_look})"
        )
    if len(config["seeds"]) < schedule.max_seeds:
        raise ConfigError(
            f"key 'seeds': a sequential sweep takes its seeds from 'seeds' in order, and "
            f"'sequential.max_seeds' is {schedule.max_seeds}, but 'seeds' holds {len(config['seeds'])}: "
            f"list at least {schedule.max_seeds} seeds"
        )
