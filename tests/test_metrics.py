"""Road metrics against values computed by hand on small masks, and the throughput timer."""

from __future__ import annotations

import numpy as np
import pytest

from segsweep.evaluation import speed
from segsweep.evaluation.metrics import Counts, confusion_counts, f1, iou, precision, recall, road_mask, scores


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


@pytest.mark.parametrize(
    "pred, truth, expected",
    [
        # Nothing to find and nothing found: a perfect answer.
        (ZERO, ZERO, {"iou": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0}),
        # Road everywhere, all found.
        (ONE, ONE, {"iou": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0}),
        # Empty truth, road predicted: recall's 0/0 scores 0, as the image's IoU does.
        (ONE, ZERO, {"iou": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}),
        # Road missed entirely: precision's 0/0 scores 0.
        (ZERO, ONE, {"iou": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}),
        # Everything predicted, half is road.
        (ONE, mask(["##", ".."]), {"iou": 0.5, "precision": 0.5, "recall": 1.0, "f1": 2 / 3}),
    ],
    ids=["both empty", "all road", "empty truth", "empty prediction", "all predicted"],
)
def test_zero_denominator_conventions(pred, truth, expected):
    assert scores(confusion_counts(pred, truth)) == pytest.approx(expected)


def test_all_void_image_counts_as_both_empty():
    counts = confusion_counts(ONE, ONE, valid=ZERO)
    assert tuple(int(c) for c in counts) == (0, 0, 0)
    assert scores(counts) == pytest.approx(dict.fromkeys(["iou", "precision", "recall", "f1"], 1.0))


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
    assert f1(Counts(0, 0, 0)) == 1.0


def test_road_mask_is_strictly_above_the_threshold():
    assert road_mask(np.array([0.2, 0.5, 0.51]), 0.5).tolist() == [False, False, True]


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
