"""Refuse a training job whose split cannot train, before any data is decoded or model built.

The checks of the settings alone (input size, warm-up, head weights) are config checks:
`segsweep.config.checks`; a ``--settings`` JSON from the workflow has passed them already, a
hand-written one has not, so training makes them again.
"""

from __future__ import annotations

from pathlib import Path

from segsweep.errors import ConfigError, DataError


def check_splits(n_train: int, n_val: int, batch_size: int, manifest: Path) -> None:
    """A training epoch needs one full batch; validation needs at least one image."""
    if n_train < batch_size:
        raise ConfigError(
            f"key 'train.batch_size': {batch_size} is larger than the {n_train} training images of {manifest}; "
            "lower it or give the train split more images"
        )
    if n_val == 0:
        raise DataError(f"{manifest}: no 'val' rows; the best epoch is chosen on the validation split")
