"""Road metrics against values computed by hand on small masks, and the throughput timer."""

from __future__ import annotations

import numpy as np
import pytest

from segsweep.evaluation import speed
from segsweep.evaluation.metrics import (
    THRESHOLDS,
    Counts,
    average_precision,
    best_threshold,
    boundary_iou,
    boundary_region,
    boundary_width,
    confusion_counts,
    empty_reference,
    f1,
    iou,
    max_f,
    precision,
    probability_histograms,
    recall,
    road_mask,
    scores,
    threshold_counts,
)


def mask(rows: list[str]) -> np.ndarray:
    """'#' = True, '.' = False."""
    return np.array([[c == "#" for c in row] for row in rows])


PRED = mask(["##.", "##.", "..."])
TRUTH = mask(["#..", "##.", "##."])


def test_counts_and_metrics_by_hand():
    counts = confusion_counts(PRED, TRUTH)
    # tp: (0,0) (1,0) (1,1); fp: (0,1); fn: (2,0) (2,1)
    assert tuple(int(c) for c in counts) == (3, 1, 2)
    assert iou(counts) == pytest.approx(3 / 6)
    assert precision(counts) == pytest.approx(3 / 4)
    assert recall(counts) == pytest.approx(3 / 5)
    assert f1(counts) == pytest.approx(6 / 9)  # = 2PR / (P + R) = 2 * 0.45 / 1.35
    assert scores(counts) == pytest.approx({"iou": 0.5, "precision": 0.75, "recall": 0.6, "f1": 2 / 3})


def test_void_pixels_are_left_out_of_every_count():
    valid = mask(["#.#", "###", "#.."])  # voids (0,1) = fp, (2,1) = fn, (2,2) = tn
    counts = confusion_counts(PRED, TRUTH, valid)
    assert tuple(int(c) for c in counts) == (3, 0, 1)
    assert iou(counts) == pytest.approx(3 / 4)
    assert precision(counts) == 1.0


ZERO = np.zeros((2, 2), bool)
ONE = np.ones((2, 2), bool)
ZERO3 = np.zeros((3, 3), bool)
NAN = float("nan")


@pytest.mark.parametrize(
    "pred, truth, expected",
    [
        # Nothing to find and nothing found: an empty reference, no score at all (nnU-Net, MONAI).
        (ZERO, ZERO, {"iou": NAN, "precision": NAN, "recall": NAN, "f1": NAN}),
        # Empty reference, road predicted: still no IoU; every predicted pixel is wrong: precision 0.
        (ONE, ZERO, {"iou": NAN, "precision": 0.0, "recall": NAN, "f1": NAN}),
        # Road everywhere, all found.
        (ONE, ONE, {"iou": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0}),
        # Road missed entirely: precision's 0/0 scores 0, as the image's IoU does.
        (ZERO, ONE, {"iou": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}),
        # Everything predicted, half is road.
        (ONE, mask(["##", ".."]), {"iou": 0.5, "precision": 0.5, "recall": 1.0, "f1": 2 / 3}),
    ],
    ids=["both empty", "empty truth", "all road", "empty prediction", "all predicted"],
)
def test_zero_denominator_conventions(pred, truth, expected):
    counts = confusion_counts(pred, truth)
    assert scores(counts) == pytest.approx(expected, nan_ok=True)
    assert empty_reference(counts) == (not truth.any())


def test_all_void_image_is_an_empty_reference():
    counts = confusion_counts(ONE, ONE, valid=ZERO)
    assert tuple(int(c) for c in counts) == (0, 0, 0)
    assert empty_reference(counts)
    assert all(np.isnan(value) for value in scores(counts).values())


def test_empty_references_leave_pooled_metrics_alone_and_per_image_means_skip_them():
    # Image A has road, half found; image B has none and gets 2 false positives.
    counts = Counts(np.array([2, 0]), np.array([0, 2]), np.array([2, 0]))
    assert empty_reference(counts).tolist() == [False, True]
    assert np.isnan(iou(counts)[1])
    assert np.nanmean(iou(counts)) == pytest.approx(0.5)  # image A alone
    assert iou(counts.pooled()) == pytest.approx(2 / 6)  # B's false positives still count
    assert np.isnan(iou(Counts(0, 5, 0)))  # no road anywhere, even pooled: undefined


def test_pooled_and_per_image_mean_differ():
    # Image A: a small road, entirely missed (IoU 0). Image B: a large road, found exactly (IoU 1).
    truth = np.stack([mask(["#...", "...."]), mask(["####", "###."])])
    pred = np.stack([mask(["....", "...."]), mask(["####", "###."])])
    counts = confusion_counts(pred, truth)
    assert [c.tolist() for c in counts] == [[0, 7], [0, 0], [1, 0]]
    assert iou(counts).mean() == pytest.approx(0.5)  # (0 + 1) / 2
    pooled = counts.pooled()
    assert tuple(int(c) for c in pooled) == (7, 0, 1)
    assert iou(pooled) == pytest.approx(7 / 8)
    assert recall(pooled) == pytest.approx(7 / 8)
    assert recall(counts).mean() == pytest.approx(0.5)


def test_a_stack_of_predictions_against_one_truth_pools_per_column():
    # Two images x two modes; mode 0 is perfect, mode 1 predicts nothing.
    truth = np.stack([TRUTH, mask(["#..", "...", "..."])])[:, None]  # (images, 1, H, W)
    pred = np.stack([np.stack([t[0], ZERO3]) for t in truth])  # (images, modes, H, W)
    counts = confusion_counts(pred, truth)
    assert counts.tp.shape == (2, 2)
    per_mode = counts.pooled(axis=0)
    assert per_mode.tp.tolist() == [6, 0] and per_mode.fn.tolist() == [0, 6]
    assert iou(per_mode).tolist() == [1.0, 0.0]


def test_metrics_accept_plain_integer_counts():
    assert iou(Counts(2, 1, 1)) == pytest.approx(0.5)
    assert f1(Counts(3, 1, 0)) == pytest.approx(6 / 7)


def test_road_mask_is_strictly_above_the_threshold():
    assert road_mask(np.array([0.2, 0.5, 0.51]), 0.5).tolist() == [False, False, True]


# A hand case for the KITTI metrics: 4 road and 4 non-road pixels, one per probability. Sorted by
# probability: 0.9 R, 0.8 R, 0.7 N, 0.3 R, 0.2 N, 0.1 R, 0.05 N, 0.0 N. Lowering the threshold
# past each gives (precision, recall): (1, .25), (1, .5), (2/3, .5), (.75, .75), (.6, .75),
# (2/3, 1), (4/7, 1), (.5, 1); F1 peaks at 0.8 once 0.1 is road (t in (0.05, 0.1], levels
# 13..25 of 255 since floor(255 x 0.1) = 25 and floor(255 x 0.05) = 12).
# AP: the best precision at recall >= 0, .1, .., .5 is 1 (six levels); at >= 0.6000000000000001
# and 0.7000000000000001 it is .75; at >= .8, .9, 1 it is 2/3: (6 + 1.5 + 2) / 11.
HAND_PROBABILITY = np.array([[0.9, 0.8, 0.7, 0.3], [0.2, 0.1, 0.05, 0.0]], np.float32)
HAND_TRUTH = mask(["##.#", ".#.."])


def hand_curve():
    return threshold_counts(probability_histograms(HAND_PROBABILITY, HAND_TRUTH))


def test_kitti_max_f_average_precision_and_operating_point_by_hand():
    curve = hand_curve()
    assert curve.tp.shape == (256,)
    assert (int(curve.tp[0]), int(curve.fp[0]), int(curve.fn[0])) == (4, 4, 0)  # t_0 = 0: every pixel is road
    assert max_f(curve) == pytest.approx(0.8)
    assert average_precision(curve) == pytest.approx(9.5 / 11)
    threshold, best = best_threshold(curve)
    assert threshold == pytest.approx(13 / 255) and best == pytest.approx(0.8)


def test_recall_exactly_at_a_level_follows_the_devkits_floating_point_levels():
    # 10 road pixels, 3 of them sure: recall 0.3 exactly at the best precision (1.0), which the
    # devkit's level 3 x 0.1 = 0.30000000000000004 does not count as reaching.
    probability = np.array([[0.9] * 3 + [0.4] * 7 + [0.5] * 10], np.float32)
    truth = np.array([[True] * 10 + [False] * 10])
    curve = threshold_counts(probability_histograms(probability, truth))
    # Operating points: (1, .3), (3/13, .3), (.5, 1). Levels 0, .1, .2 -> 1.0; the 8 levels from
    # 0.30000000000000004 up reach only recall 1 -> 0.5. (With a level of exactly 0.3: (4 + 3.5) / 11.)
    expected = (3 * 1.0 + 8 * 0.5) / 11
    assert average_precision(curve) == pytest.approx(expected)


def test_threshold_counts_equal_thresholded_masks_inside_the_grid():
    rng = np.random.default_rng(0)
    probability = rng.uniform(0, 1, (2, 30, 40)).astype(np.float32)
    probability[0, 0, :5] = THRESHOLDS[[1, 64, 127, 128, 254]].astype(np.float32)  # at the grid, in float32
    probability[1, 0, :3] = [0.0, 1.0, 0.5]
    truth = rng.uniform(0, 1, (30, 40)) < 0.4
    valid = rng.uniform(0, 1, (30, 40)) < 0.9
    curve = threshold_counts(probability_histograms(probability, truth, valid))
    assert curve.tp.shape == (2, 256)
    for k in range(1, 255):
        direct = confusion_counts(road_mask(probability, THRESHOLDS[k]), truth, valid)
        assert [c[:, k].tolist() for c in curve] == [c.tolist() for c in direct], k
    assert curve.tp[:, 0].tolist() == [np.count_nonzero(truth & valid)] * 2


def test_kitti_metrics_agree_with_keras_precision_and_recall_at_every_level():
    # Keras' Precision and Recall metrics count true and false positives at given thresholds: an
    # implementation independent of ours (scikit-learn's precision_recall_curve was used until
    # 2026-12-03; installed, it made every `import keras` 1.4 s slower, in every job).
    import keras

    rng = np.random.default_rng(3)
    truth = rng.uniform(0, 1, (40, 50)) < 0.3
    probability = np.clip(0.35 * truth + rng.normal(0.35, 0.2, truth.shape), 0, 1).astype(np.float32)
    curve = threshold_counts(probability_histograms(probability, truth))
    level = np.floor(probability.astype(np.float64) * 255)  # the 8-bit map the devkit would read
    k = np.unique(level[level >= 1]).astype(int)  # one point per distinct level: road at level >= k, as ours
    thresholds = ((k - 0.5) / 255).tolist()  # level >= k, as Keras' "score > threshold"
    precision, recall = keras.metrics.Precision(thresholds=thresholds), keras.metrics.Recall(thresholds=thresholds)
    for metric in (precision, recall):
        metric.update_state(truth.ravel(), level.ravel() / 255)
    tp, fp = (np.asarray(v, np.int64) for v in (precision.true_positives, precision.false_positives))
    assert tp.tolist() == curve.tp[k].tolist() and fp.tolist() == curve.fp[k].tolist()
    assert (tp + np.asarray(recall.false_negatives, np.int64) == truth.sum()).all()
    p, r = tp / (tp + fp), tp / truth.sum()
    assert max_f(curve) == pytest.approx(np.max(2 * p * r / (p + r)), rel=1e-12)
    # 11-point interpolated AP, the KITTI devkit's, from Keras' counts.
    levels = np.arange(11) * 0.1
    eleven_point = np.mean([p[r >= level].max() for level in levels])
    assert average_precision(curve) == pytest.approx(eleven_point, rel=1e-12)


def test_kitti_metrics_are_nan_without_road():
    curve = threshold_counts(probability_histograms(HAND_PROBABILITY, np.zeros_like(HAND_TRUTH)))
    assert np.isnan(max_f(curve)) and np.isnan(average_precision(curve))
    assert np.isnan(best_threshold(curve)[1])


def test_boundary_iou_by_hand():
    # 10 x 10, d = max(1, round(0.02 x 14.1)) = 1. Truth: the left 5 columns; its boundary region is
    # columns 0 and 4 and rows 0 and 9 of those: 50 - 8 x 3 = 26 pixels. Prediction: the left 6
    # columns: 60 - 8 x 4 = 28. Shared: column 0 (10) and rows 0, 9 of columns 1..4 (8) = 18;
    # union 26 + 28 - 18 = 36.
    truth = np.zeros((10, 10), bool)
    truth[:, :5] = True
    pred = np.zeros((10, 10), bool)
    pred[:, :6] = True
    assert boundary_width(truth.shape) == 1
    assert np.count_nonzero(boundary_region(truth, 1)) == 26
    assert boundary_iou(pred, truth) == pytest.approx(18 / 36)
    assert iou(confusion_counts(pred, truth)) == pytest.approx(50 / 60)  # the region metric forgives more
    assert boundary_iou(np.stack([truth, np.zeros_like(truth)]), truth).tolist() == [1.0, 0.0]
    assert np.isnan(boundary_iou(pred, np.zeros_like(truth)))  # empty reference


def test_boundary_width_is_two_percent_of_the_diagonal():
    assert boundary_width((375, 1242)) == 26  # round(0.02 x 1297.4)


def test_boundary_region_matches_the_authors_erosion():
    # Cheng et al.'s code: mask minus its erosion by a 3x3 square, d times, the image padded with 0.
    from scipy import ndimage

    rng = np.random.default_rng(5)
    blobs = ndimage.gaussian_filter(rng.normal(0, 1, (60, 90)), 4) > 0
    for d in (1, 3, 7):
        eroded = ndimage.binary_erosion(np.pad(blobs, 1), np.ones((3, 3)), iterations=d)[1:-1, 1:-1]
        np.testing.assert_array_equal(boundary_region(blobs, d), blobs & ~eroded)


def test_boundary_iou_leaves_void_out_of_both_masks():
    truth = np.zeros((10, 10), bool)
    truth[5:, :] = True
    pred = truth.copy()
    pred[:5, :] = True  # the top half predicted road too, but it is void
    valid = np.zeros((10, 10), bool)
    valid[5:, :] = True
    assert boundary_iou(pred, truth, valid) == 1.0
    assert boundary_iou(pred, truth) < 1.0


def test_median_rate_times_only_the_repeats_and_takes_their_median(monkeypatch):
    clock = [0.0]
    durations = iter([100.0, 0.5, 2.0, 1.0])  # the 100 s warm-up must not count
    monkeypatch.setattr(speed.time, "perf_counter", lambda: clock[0])

    def step():
        clock[0] += next(durations)

    assert speed.median_rate(step, items=4, repeats=3, warmup=1) == pytest.approx(4 / 1.0)


def test_median_rate_of_real_work_is_positive():
    assert speed.median_rate(lambda: np.ones((64, 64)).sum(), items=2, repeats=3) > 0


def test_median_rate_refuses_no_repeats():
    with pytest.raises(ValueError):
        speed.median_rate(lambda: None, items=1, repeats=0)
