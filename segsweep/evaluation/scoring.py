"""Score every inference mode of a model on a list of samples, one batch in memory at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
from PIL import Image

from segsweep.data.classes import focus_name
from segsweep.data.folder import dataset_classes, dataset_format
from segsweep.data.formats import Sample, load_pair
from segsweep.evaluation.class_metrics import confusion_matrix
from segsweep.evaluation.metrics import (
    Counts,
    boundary_iou,
    confusion_counts,
    probability_histograms,
    road_mask,
)
from segsweep.evaluation.predict import predict_mode_maps, stacked_model


class SplitScores(NamedTuple):
    """One split's scores; modes in the order of the `models` dict scored."""

    histograms: np.ndarray  # (modes, 2, 256): road / non-road valid pixels per probability level, all images
    counts: Counts | None  # (images, modes) at the thresholds; None when none were given
    boundary_iou: np.ndarray | None  # (images, modes), NaN on an empty reference; None likewise
    confusion: np.ndarray | None = None  # (images, modes, K, K) with K > 1 classes: truth x prediction


class Task(NamedTuple):
    """What the network predicts: `classes` output channels (1: binary road) and, with several,
    the index of the `focus` class that the road columns describe (`segsweep.data.classes`)."""

    classes: tuple | None
    focus: int

    @property
    def channels(self) -> int:
        return 1 if self.classes is None else len(self.classes)

    @classmethod
    def of(cls, dataset: dict) -> Task:
        classes = dataset_classes(dataset)
        if classes is None:
            return cls(None, 0)
        return cls(classes, [c.name for c in classes].index(dataset.get("focus") or focus_name(classes, "")))

    def predict(
        self,
        model: keras.Model,
        images: Sequence[np.ndarray],
        input_size: Sequence[int],
        batch_size: int,
        flip: bool = False,
    ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per image: the focus class's probability (modes, H, W) and, with several classes, each
        mode's predicted class (argmax, (modes, H, W)); else None (`predict_mode_maps`; `flip`:
        averaged with the mirrored image's)."""
        return predict_mode_maps(model, images, input_size, self.channels, self.focus, batch_size, flip)


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
    flip: bool = False,
) -> SplitScores:
    """Per-threshold histograms of every mode and, given one threshold per mode, per-image counts and
    Boundary IoU at those thresholds; mode `mask_mode`'s masks are saved as {stem}.png in `masks_dir`.

    `models` maps mode names to one-output models on the same input (see
    `segsweep.evaluation.predict.mode_models`); one forward pass per batch serves them all.
    `dataset` is the settings' dataset dict (format, positive_ids, void_ids, classes); `flip` adds
    test-time mirroring (`segsweep.evaluation.predict`). With several
    classes the thresholds only mark that counts are wanted: a pixel is its argmax class, the road
    counts are the focus class's, and each image's confusion matrix is kept; its masks hold class indices. Only the current batch's
    images and full-resolution probability maps are held in memory.
    """
    model = stacked_model(models)
    histograms = np.zeros((len(models), 2, 256), np.int64)
    rows: list[Counts] = []
    boundaries: list[np.ndarray] = []
    confusions: list[np.ndarray] = []
    fmt, task = dataset_format(dataset), Task.of(dataset)
    for batch in _batches(samples, batch_size):
        pairs = [
            load_pair(fmt, sample, dataset.get("positive_ids"), dataset.get("void_ids"), task.classes)
            for sample in batch
        ]
        maps = task.predict(model, [image for image, _, _ in pairs], input_size, batch_size, flip)
        for sample, (_, label, valid), (focus, predicted_class) in zip(batch, pairs, maps, strict=True):
            truth = label if task.classes is None else label == task.focus
            histograms += probability_histograms(focus, truth, valid)
            if thresholds is None:
                continue
            if predicted_class is None:
                predicted = road_mask(focus, np.asarray(thresholds)[:, None, None])
                mask = np.where(predicted[mask_mode], 255, 0).astype(np.uint8)
            else:  # several classes: each pixel is its most probable class, as the benchmarks score
                predicted = predicted_class == task.focus
                confusions.append(confusion_matrix(label, predicted_class, valid, task.channels))
                mask = predicted_class[mask_mode]
            rows.append(confusion_counts(predicted, truth, valid))
            boundaries.append(boundary_iou(predicted, truth, valid))
            if masks_dir is not None:
                Image.fromarray(mask).save(masks_dir / f"{sample.stem}.png")
    if thresholds is None:
        return SplitScores(histograms, None, None)
    return SplitScores(
        histograms, Counts.stack(rows), np.stack(boundaries), np.stack(confusions) if confusions else None
    )
