"""Throughput timing: the median rate of repeated calls after a warm-up, and inference speed.

The first calls of a Keras model trace and compile its predict function and allocate buffers,
so they are run untimed. The median of the timed repeats, rather than the mean, keeps one
call slowed by another process on a shared machine from moving the figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from segsweep.evaluation.metrics import road_mask

if TYPE_CHECKING:  # keras loads TensorFlow: only the inference helper needs it, at call time
    import keras

    from segsweep.evaluation.scoring import Task


def median_rate(step: Callable[[], object], items: int, repeats: int, warmup: int = 1) -> float:
    """Items per second of `step()`, which processes `items` items per call.

    `step` is called `warmup` times untimed, then `repeats` times timed; the result is the
    median over the timed calls of items / seconds. `step` must finish its work before it
    returns (return NumPy arrays, not pending device tensors).
    """
    if items < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f"need items >= 1, repeats >= 1, warmup >= 0 (got {items}, {repeats}, {warmup})")
    for _ in range(warmup):
        step()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def inference_rate(
    model: keras.Model,
    task: Task,
    images: Sequence[np.ndarray],
    input_size: Sequence[int],
    threshold: float,
    batch_size: int,
    repeats: int,
    flip: bool = False,
) -> float:
    """Images per second from original-resolution uint8 images to original-resolution masks.

    Times what evaluation does per batch (`Task.predict`: resize in, predict, mirrored too with
    `flip`, resize back, and the argmax with several classes; then the threshold for a binary
    task) on `batch_size` images taken from `images` in turn (repeated if there are fewer), so
    different-sized datasets are compared at their own resolution. `model` is one mode's network.
    """
    if not images:
        raise ValueError("inference_rate needs at least one image")
    batch = [images[i % len(images)] for i in range(batch_size)]

    def step() -> list[np.ndarray]:
        maps = task.predict(model, batch, input_size, batch_size, flip)
        return [road_mask(focus, threshold) if argmax is None else argmax for focus, argmax in maps]

    return median_rate(step, batch_size, repeats)
