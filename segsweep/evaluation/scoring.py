"""Score every inference mode of a model on a list of samples, one batch in memory at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
from PIL import Image

from segsweep.data.folder import dataset_format
from segsweep.data.formats import Sample, load_pair
from segsweep.evaluation.metrics import (
    Counts,
    boundary_iou,
    confusion_counts,
    probability_histograms,
    road_mask,
)
from segsweep.evaluation.predict import predict_probabilities, stacked_model


class SplitScores(NamedTuple):
    """One split's scores; modes in the order of the `models` dict scored."""

    histograms: np.ndarray  # (modes, 2, 256): road / non-road valid pixels per probability level, all images
    counts: Counts | None  # (images, modes) at the thresholds; None when none were given
    boundary_iou: np.ndarray | None  # (images, modes), NaN on an empty reference; None likewise


def _batches(samples: Sequence[Sample], size: int) -> Iterator[Sequence[Sample]]:
    for start in range(0, len(samples), size):
        yield samples[start : start + size]


def score_samples(
    models: dict[str, keras.Model],
    samples: Sequence[Sample],
    dataset: dict,
    input_size: Sequence[int],
    thresholds: np.ndarray | None,
    batch_size: int,
    masks_dir: Path | None = None,
    mask_mode: int = 0,
) -> SplitScores:
    """Per-threshold histograms of every mode and, given one threshold per mode, per-image counts and
    Boundary IoU at those thresholds; mode `mask_mode`'s masks are saved as {stem}.png in `masks_dir`.

    `models` maps mode names to one-output models on the same input (see
    `segsweep.evaluation.predict.mode_models`); one forward pass per batch serves them all.
    `dataset` is the settings' dataset dict (format, positive_ids, void_ids). Only the current batch's
    images and full-resolution probability maps are held in memory.
    """
    model = stacked_model(models)
    histograms = np.zeros((len(models), 2, 256), np.int64)
    rows: list[Counts] = []
    boundaries: list[np.ndarray] = []
    fmt = dataset_format(dataset)
    for batch in _batches(samples, batch_size):
        pairs = [load_pair(fmt, sample, dataset.get("positive_ids"), dataset.get("void_ids")) for sample in batch]
        probabilities = predict_probabilities(model, [image for image, _, _ in pairs], input_size, batch_size)
        for sample, (_, road, valid), probability in zip(batch, pairs, probabilities, strict=True):
            probability = np.moveaxis(probability, -1, 0)  # (modes, H, W)
            histograms += probability_histograms(probability, road, valid)
            if thresholds is None:
                continue
            predicted = road_mask(probability, np.asarray(thresholds)[:, None, None])
            rows.append(confusion_counts(predicted, road, valid))
            boundaries.append(boundary_iou(predicted, road, valid))
            if masks_dir is not None:
                mask = np.where(predicted[mask_mode], 255, 0).astype(np.uint8)
                Image.fromarray(mask).save(masks_dir / f"{sample.stem}.png")
    if thresholds is None:
        return SplitScores(histograms, None, None)
    return SplitScores(histograms, Counts.stack(rows), np.stack(boundaries))
