"""Score every inference mode of a model on a list of samples, one batch in memory at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from segsweep.data.formats import Sample, load_pair
from segsweep.evaluation.metrics import Counts, confusion_counts, road_mask
from segsweep.evaluation.predict import predict_probabilities, stacked_model


def _batches(samples: Sequence[Sample], size: int) -> Iterator[Sequence[Sample]]:
    for start in range(0, len(samples), size):
        yield samples[start : start + size]


def score_samples(
    models: dict[str, keras.Model],
    samples: Sequence[Sample],
    dataset: dict,
    input_size: Sequence[int],
    threshold: float,
    batch_size: int,
    masks_dir: Path,
) -> Counts:
    """Counts of shape (len(samples), len(models)), and the first mode's masks as {stem}.png.

    `models` maps mode names to one-output models on the same input (see
    `segsweep.evaluation.predict.mode_models`); one forward pass per batch serves them all.
    `dataset` is the settings' dataset dict (format, positive_ids, void_ids). Only the current batch's
    images and full-resolution probability maps are held in memory.
    """
    model = stacked_model(models)
    rows: list[Counts] = []
    for batch in _batches(samples, batch_size):
        pairs = [
            load_pair(dataset["format"], sample, dataset.get("positive_ids"), dataset.get("void_ids")) for sample in batch
        ]
        probabilities = predict_probabilities(model, [image for image, _, _ in pairs], input_size)
        for sample, (_, road, valid), probability in zip(batch, pairs, probabilities, strict=True):
            predicted = np.moveaxis(road_mask(probability, threshold), -1, 0)  # (modes, H, W)
            rows.append(confusion_counts(predicted, road, valid))
            Image.fromarray(np.where(predicted[0], 255, 0).astype(np.uint8)).save(masks_dir / f"{sample.stem}.png")
    return Counts(*(np.stack(column) for column in zip(*rows)))
