"""Median frequency balancing and the weighted cross-entropy, against hand-computed cases and
PyTorch's definition of ``CrossEntropyLoss(weight=w)`` written out in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from segsweep.training.class_weights import median_frequency_weights
from segsweep.training.losses import CeDiceLoss, segmentation_loss


def test_weights_count_only_valid_pixels_of_the_images_where_a_class_appears():
    # Image A: classes 0, 0, 0, 1, all valid. Image B: 0 (void), 2, 2, 2.
    labels = [np.array([[0, 0], [0, 1]]), np.array([[0, 2], [2, 2]])]
    valids = [np.ones((2, 2), bool), np.array([[False, True], [True, True]])]
    # freq: class 0 3/4 (A only: B's 0 is void), class 1 1/4 (A), class 2 3/3 (B); median 3/4.
    weights = median_frequency_weights(labels, valids, classes=4)
    np.testing.assert_allclose(weights, [1.0, 3.0, 0.75, 1.0])  # class 3 never appears: 1


def test_weights_match_a_per_class_count_written_another_way():
    rng = np.random.default_rng(0)
    labels = [rng.choice(5, size=(6, 7), p=[0.5, 0.3, 0.1, 0.07, 0.03]) for _ in range(9)]
    valids = [rng.random((6, 7)) > 0.2 for _ in range(9)]
    frequency = []
    for c in range(5):
        in_images = [(label[valid] == c).sum() for label, valid in zip(labels, valids)]
        of_images = [valid.sum() for label, valid, n in zip(labels, valids, in_images) if n]
        frequency.append(sum(in_images) / sum(of_images))
    expected = np.median(frequency) / np.array(frequency)
    np.testing.assert_allclose(median_frequency_weights(labels, valids, 5), expected)


def _weighted_ce(labels: np.ndarray, probabilities: np.ndarray, valid: np.ndarray, weights: np.ndarray) -> float:
    """PyTorch's CrossEntropyLoss(weight=w, reduction='mean') on one image, void pixels ignored."""
    true_p = np.take_along_axis(probabilities, labels[..., None], axis=-1)[..., 0]
    w = weights[labels] * valid
    return float((w * -np.log(true_p)).sum() / w.sum())


def _loss(loss, labels, probabilities, valid) -> float:
    y_true = np.stack([labels, valid], axis=-1)[None].astype("float32")
    return float(loss(y_true, probabilities[None].astype("float32")))


def test_weighted_loss_differs_from_unweighted_by_half_the_weighted_ce_change():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=(4, 5))
    probabilities = rng.dirichlet(np.ones(3), size=(4, 5))
    valid = (rng.random((4, 5)) > 0.25).astype(int)
    weights = np.array([0.5, 2.0, 4.0])
    unweighted = _loss(CeDiceLoss(3), labels, probabilities, valid)
    weighted = _loss(CeDiceLoss(3, weights.tolist()), labels, probabilities, valid)
    ones = np.ones(3)
    # The Dice half is the same; the cross-entropy half is PyTorch's weighted mean.
    expected = 0.5 * (
        _weighted_ce(labels, probabilities, valid, weights) - _weighted_ce(labels, probabilities, valid, ones)
    )
    assert weighted - unweighted == pytest.approx(expected, abs=1e-5)
    assert expected != pytest.approx(0.0, abs=1e-3)  # the case does tell the weights apart


def test_equal_weights_give_the_unweighted_loss_and_survive_a_config_round_trip():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, size=(3, 3))
    probabilities = rng.dirichlet(np.ones(4), size=(3, 3))
    valid = np.ones((3, 3), int)
    unweighted = _loss(segmentation_loss(4), labels, probabilities, valid)
    assert _loss(segmentation_loss(4, [2.0] * 4), labels, probabilities, valid) == pytest.approx(unweighted, abs=1e-6)
    loss = CeDiceLoss.from_config(CeDiceLoss(4, [0.5, 1, 2, 3]).get_config())
    assert loss.class_weights == [0.5, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("weights", [None, [0.5, 2.0, 4.0]])
def test_ce_loss_is_pytorchs_cross_entropy_alone(weights):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, size=(4, 5))
    probabilities = rng.dirichlet(np.ones(3), size=(4, 5))
    valid = (rng.random((4, 5)) > 0.25).astype(int)
    loss = segmentation_loss(3, weights, "ce")
    expected = _weighted_ce(labels, probabilities, valid, np.ones(3) if weights is None else np.array(weights))
    assert _loss(loss, labels, probabilities, valid) == pytest.approx(expected, abs=1e-5)
    # The default keeps the Dice term, and a saved model's loss keeps which one it was.
    assert _loss(segmentation_loss(3, weights), labels, probabilities, valid) > expected / 2 + 0.1
    assert CeDiceLoss.from_config(loss.get_config()).dice is False
