"""The tf.data input pipelines: training (shuffled, augmented, endless) and validation (resized once).

Images are decoded once (`decode_samples`) into full-resolution uint8 arrays kept in memory, so
no epoch reads or decodes a PNG and crops still see full-resolution pixels. `train_dataset`
builds the training stream from those arrays; a benchmark can call it directly.

The training stream is a counter ``k = 0, 1, 2, ...`` over sample slots: slot k is position
``k % per_epoch`` of epoch ``k // per_epoch``, whose sample is that position of a stateless
permutation seeded by (seed, epoch) (``tf.random.experimental.index_shuffle``). That is a
per-epoch reshuffle of an endlessly repeated dataset, like ``shuffle().repeat()``, but any epoch
can be started directly, which is what a resumed run needs, and Keras is given one endless
iterator with ``steps_per_epoch`` (a finite dataset stalls at every epoch boundary while its
iterator is rebuilt). Each epoch uses ``steps * batch_size`` distinct samples; the remainder of
the permutation, different every epoch, is left out so that batches never straddle epochs.

Augmentation runs in the map workers (`tf.numpy_function`), off the training step's critical
path thanks to prefetching; its randomness depends only on (seed, epoch, sample), see
`segsweep.training.augment`. The workers are few on purpose (`augmentation_workers`): on a CPU
the training step's own threads use the same cores, and tf.data's AUTOTUNE, which sizes its pools
by idle time it sees, took cores from the step: a base-8 U-Net at 64x224 on 2 cores trained at
about 65-72 img/s with AUTOTUNE workers and prefetch, 85-94 with one worker and two batches
prefetched (in-memory tensors: about 90-110; `python -m segsweep bench --sections input`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from segsweep.data.classes import ClassSpec
from segsweep.data.formats import Sample, load_pair
from segsweep.training.augment import Augmenter, build_transform

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass(frozen=True)
class DecodedSplit:
    """One split's pairs, decoded: uint8 images HxWx3, road HxW (0/1), valid HxW (bool)."""

    stems: list[str]
    images: list[np.ndarray]
    roads: list[np.ndarray]
    valids: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.stems)


def decode_samples(
    fmt: str,
    samples: list[Sample],
    positive_ids: list[int] | None,
    threads: int = 1,
    void_ids: list[int] | None = None,
    classes: tuple[ClassSpec, ...] | None = None,
) -> DecodedSplit:
    """Decode every pair once (PNG decoding releases the GIL, so threads help). With `classes`, the
    `roads` hold each pixel's class index (`load_pair`): the targets are laid out the same way."""
    with ThreadPoolExecutor(max(1, threads)) as pool:
        pairs = list(pool.map(lambda sample: load_pair(fmt, sample, positive_ids, void_ids, classes), samples))
    return DecodedSplit(
        stems=[sample.stem for sample in samples],
        images=[image for image, _, _ in pairs],
        roads=[road for _, road, _ in pairs],
        valids=[valid for _, _, valid in pairs],
    )


def resize_split(data: DecodedSplit, input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Validation arrays at the input size, without augmentation: images (N,H,W,3), targets (N,H,W,2).

    Targets stack road and valid (uint8 0/1), the layout `segsweep.training.losses` expects.
    """
    resize = build_transform([], "resize", input_size)
    images, targets = [], []
    for image, road, valid in zip(data.images, data.roads, data.valids):
        out = resize(image=image, mask=road, valid=valid.view(np.uint8))
        images.append(out["image"])
        targets.append(np.stack([out["mask"], out["valid"]], axis=-1))
    return np.stack(images), np.stack(targets)


def augmentation_workers(threads: int | None) -> int:
    """Parallel augmentation calls: half the job's threads, at least one.

    One worker augments about 3,000 flip+crop or 250 photometric samples/s here, more than a
    CPU-trained model consumes; a GPU job, whose cores are otherwise idle, gets more with more threads.
    """
    return max(1, (threads or 2) // 2)


def _options(threads: int | None) -> tf.data.Options:
    import tensorflow as tf

    options = tf.data.Options()
    options.deterministic = True
    if threads:
        # tf.data otherwise sizes its pool by the node's cores, not the job's allocation.
        options.threading.private_threadpool_size = threads
        options.threading.max_intra_op_parallelism = 1
    return options


def _model_io(heads: int):
    """uint8 batches -> (images float32 in [0, 1], target per head): the same target for every head."""
    import tensorflow as tf

    def convert(images, targets):
        x = tf.cast(images, tf.float32) / 255.0
        y = tf.cast(targets, tf.float32)
        return x, (y if heads == 1 else (y,) * heads)

    return convert


def train_dataset(
    data: DecodedSplit,
    augmenter: Augmenter,
    batch_size: int,
    seed: int,
    *,
    start_epoch: int = 0,
    heads: int = 1,
    threads: int | None = None,
) -> tuple[tf.data.Dataset, int]:
    """Endless training batches, epoch `start_epoch` first, and the number of steps per epoch.

    Batches are ``(images float32 (B,H,W,3), targets)`` with targets float32 (B,H,W,2) (road,
    valid), repeated once per head when `heads` > 1. Identical for identical arguments.
    """
    import tensorflow as tf

    n = len(data)
    steps = n // batch_size
    if steps < 1:
        raise ValueError(f"{n} training samples cannot fill one batch of {batch_size}")
    per_epoch = steps * batch_size
    height, width = augmenter.output_size

    def augment(epoch: np.int64, index: np.int64) -> tuple[np.ndarray, np.ndarray]:
        image, road, valid = augmenter(data.images[index], data.roads[index], data.valids[index], epoch, index)
        return image, np.stack([road, valid], axis=-1)

    def sample(slot):
        epoch = slot // per_epoch
        index = tf.random.experimental.index_shuffle(
            slot % per_epoch, seed=tf.stack([tf.constant(seed, tf.int64), epoch]), max_index=n - 1
        )
        # stateful=False: the output depends only on the inputs, which tf.data may rely on.
        image, target = tf.numpy_function(augment, [epoch, index], [tf.uint8, tf.uint8], stateful=False)
        image.set_shape((height, width, 3))
        target.set_shape((height, width, 2))
        return image, target

    dataset = (
        tf.data.Dataset.counter(start=start_epoch * per_epoch)
        .map(sample, num_parallel_calls=augmentation_workers(threads), deterministic=True)
        .batch(batch_size, drop_remainder=True)
        .map(_model_io(heads))
        .prefetch(2)
        .with_options(_options(threads))
    )
    return dataset, steps


def validation_dataset(
    images: np.ndarray, targets: np.ndarray, batch_size: int, *, heads: int = 1, threads: int | None = None
) -> tf.data.Dataset:
    """One pass over the resized validation arrays (see `resize_split`), cached after the first."""
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices((images, targets))
        .batch(batch_size)
        .map(_model_io(heads))
        .cache()
        .prefetch(tf.data.AUTOTUNE)
        .with_options(_options(threads))
    )
