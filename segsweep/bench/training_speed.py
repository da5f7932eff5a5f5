"""Training images/s for one model fed three ways, and the compute it achieves.

Every feed trains the same model (same seed, batch and input size, same loss and optimizer) for
a few epochs; the first epoch (tracing, kernel selection, cache filling) is not timed, and the
figure is the median over the timed epochs, so one slowed epoch on a shared machine does not
move it. Feeds:

- ``seed_style``: the seed notebook's `PyDataset` (PNG decode + albumentations per item, 1 worker);
- ``pipeline``: our training pipeline (`segsweep.training.pipeline.train_dataset`), augmenting;
- ``in_memory``: the upper bound: resized tensors cached in memory, no augmentation.

Each measurement runs in a fresh process (`measure`): measured one after another in one
process, a feed's leftover threads (the `PyDataset` enqueuer, tf.data workers of an endless
stream) kept running during the next feed's epochs and slowed it, by up to a third.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import keras

from segsweep.data.formats import Sample
from segsweep.models import build_model
from segsweep.training.compiling import compile_for_training
from segsweep.training.pipeline import DecodedSplit


class EpochTimer(keras.callbacks.Callback):
    """Seconds of each epoch; with `roof` (a function measuring the machine's GFLOP/s), that roof is
    also measured before every epoch after the first and once after the last, outside the timed
    windows. On a shared machine the speed on offer moves within seconds (the matmul peak read 116
    to 242 GFLOP/s within one minute here, 2026-12-03, Xeon), so each epoch is compared with the
    roof measured beside it (`fractions_of_roof`), not with one taken minutes before."""

    def __init__(self, roof: Callable[[], float] | None = None):
        super().__init__()
        self.seconds: list[float] = []
        self.roofs: list[float] = []
        self._roof = roof

    def on_epoch_begin(self, epoch, logs=None):
        if self._roof is not None and epoch > 0:
            self.roofs.append(self._roof())
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def on_train_end(self, logs=None):
        if self._roof is not None:
            self.roofs.append(self._roof())


def fractions_of_roof(gflops: list[float], roofs: list[float]) -> list[float]:
    """Each timed epoch's GFLOP/s over the mean of the roofs measured just before and just after it
    (len(roofs) == len(gflops) + 1): a ratio of two figures taken in the same seconds."""
    if len(roofs) != len(gflops) + 1:
        raise ValueError(f"{len(gflops)} epochs need {len(gflops) + 1} roof measurements, got {len(roofs)}")
    return [g / statistics.mean(roofs[k : k + 2]) for k, g in enumerate(gflops)]


def _seed_style_feed(samples: list[Sample], fmt: str, preset: list[dict], input_size, batch_size: int, seed: int):
    from segsweep.bench.seed_style import SeedStyleSequence
    from segsweep.data.formats import default_positive_ids
    from segsweep.training.augment import build_transform

    transform = build_transform(preset, "seed_style", input_size)
    transform.set_random_seed(seed)
    pairs = [(str(s.image), str(s.label)) for s in samples]
    sequence = SeedStyleSequence(pairs, batch_size, transform, default_positive_ids(fmt))
    return sequence, len(sequence)


def _in_memory_feed(data: DecodedSplit, input_size, batch_size: int, heads: int):
    import tensorflow as tf

    from segsweep.training.pipeline import resize_split

    images, targets = resize_split(data, input_size)
    x = tf.constant(images, tf.float32) / 255.0
    y = tf.constant(targets, tf.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, y if heads == 1 else (y,) * heads))
    steps = len(data) // batch_size
    return dataset.shuffle(len(data), seed=0).batch(batch_size, drop_remainder=True).repeat().prefetch(2), steps


def images_per_second(
    feed: str,
    *,
    model_settings: dict,
    data: DecodedSplit | None,  # None for the seed-style feed, which reads the PNGs
    samples: list[Sample],
    fmt: str,
    preset: list[dict],
    input_size: tuple[int, int],
    batch_size: int,
    epochs: int,
    jit_compile: bool,
    seed: int,
    threads: int,
    roof: Callable[[], float] | None = None,
) -> dict:
    """Median training images/s over epochs 2..`epochs` for one feed (with `roof`, see `EpochTimer`).

    Expects `segsweep.training.runtime.configure` to have set threads, seed and dtype policy.
    """
    from segsweep.training.augment import Augmenter
    from segsweep.training.pipeline import train_dataset

    model = build_model(model_settings, (*input_size, 3))
    heads = len(model.output_names)
    if feed == "seed_style":
        dataset, steps = _seed_style_feed(samples, fmt, preset, input_size, batch_size, seed)
        if heads > 1:
            raise ValueError("the seed-style feed is measured with single-output models only")
        fit_kwargs = {}
    elif feed == "pipeline":
        augmenter = Augmenter(preset, "bench", input_size, seed)
        dataset, steps = train_dataset(data, augmenter, batch_size, seed, heads=heads, threads=threads)
        fit_kwargs = {"steps_per_epoch": steps}
    elif feed == "in_memory":
        dataset, steps = _in_memory_feed(data, input_size, batch_size, heads)
        fit_kwargs = {"steps_per_epoch": steps}
    else:
        raise ValueError(f"unknown feed {feed!r}")
    compile_for_training(
        model, 1e-3, dataset[0] if feed == "seed_style" else dataset.element_spec, jit_compile=jit_compile
    )
    timer = EpochTimer(roof)
    model.fit(dataset, epochs=epochs, callbacks=[timer], verbose=0, **fit_kwargs)
    images = steps * batch_size
    rates = [images / s for s in timer.seconds[1:]]
    return {
        "feed": feed,
        "images_per_second": statistics.median(rates),
        "epoch_rates": rates,
        "images_per_epoch": images,
        "roofs": timer.roofs,
        "model": model,
    }


def achieved_gflops(images_per_second: float, forward_flops: int) -> float:
    """Training FLOPs are about 3x the forward pass (forward, input gradients, weight gradients)."""
    return 3 * forward_flops * images_per_second / 1e9


def measure(spec: dict) -> dict:
    """One measurement in this (fresh) process: `spec` holds `images_per_second`'s arguments,
    with ``manifest`` and ``n_images`` (the first n training samples) instead of the data,
    ``precision``, and ``roof_matmul_size``: n of the n x n float32 matmul measured between epochs
    as the roof (None: no roof). Returns images/s, the epochs' rates and the achieved GFLOP/s; with
    a roof, also its median and the median of the epochs' `fractions_of_roof`."""
    from pathlib import Path

    from segsweep.bench.machine import matmul_gflops
    from segsweep.data.manifest import manifest_samples, read_manifest
    from segsweep.models import forward_flops
    from segsweep.training import runtime
    from segsweep.training.pipeline import decode_samples

    spec = dict(spec)
    samples = manifest_samples(read_manifest(Path(spec.pop("manifest"))), "train")[: spec.pop("n_images")]
    threads, precision, roof_n = spec["threads"], spec.pop("precision"), spec.pop("roof_matmul_size")
    # Our feeds run as a training job sets up (Keras turns XLA off under op determinism, so XLA
    # runs without it); the seed's feed runs as the notebook did: without op determinism, which
    # slowed its generator-fed epochs by a quarter or more, and with OpenCV's own thread pool.
    seed_style = spec["feed"] == "seed_style"
    runtime.configure(threads, spec["seed"], not (seed_style or spec["jit_compile"]), precision, log=lambda _: None)
    if seed_style:
        import cv2

        cv2.setNumThreads(-1)  # OpenCV's default
    data = None if seed_style else decode_samples(spec["fmt"], samples, None, threads)  # it reads PNGs itself
    spec["input_size"] = tuple(spec["input_size"])
    roof = None if roof_n is None else lambda: matmul_gflops(n=roof_n, repeats=3)
    result = images_per_second(**spec, data=data, samples=samples, roof=roof)
    flops = forward_flops(result.pop("model"))
    roofs = result.pop("roofs")
    out = {**result, "precision": precision, "gflops": achieved_gflops(result["images_per_second"], flops)}
    if roofs:
        epoch_gflops = [achieved_gflops(rate, flops) for rate in result["epoch_rates"]]
        fractions = fractions_of_roof(epoch_gflops, roofs)
        out["roof_gflops"] = roofs
        out["epoch_fractions_of_peak"] = fractions
        out["matmul_peak_gflops"] = statistics.median(roofs)
        out["fraction_of_peak"] = statistics.median(fractions)
    return out
