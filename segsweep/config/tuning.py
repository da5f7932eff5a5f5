"""The tuning stage (config key `tune`): the search space, its seeded draws, and the settings of a
tuning trial and of a model's evaluation runs after its configuration was chosen.

Random search, as Dodge et al. 2019 assume for their tuning curves. Trial t's configuration is the
SAME for every model: each value is drawn from a numpy Generator seeded by (tune.sampler_seed,
t, the key's name), never by the model. The models' budgets are then paired, common random numbers:
a model cannot win by luckier draws, and the tuning curves differ only by how each model responds to
the same configurations. Seeding per key and per trial keeps trial t unchanged when `trials` grows
or another key's distribution changes, so only the trials whose settings change are rerun.

Only the arithmetic and the checks live here (no TensorFlow): the Snakefile plans the tuning jobs
and refuses a bad space before any job.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from segsweep.errors import ConfigError

DISTRIBUTIONS = ("loguniform", "uniform", "int_uniform", "choice")
# Training keys a trial may not set: how fast a job runs, not what it computes (threads); which model
# a run's compute is matched to, a property of the model variant, not a hyperparameter (budget).
UNTUNABLE = ("threads", "budget")
SPACE_KEY = "tune.space"


def _draw(kind: str, args: list, rng: np.random.Generator) -> Any:
    """One value of a distribution, as a JSON-plain Python value."""
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    if kind == "uniform":
        return float(rng.uniform(args[0], args[1]))
    if kind == "int_uniform":
        return int(rng.integers(args[0], args[1], endpoint=True))
    return args[int(rng.integers(len(args)))]


def draw_trial(space: dict[str, dict], trial: int, sampler_seed: int = 0) -> dict[str, Any]:
    """Trial `trial`'s configuration: space key ('train.learning_rate') -> value."""
    values = {}
    for key in sorted(space):
        ((kind, args),) = space[key].items()
        rng = np.random.default_rng([sampler_seed, trial, zlib.crc32(key.encode())])
        values[key] = _draw(kind, args, rng)
    return values


def trial_configurations(tune: dict) -> list[dict[str, Any]]:
    """Every trial's configuration, 0..trials-1: one list for every model."""
    return [draw_trial(tune["space"], trial, tune.get("sampler_seed", 0)) for trial in range(tune["trials"])]


def train_overrides(configuration: dict[str, Any]) -> dict[str, Any]:
    """A configuration's `train` keys: {'train.learning_rate': x} -> {'learning_rate': x}."""
    return {key.removeprefix("train."): value for key, value in configuration.items()}


def with_train(settings: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Job settings with `train` keys replaced: a trial's draws (or a model's chosen ones) win over
    the config's `train` and the model variant's own overrides."""
    return {**settings, "train": {**settings["train"], **overrides}}


def tuning_augmentation(config: dict) -> str:
    """Tuning trains with the first listed augmentation, on split 0: one budget per model."""
    return config["augmentations"][0]


def check_space(space: dict[str, dict], train_keys: set[str]) -> None:
    """Each key a training setting, each distribution well formed; raises naming the key."""
    for key, distribution in space.items():
        name = key.removeprefix("train.")
        if not key.startswith("train.") or name not in train_keys or name in UNTUNABLE:
            tunable = ", ".join(f"train.{k}" for k in sorted(train_keys - set(UNTUNABLE)))
            raise ConfigError(f"key '{SPACE_KEY}': {key!r} is not a training setting (tunable: {tunable})")
        if len(distribution) != 1 or next(iter(distribution)) not in DISTRIBUTIONS:
            raise ConfigError(
                f"key '{SPACE_KEY}.{key}': give one distribution, one of {', '.join(DISTRIBUTIONS)}; got {distribution!r}"
            )
        ((kind, args),) = distribution.items()
        if kind == "choice":
            if not args:
                raise ConfigError(f"key '{SPACE_KEY}.{key}.choice': the list of choices is empty")
            continue
        low, high = args
        if low >= high:
            raise ConfigError(f"key '{SPACE_KEY}.{key}.{kind}': low {low} is not below high {high}")
        if kind == "loguniform" and low <= 0:
            raise ConfigError(f"key '{SPACE_KEY}.{key}.loguniform': low {low} must be above 0")


def check_tuning(config: dict, train_keys: set[str]) -> None:
    """The cross-key checks of `tune` (the schema checks its shape and trials >= 1)."""
    tune = config.get("tune")
    if not tune:
        return
    check_space(tune["space"], train_keys)
    both = sorted(set(tune["seeds"]) & set(config["seeds"]))
    if both:
        raise ConfigError(
            f"keys 'tune.seeds' and 'seeds' both hold {both}: tuning seeds must be disjoint from the "
            "evaluation seeds, or the chosen configuration would be scored on the runs that chose it"
        )
