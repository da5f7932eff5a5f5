"""Per-class metrics of a K-class segmentation, from confusion matrices, the Cityscapes way.

Everything goes through the K x K confusion matrix C of valid pixels (rows: the true class,
columns: the predicted one), per image and per inference mode, so that pooling over images is a
sum, as for the road counts of `segsweep.evaluation.metrics`:

- class k's counts: tp_k = C[k, k], fp_k = sum_i C[i, k] - tp_k, fn_k = sum_j C[k, j] - tp_k;
- class IoU_k = tp_k / (tp_k + fp_k + fn_k), NaN where that denominator is 0 (the class is neither
  in the truth nor predicted), as the Cityscapes script (``cityscapesscripts/evaluation/
  evalPixelLevelSemanticLabeling.py``, getIouScoreForLabel) leaves such a class out. A class that is
  predicted but absent from the truth has IoU 0: its false positives count.
- mIoU = the mean of the defined class IoUs (the classes present in truth or prediction).

The split's figures pool the confusion matrices over its images first (IoU of the summed counts),
as the benchmarks do; per-image per-class counts are kept beside them so that the statistics can
resample images and recompute any class's pooled IoU, or mIoU, exactly.
"""

from __future__ import annotations

import numpy as np

from segsweep.evaluation.metrics import Counts


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, valid: np.ndarray, classes: int) -> np.ndarray:
    """Valid-pixel counts (..., K, K), rows truth and columns prediction, of (..., H, W) class maps.

    `predicted` may stack several maps (e.g. one per inference mode, (modes, H, W)) against one
    (H, W) `truth` and `valid`.
    """
    truth = np.asarray(truth, np.int64)
    predicted = np.asarray(predicted, np.int64)
    valid = np.asarray(valid, bool)
    maps = predicted.reshape(-1, *predicted.shape[-2:])
    pair = truth[valid] * classes  # the row offset of each valid pixel
    matrices = [np.bincount(pair + m[valid], minlength=classes * classes) for m in maps]
    return np.stack(matrices).reshape(*predicted.shape[:-2], classes, classes)


def class_counts(confusion: np.ndarray) -> Counts:
    """Each class's tp, fp, fn (..., K) from confusion matrices (..., K, K)."""
    confusion = np.asarray(confusion, np.int64)
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    return Counts(tp=tp, fp=confusion.sum(axis=-2) - tp, fn=confusion.sum(axis=-1) - tp)


def class_iou(counts: Counts) -> np.ndarray:
    """tp / (tp + fp + fn) per class; NaN where the class is neither in truth nor predicted."""
    tp, fp, fn = (np.asarray(c, np.float64) for c in counts)
    union = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.where(union > 0, union, 1.0), np.nan)


def mean_iou(iou_per_class: np.ndarray) -> np.ndarray:
    """The mean over the last (class) axis of the defined IoUs; NaN where no class is defined."""
    iou_per_class = np.asarray(iou_per_class, np.float64)
    defined = ~np.isnan(iou_per_class)
    total = np.where(defined, iou_per_class, 0.0).sum(axis=-1)
    n = defined.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)[()]
