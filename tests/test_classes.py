"""Multi-class segmentation: class lists, per-class IoU and mIoU, the K-class loss, the statistics
on mIoU, and a tiny multi-class sweep from the config to the verdict."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import workflow_runner as wf
from segsweep.data.classes import class_rows
from segsweep.data.formats import Sample, classes_of, load_pair
from segsweep.data.task import resolve_task
from segsweep.errors import ConfigError
from segsweep.evaluation.class_metrics import class_counts, class_iou, confusion_matrix, mean_iou
from segsweep.statistics.bootstrap import Split, linearised_differences, run_scores

# --- per-class IoU and mIoU against a hand-computed confusion matrix -----------------------------

TRUTH = np.array([[0, 0, 1, 1], [2, 2, 1, 0]])
PREDICTED = np.array([[0, 1, 1, 1], [2, 0, 0, 0]])
VALID = np.array([[True, True, True, True], [True, True, True, False]])  # the last pixel is void


def test_confusion_matrix_by_hand():
    # valid pixels (truth -> predicted): 0->0, 0->1, 1->1, 1->1, 2->2, 2->0, 1->0; the void 0->0 is left out
    expected = np.array([[1, 1, 0], [1, 2, 0], [1, 0, 1]])
    np.testing.assert_array_equal(confusion_matrix(TRUTH, PREDICTED, VALID, 3), expected)
    counts = class_counts(expected)
    np.testing.assert_array_equal(counts.tp, [1, 2, 1])
    np.testing.assert_array_equal(counts.fp, [2, 1, 0])
    np.testing.assert_array_equal(counts.fn, [1, 1, 1])
    iou = class_iou(counts)
    np.testing.assert_allclose(iou, [1 / 4, 2 / 4, 1 / 2])
    assert mean_iou(iou) == pytest.approx((1 / 4 + 2 / 4 + 1 / 2) / 3)


def test_void_pixels_change_nothing():
    changed = PREDICTED.copy()
    changed[1, 3] = 2  # the void pixel
    np.testing.assert_array_equal(
        confusion_matrix(TRUTH, changed, VALID, 3), confusion_matrix(TRUTH, PREDICTED, VALID, 3)
    )


def test_miou_leaves_out_absent_classes_and_counts_false_alarms():
    # class 2 in neither truth nor prediction: undefined and left out; class 1 predicted but absent: IoU 0
    confusion = np.array([[3, 1, 0], [0, 0, 0], [0, 0, 0]])
    iou = class_iou(class_counts(confusion))
    assert iou[0] == pytest.approx(3 / 4) and iou[1] == 0.0 and np.isnan(iou[2])
    assert mean_iou(iou) == pytest.approx(3 / 8)
    assert np.isnan(mean_iou(np.array([np.nan, np.nan])))


def _independent_class_iou(truth: np.ndarray, predicted: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    """torchmetrics' JaccardIndex(average=None) written out with np.histogram2d: for each class,
    |pred == c and truth == c| / |pred == c or truth == c| over valid pixels, NaN where both are empty."""
    matrix, _, _ = np.histogram2d(truth[valid], predicted[valid], bins=k, range=[[0, k], [0, k]])
    out = []
    for c in range(k):
        intersection = matrix[c, c]
        union = matrix[c, :].sum() + matrix[:, c].sum() - intersection
        out.append(intersection / union if union else np.nan)
    return np.array(out)


def test_class_iou_agrees_with_an_independent_implementation():
    rng = np.random.default_rng(0)
    k = 6
    for _ in range(20):
        truth = rng.integers(0, k - 1, (3, 17, 23))  # class k-1 never in truth
        predicted = np.where(rng.random(truth.shape) < 0.6, truth, rng.integers(0, k, truth.shape))
        valid = rng.random(truth.shape) > 0.1
        pooled = sum(confusion_matrix(t, p, v, k) for t, p, v in zip(truth, predicted, valid))
        np.testing.assert_allclose(
            class_iou(class_counts(pooled)), _independent_class_iou(truth, predicted, valid, k), equal_nan=True
        )


def test_confusion_matrix_of_stacked_modes():
    stacked = np.stack([PREDICTED, TRUTH])  # two inference modes against one truth
    matrices = confusion_matrix(TRUTH, stacked, VALID, 3)
    assert matrices.shape == (2, 3, 3)
    np.testing.assert_array_equal(matrices[1], np.diag([2, 3, 2]))


# --- the statistics on mIoU -----------------------------------------------------------------------


def _split_with_classes(rng: np.random.Generator, seeds: int = 3, images: int = 8, k: int = 4) -> Split:
    class_counts_ = rng.integers(0, 50, (2, 1, seeds, images, k, 3)).astype(float)
    class_counts_[..., 3, :] = 0  # one class absent from every image and prediction
    counts = class_counts_[..., 0, :]
    iou = counts[..., 0] / counts.sum(axis=-1)
    return Split(counts=counts, iou=iou, stems=tuple(map(str, range(images))), class_counts=class_counts_)


def test_run_scores_miou_is_each_runs_pooled_miou():
    split = _split_with_classes(np.random.default_rng(1))
    scores = run_scores(split, "miou", np.ones((1, split.n_images)))[0]  # (2, A, R)
    for m in range(2):
        for r in range(split.n_seeds):
            pooled = split.class_counts[m, 0, r].sum(axis=0)  # (K, 3) summed over images
            assert scores[m, 0, r] == pytest.approx(np.nanmean(_iou_from_counts(pooled)))
    weights = np.zeros((1, split.n_images))
    weights[0, 2] = 2  # one image drawn twice: its counts twice
    assert run_scores(split, "miou", weights)[0, 0, 0, 0] == pytest.approx(
        np.nanmean(_iou_from_counts(2 * split.class_counts[0, 0, 0, 2]))
    )


def _iou_from_counts(counts: np.ndarray) -> np.ndarray:
    tp, fp, fn = counts[:, 0], counts[:, 1], counts[:, 2]
    union = tp + fp + fn
    return np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)


def test_linearised_miou_differences_average_to_the_miou_difference():
    split = _split_with_classes(np.random.default_rng(2))
    d = linearised_differences(split, "miou")  # (R, I)
    miou = run_scores(split, "miou", np.ones((1, split.n_images)))[0, :, 0]  # (2, R)
    np.testing.assert_allclose(d.mean(axis=1), miou[1] - miou[0])


# --- class lists and the config ---------------------------------------------------------------------


def test_format_class_lists():
    camvid = classes_of("camvid", "format")
    assert len(camvid) == 11 and camvid[3].name == "road" and camvid[3].ids == (3,)
    kitti = classes_of("kitti_semantics", "format")
    assert len(kitti) == 19 and kitti[0].ids == (7,)
    assert [c.name for c in classes_of("kitti_road", "format")] == ["not road", "road"]
    assert classes_of("camvid", None) is None


@pytest.mark.parametrize(
    ("classes", "key", "words"),
    [
        ([{"name": "road", "ids": [3, 4]}, {"name": "walk", "ids": [4]}], "dataset.classes[1].ids", "also in class"),
        ([{"name": "road", "ids": [3]}, {"name": "far", "ids": [12]}], "dataset.classes[1].ids", "0..11"),
        ([{"name": "road", "ids": [3]}, {"name": "void", "ids": [11]}], "dataset.classes[1].ids", "are void"),
        ([{"name": "road", "ids": [3]}, {"name": "road", "ids": [4]}], "dataset.classes", "used twice"),
    ],
)
def test_bad_class_lists_are_refused_by_key(classes, key, words):
    with pytest.raises(ConfigError, match=rf"key '{re.escape(key)}'.*{re.escape(words)}"):
        classes_of("camvid", classes)


def _config(classes, metric: str = "pooled_iou", class_weights: str = "none", **extra) -> dict:
    return {
        "dataset": {"format": "camvid", "classes": classes},
        "report": {"metric": metric},
        "train": {"class_weights": class_weights},
        "models": ["unet", "unetpp"],
        **extra,
    }


def test_the_task_is_resolved_for_the_jobs():
    config = _config("format", "iou:sidewalk")
    resolve_task(config)
    assert config["dataset"]["classes"] == class_rows(classes_of("camvid", "format"))
    assert config["dataset"]["focus"] == "sidewalk" and config["dataset"]["choose_on"] == "focus"
    binary = _config(None)
    resolve_task(binary)
    assert binary["dataset"] == {"format": "camvid", "classes": None}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (_config(None, "miou"), "report.metric"),
        (_config("format", "iou:lane"), "report.metric"),
        ({**_config("format", "miou"), "tune": {"metric": "val_road_iou"}}, "tune.metric"),
        (_config(None, class_weights="median_frequency"), "train.class_weights"),
        (
            _config(
                None,
                models=["unet", "unet_cw"],
                model_variants={"unet_cw": {"architecture": "unet", "train": {"class_weights": "median_frequency"}}},
            ),
            "model_variants.unet_cw.train.class_weights",
        ),
    ],
)
def test_metrics_the_task_cannot_give_are_refused(config, key):
    with pytest.raises(ConfigError, match=rf"key '{key}'"):
        resolve_task(config)


def test_load_pair_decodes_class_indices_with_void(tmp_path):
    for folder in ("train", "trainannot"):
        (tmp_path / folder).mkdir()
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(tmp_path / "train" / "a_1.png")
    Image.fromarray(np.array([[3, 4, 11], [0, 3, 10]], np.uint8)).save(tmp_path / "trainannot" / "a_1.png")
    sample = Sample("a_1", tmp_path / "train" / "a_1.png", tmp_path / "trainannot" / "a_1.png")
    mine = classes_of("camvid", [{"name": "road", "ids": [3]}, {"name": "sidewalk", "ids": [4]}])
    _, label, valid = load_pair("camvid", sample, classes=mine)
    np.testing.assert_array_equal(label, [[0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(valid, [[True, True, False], [False, True, False]])  # 11 void, 0 and 10 in no class
    _, road, valid = load_pair("camvid", sample)  # binary road, as before
    np.testing.assert_array_equal(road, [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(valid, [[True, True, False], [True, True, True]])


# --- the K-class loss -------------------------------------------------------------------------------


def test_ce_dice_loss_is_small_when_right_and_ignores_void():
    from segsweep.training.losses import CeDiceLoss

    k = 3
    label = np.array([[[0, 1], [2, 1]]], np.float32)
    valid = np.array([[[1, 1], [1, 0]]], np.float32)
    y_true = np.stack([label, valid], axis=-1)
    right = np.eye(k, dtype=np.float32)[label.astype(int)] * 0.998 + 0.001
    loss = CeDiceLoss(k)
    assert float(loss(y_true, right)) < 0.01
    wrong_at_void = right.copy()
    wrong_at_void[0, 1, 1] = [0.998, 0.001, 0.001]
    assert float(loss(y_true, wrong_at_void)) == pytest.approx(float(loss(y_true, right)), abs=1e-6)
    uniform = np.full_like(right, 1 / k)
    assert float(loss(y_true, uniform)) > 0.5


# --- a tiny multi-class sweep, end to end -----------------------------------------------------------


@pytest.mark.slow
def test_tiny_multi_class_sweep_gives_a_verdict_on_miou(tmp_path):
    config = wf.tiny_config(
        dataset={"classes": "format"}, report={"metric": "miou"}, train={"class_weights": "median_frequency"}
    )
    code, out = wf.run(tmp_path, config, "--cores", "2")
    assert code == 0, out[-3000:]
    exp = tmp_path / "results" / "tiny"
    verdict = json.loads((exp / "aggregate" / "verdict.json").read_text())
    assert verdict["metric"] == "miou" and verdict["mean_diff_low"] <= verdict["mean_diff_high"]
    metrics = json.loads((exp / "eval" / "unetpp" / "none" / "split0" / "seed0" / "metrics.json").read_text())
    classes = metrics["classes"]
    assert len(classes["names"]) == 19 and classes["focus"] == "road"
    confusion = np.array(classes["confusion"])
    assert confusion.shape == (19, 19) and confusion.sum() > 0
    iou = class_iou(class_counts(confusion))
    assert classes["miou"] == pytest.approx(mean_iou(iou))
    assert metrics["pooled"]["iou"] == pytest.approx(0.0 if np.isnan(iou[0]) else iou[0])
    per_image = pd.read_csv(exp / "eval" / "unetpp" / "none" / "split0" / "seed0" / "per_image.csv")
    np.testing.assert_array_equal(per_image["road:tp"], per_image["tp"])  # the road columns are the focus class's
    assert per_image[[f"{n}:tp" for n in classes["names"]]].to_numpy().sum() == np.trace(confusion)
    run = json.loads(
        (tmp_path / "results" / "tiny" / "runs" / "unet" / "none" / "split0" / "seed0" / "run.json").read_text()
    )
    assert "best_val_miou" in run and run["settings"]["model"]["classes"] == 19
    log = (exp / "logs" / "train" / "unet" / "none" / "split0" / "seed0.log").read_text()
    assert "class weights (median_frequency): road " in log
