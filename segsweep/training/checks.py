"""Refuse job settings that cannot train, before any data is decoded or model built.

Free of TensorFlow imports so that config checks can use them too. ``--settings`` JSON comes
from the workflow already checked, but a hand-written one has not been.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from segsweep.errors import ConfigError, DataError


def check_input_size(filters: Sequence[int], input_size: Sequence[int]) -> None:
    """Each pooling halves the image: height and width must divide by 2**(depth-1)."""
    depth = len(filters)
    factor = 2 ** (depth - 1)
    for axis, size in zip(("height", "width"), input_size):
        if size % factor:
            raise ConfigError(
                f"key 'train.input_size': {axis} {size} is not divisible by 2**(depth-1) = {factor} "
                f"(depth {depth} from 'network.filters')"
            )


def check_splits(n_train: int, n_val: int, batch_size: int, manifest: Path) -> None:
    """A training epoch needs one full batch; validation needs at least one image."""
    if n_train < batch_size:
        raise ConfigError(
            f"key 'train.batch_size': {batch_size} is larger than the {n_train} training images of {manifest}; "
            "lower it or give the train split more images"
        )
    if n_val == 0:
        raise DataError(f"{manifest}: no 'val' rows; the best epoch is chosen on the validation split")
