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


def check_warmup(warmup_epochs: int, epochs: int) -> None:
    if warmup_epochs >= epochs:
        raise ConfigError(
            f"key 'train.warmup_epochs': {warmup_epochs} warm-up epochs leave none of the {epochs} "
            "'train.epochs' at the full learning rate"
        )


def deep_supervision_weights(train: dict, model: dict) -> list[float] | None:
    """Keras ``loss_weights`` of a deep-supervised U-Net++'s heads (shallow to deep), None for other models.

    The weights apply to the heads' losses only; the inference output stays the plain mean of the heads.
    """
    weights = train["deep_supervision_weights"]
    heads = len(model["filters"]) - 1
    if weights is None or model["architecture"] != "unetpp" or not model.get("deep_supervision", True):
        return None
    if len(weights) != heads:
        raise ConfigError(
            f"key 'train.deep_supervision_weights': {len(weights)} weights for the {heads} heads of a U-Net++ "
            f"of depth {heads + 1} ('network.filters')"
        )
    if not any(weights):
        raise ConfigError("key 'train.deep_supervision_weights': at least one head needs a weight above 0")
    return [float(weight) for weight in weights]
