"""Road-segmentation metrics from confusion counts, in pure NumPy (and SciPy for Boundary IoU).

Everything goes through counts (true positives, false positives, false negatives of the road
class) so that one set of ratio functions serves both aggregations, which differ and are both
reported:

- **pooled**: sum the counts over all images first, then take the ratio
  (``iou(counts.pooled())``), as the KITTI and Cityscapes benchmarks do; large road areas
  weigh more.
- **per-image mean**: the ratio per image, then the mean over the images that have road
  (``np.nanmean(iou(counts))``); every such image weighs the same.

Pixels whose ``valid`` is False (void) are left out of every count.

Empty references and zero denominators. An image with no road pixel in truth after void (an
*empty reference*: tp + fn == 0) has nothing to find, so its IoU, recall and F1 are undefined:
they are **NaN**, as nnU-Net and MONAI score such cases, rather than 1.0 for a correct empty
prediction, which would reward the easiest images and, with many of them, swamp the mean. The
per-image means leave NaN out (``np.nanmean``); the pooled metrics are unaffected, and the
image's false positives still count there. Precision stays the ratio tp / (tp + fp) where that
is defined: 0.0 on an empty reference where road was predicted (every predicted pixel is wrong),
NaN where nothing was predicted either. On an image *with* road the only zero denominator is
precision's when nothing is predicted: 0.0, the road was missed, consistent with that image's
IoU, recall and F1 of 0. `segsweep.evaluation.evaluator` takes the per-image means over the images
with road only, for every metric, so all means are over the same images.

Threshold-free metrics (MaxF, AP) and Boundary IoU are defined below with their sources.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


class Counts(NamedTuple):
    """Road-class confusion counts; each field is an integer array (or scalar) of the same shape."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @classmethod
    def stack(cls, rows: list[Counts]) -> Counts:
        """One Counts of shape (images, ...) from each image's counts, in order."""
        return cls(*(np.stack(column) for column in zip(*rows)))

    def pooled(self, axis: int | tuple[int, ...] | None = None) -> Counts:
        """Counts summed over images (every axis by default): the input of the pooled metrics.

        With counts of shape (images, modes), ``pooled(axis=0)`` pools each mode separately.
        """
        return Counts(*(np.sum(c, axis=axis, dtype=np.int64) for c in self))


def road_mask(probability: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
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


def empty_reference(counts: Counts) -> np.ndarray:
    """True where the truth has no road pixel (after void): tp + fn == 0."""
    return np.add(counts.tp, counts.fn) == 0


def _ratio(numerator, denominator, undefined) -> np.ndarray:
    """numerator / denominator, and `undefined` where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, undefined, numerator / safe)[()]  # [()]: a scalar for one image


def iou(counts: Counts) -> np.ndarray:
    """Road intersection over union, tp / (tp + fp + fn); NaN on an empty reference."""
    tp, fp, fn = counts
    return _ratio(tp, np.where(empty_reference(counts), 0, np.add(tp, fp) + fn), np.nan)


def precision(counts: Counts) -> np.ndarray:
    """Share of predicted road that is road, tp / (tp + fp); 0/0 is 0.0 with road in truth, else NaN."""
    undefined = np.where(empty_reference(counts), np.nan, 0.0)
    return _ratio(counts.tp, np.add(counts.tp, counts.fp), undefined)


def recall(counts: Counts) -> np.ndarray:
    """Share of road that was predicted, tp / (tp + fn); NaN on an empty reference."""
    return _ratio(counts.tp, np.add(counts.tp, counts.fn), np.nan)


def f1(counts: Counts) -> np.ndarray:
    """Harmonic mean of precision and recall (the Dice coefficient), 2 tp / (2 tp + fp + fn); NaN on
    an empty reference."""
    tp, fp, fn = counts
    denominator = np.where(empty_reference(counts), 0, np.multiply(2, tp) + fp + fn)
    return _ratio(np.multiply(2, tp), denominator, np.nan)


# Name -> function, in the order tables and files list them.
METRICS: dict[str, Callable[[Counts], np.ndarray]] = {"iou": iou, "precision": precision, "recall": recall, "f1": f1}


def scores(counts: Counts) -> dict[str, np.ndarray]:
    """Every metric of METRICS for `counts`, keyed by name."""
    return {name: metric(counts) for name, metric in METRICS.items()}


# --- Threshold-free metrics of the KITTI road benchmark ------------------------------------------
#
# The devkit (evaluateRoad.py and helper.py, Fritsch, Kuehnl and Geiger, ITSC 2013) reads each
# probability map as an 8-bit PNG, p = v / 255, and scores the thresholds t_k = k / 255,
# k = 0..255: a pixel is road at t_k when p >= t_k. It sums, over all images of the set, the
# false negatives and false positives at every t_k and the road and non-road pixel totals, then
# (pxEval_maximizeFMeasure):
#   recall R_k = TP_k / P,   precision P_k = TP_k / (TP_k + FP_k)  (0 where nothing is predicted),
#   MaxF = max_k 2 P_k R_k / (P_k + R_k),
#   AP = (1/11) sum over r in {0, 0.1, .., 1.0} of max{P_k : R_k >= r}  (Pascal VOC 11-point;
#        the levels are i x 0.1 in floating point, as the devkit's np.arange, so 3 x 0.1 is
#        0.30000000000000004 and a recall of exactly 0.3 does not reach that level).
# The devkit adds 1e-10 to the denominators of P_k and F; here the zero cases are explicit.
# Our maps are float32; their level floor(255 p) is what an 8-bit map stored by truncation holds,
# so the counts below are the devkit's on such maps. For 0 < k < 255 a float32 p is never equal to
# k / 255 (not a binary fraction), so "level >= k" is exactly ``road_mask(p, k / 255)``.

LEVELS = 256
THRESHOLDS = np.arange(LEVELS) / (LEVELS - 1)  # t_k = k / 255
RECALL_LEVELS = np.arange(11) * 0.1  # the devkit's 0, 0.1, .., 1.0, bit for bit


def probability_histograms(probability: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Pixels per probability level floor(255 p): shape (..., 2, 256), [..., 0, :] road, [..., 1, :] not.

    `probability` is (..., H, W) in [0, 1] (e.g. one map per inference mode), `truth` and `valid`
    (H, W). Summed over images, these are all the devkit needs, so no map has to be kept.
    """
    probability = np.asarray(probability)
    maps = probability.reshape(-1, *probability.shape[-2:])
    keep = np.ones(maps.shape[-2:], bool) if valid is None else np.asarray(valid, bool)
    # floor by truncation (p >= 0; a resize's rounding below 0 truncates to 0 too); exact in float64
    level = np.minimum((maps[:, keep].astype(np.float64) * (LEVELS - 1)).astype(np.int64), LEVELS - 1)
    not_road = (~np.asarray(truth, bool)[keep]).astype(np.int64)
    index = (np.arange(len(maps))[:, None] * 2 + not_road) * LEVELS + level
    counts = np.bincount(index.ravel(), minlength=len(maps) * 2 * LEVELS)
    return counts.reshape(*probability.shape[:-2], 2, LEVELS)


def threshold_counts(histograms: np.ndarray) -> Counts:
    """Counts at every threshold t_k on the last axis: road is p >= t_k (level >= k)."""
    road, other = histograms[..., 0, :], histograms[..., 1, :]
    tp = np.cumsum(road[..., ::-1], axis=-1)[..., ::-1]
    fp = np.cumsum(other[..., ::-1], axis=-1)[..., ::-1]
    return Counts(tp, fp, road.sum(axis=-1, keepdims=True) - tp)


def _devkit_precision_recall(curve: Counts) -> tuple[np.ndarray, np.ndarray]:
    """The devkit's P_k and R_k: precision 0 where nothing is predicted; recall NaN without road."""
    return _ratio(curve.tp, np.add(curve.tp, curve.fp), 0.0), recall(curve)


def max_f(curve: Counts) -> np.ndarray:
    """KITTI MaxF: the best F1 over the thresholds of `threshold_counts` (last axis)."""
    p, r = _devkit_precision_recall(curve)
    return np.max(_ratio(2 * p * r, p + r, 0.0), axis=-1)


def average_precision(curve: Counts) -> np.ndarray:
    """KITTI AP: the mean over RECALL_LEVELS of the best precision at a recall of at least that level.

    Threshold t_0 = 0 predicts every pixel, so some threshold reaches every level when there is
    road; without road the result is NaN.
    """
    p, r = _devkit_precision_recall(curve)
    reached = r[..., None, :] >= RECALL_LEVELS[:, None]  # (..., 11, thresholds)
    best = np.max(np.where(reached, p[..., None, :], -np.inf), axis=-1)
    return np.where(np.isnan(r).all(axis=-1), np.nan, np.mean(best, axis=-1))


def best_threshold(curve: Counts) -> tuple[np.ndarray, np.ndarray]:
    """The threshold t_k, 0 < k < 255, of the highest pooled F1 (MaxF's operating point), and that F1.

    Pooled F1 = 2 IoU / (1 + IoU) rises with pooled IoU, so this threshold maximises both. Ties
    go to the lowest threshold, as the devkit's argmax. The ends are left out: t_0 predicts every
    pixel and t_255 only p == 1, and ``evaluate.threshold`` lies strictly inside (0, 1).
    """
    inner = Counts(*(c[..., 1 : LEVELS - 1] for c in curve))
    score = f1(inner)
    k = np.argmax(np.nan_to_num(score, nan=-1.0), axis=-1)
    return THRESHOLDS[k + 1], np.take_along_axis(score, k[..., None], axis=-1)[..., 0]


# --- Boundary IoU (Cheng, Girshick, Dollar, Berg and Kirillov, CVPR 2021) ------------------------
#
# The boundary region of a mask is its pixels within distance d of its contour, d a fraction of
# the image diagonal (2% by default, at least 1 pixel); Boundary IoU is the IoU of the truth's and
# the prediction's boundary regions. As the authors' code (erosion by a 3x3 square, d times, with
# the image padded by background) the distance is the chessboard distance and the image edge
# counts as contour. Void pixels are taken out of both masks first, so void acts as non-road for
# both and no contour is scored inside it.

BOUNDARY_RATIO = 0.02


def boundary_width(shape: tuple[int, ...], ratio: float = BOUNDARY_RATIO) -> int:
    """d in pixels: round(ratio x image diagonal), at least 1."""
    height, width = shape[-2:]
    return max(1, int(round(ratio * np.hypot(height, width))))


def boundary_region(mask: np.ndarray, d: int) -> np.ndarray:
    """Pixels of a (H, W) boolean mask within chessboard distance d of a non-mask pixel or the edge."""
    from scipy import ndimage

    padded = np.pad(np.asarray(mask, bool), 1)
    distance = ndimage.distance_transform_cdt(padded, metric="chessboard")[1:-1, 1:-1]
    return np.asarray(mask, bool) & (distance <= d)


def boundary_iou(
    pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None, ratio: float = BOUNDARY_RATIO
) -> np.ndarray:
    """Boundary IoU of each (H, W) prediction in `pred` (..., H, W) against `truth`; NaN when the
    truth has no road (an empty reference, as for IoU)."""
    pred = np.asarray(pred, bool)
    truth = np.asarray(truth, bool)
    if valid is not None:
        pred = pred & valid
        truth = truth & valid
    d = boundary_width(truth.shape, ratio)
    truth_region = boundary_region(truth, d)
    maps = pred.reshape(-1, *pred.shape[-2:])
    result = np.full(len(maps), np.nan)
    if truth.any():
        for m, mask in enumerate(maps):
            region = boundary_region(mask, d)
            result[m] = np.count_nonzero(region & truth_region) / np.count_nonzero(region | truth_region)
    return result.reshape(pred.shape[:-2])[()]
