"""Road-segmentation metrics from confusion counts, in pure NumPy.

Everything goes through counts (true positives, false positives, false negatives of the road
class) so that one set of ratio functions serves both aggregations, which differ and are both
reported:

- **pooled**: sum the counts over all images first, then take the ratio
  (``iou(counts.pooled())``), as the KITTI and Cityscapes benchmarks do; large road areas
  weigh more.
- **per-image mean**: the ratio per image, then the mean (``iou(counts).mean()``); every image
  weighs the same, so small or empty-road images matter as much as large ones.

Pixels whose ``valid`` is False (void, e.g. CamVid class 11) are left out of every count.

Zero denominators. A ratio is undefined when its denominator is 0; it then scores **1.0 if the
prediction has no error at all (fp == fn == 0) and 0.0 otherwise**:

- IoU = tp / (tp + fp + fn) and F1 = 2 tp / (2 tp + fp + fn): the denominator is 0 only when
  neither truth nor prediction has road, which is a perfect answer: 1.0.
- precision = tp / (tp + fp), with no predicted road: 1.0 if the truth has none either,
  0.0 if road was missed (fn > 0), consistent with that image's IoU and F1 of 0.
- recall = tp / (tp + fn), with no road in truth: 1.0 if none was predicted either,
  0.0 if road was predicted (fp > 0), again consistent with IoU and F1.

So an image never scores better on precision or recall than its errors allow, and an empty
image predicted empty counts as a full success rather than being dropped from the mean.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


class Counts(NamedTuple):
    """Road-class confusion counts; each field is an integer array (or scalar) of the same shape."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    def pooled(self, axis: int | tuple[int, ...] | None = None) -> Counts:
        """Counts summed over images (every axis by default): the input of the pooled metrics.

        With counts of shape (images, modes), ``pooled(axis=0)`` pools each mode separately.
        """
        return Counts(*(np.sum(c, axis=axis, dtype=np.int64) for c in self))


def road_mask(probability: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted road: probability strictly above `threshold` (0.5 exactly is not road)."""
    return np.asarray(probability) > threshold


def confusion_counts(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> Counts:
    """tp, fp, fn over the last two (image) axes of boolean road masks.

    `pred`, `truth` and `valid` broadcast against each other, so a stack of predictions
    (N, H, W) against one truth (H, W) gives counts of shape (N,); one image gives scalars.
    """
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        pred = pred & valid
        truth = truth & valid
    axes = (-2, -1)
    return Counts(
        tp=np.count_nonzero(pred & truth, axis=axes),
        fp=np.count_nonzero(pred & ~truth, axis=axes),
        fn=np.count_nonzero(~pred & truth, axis=axes),
    )


def _ratio(numerator: np.ndarray, denominator: np.ndarray, counts: Counts) -> np.ndarray:
    """numerator / denominator, with the module's convention where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    exact = (np.asarray(counts.fp) == 0) & (np.asarray(counts.fn) == 0)
    undefined = np.where(exact, 1.0, 0.0)
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, undefined, numerator / safe)[()]  # [()]: a scalar for one image


def iou(counts: Counts) -> np.ndarray:
    """Road intersection over union, tp / (tp + fp + fn)."""
    tp, fp, fn = counts
    return _ratio(tp, np.add(tp, fp) + fn, counts)


def precision(counts: Counts) -> np.ndarray:
    """Share of predicted road that is road, tp / (tp + fp)."""
    return _ratio(counts.tp, np.add(counts.tp, counts.fp), counts)


def recall(counts: Counts) -> np.ndarray:
    """Share of road that was predicted, tp / (tp + fn)."""
    return _ratio(counts.tp, np.add(counts.tp, counts.fn), counts)


def f1(counts: Counts) -> np.ndarray:
    """Harmonic mean of precision and recall (the Dice coefficient), 2 tp / (2 tp + fp + fn)."""
    tp, fp, fn = counts
    return _ratio(np.multiply(2, tp), np.multiply(2, tp) + fp + fn, counts)


# Name -> function, in the order tables and files list them.
METRICS: dict[str, Callable[[Counts], np.ndarray]] = {"iou": iou, "precision": precision, "recall": recall, "f1": f1}


def scores(counts: Counts) -> dict[str, np.ndarray]:
    """Every metric of METRICS for `counts`, keyed by name."""
    return {name: metric(counts) for name, metric in METRICS.items()}
