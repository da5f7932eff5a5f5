"""One look of a sequential sweep: its degrees of freedom, bound, interval, decision and stopping rule."""

from __future__ import annotations

import numpy as np
import pytest

from segsweep.statistics.bootstrap import Split, mean_squares, satterthwaite, satterthwaite_df


def _per_image_split(d: np.ndarray) -> Split:
    """A split whose per-image differences (candidate - baseline) are the (R, I) matrix d."""
    iou = np.stack([np.zeros_like(d), d])[:, None]  # (2 models, 1 augmentation, R, I)
    return Split(counts=np.zeros((*iou.shape, 3)), iou=iou, stems=tuple(f"{i:03d}" for i in range(d.shape[1])))


def test_satterthwaite_df_by_hand():
    # R = I = 2: seed means 1.5, 4; image means 2, 3.5; grand 2.75.
    # MS_seed = 2 (1.25^2 + 1.25^2) = 6.25; MS_image = 2 (0.75^2 + 0.75^2) = 2.25; residuals +-0.25: MS_res = 0.25.
    # V = (6.25 + 2.25 - 0.25) / 4 = 2.0625; df = V^2 / ((6.25/4)^2 / 1 + (2.25/4)^2 / 1 + (0.25/4)^2 / 1).
    d = np.array([[1.0, 2.0], [3.0, 5.0]])
    expected = 2.0625**2 / ((6.25 / 4) ** 2 + (2.25 / 4) ** 2 + (0.25 / 4) ** 2)
    assert satterthwaite_df([_per_image_split(d)], "per_image_iou") == pytest.approx(expected)
    # Two identical splits: every term a quarter as large and twice as many: df doubles.
    assert satterthwaite_df([_per_image_split(d)] * 2, "per_image_iou") == pytest.approx(2 * expected)


def test_satterthwaite_matches_the_simulated_variance_of_the_variance():
    """Independent check of the formula: a variance estimate with df degrees of freedom is a scaled
    chi-square, so df = 2 E[V]^2 / Var(V); simulate V from crossed seed x image data and compare with
    Satterthwaite's df at the expected mean squares (E MS_seed = I s2_seed + s2_res, ...)."""
    rng = np.random.default_rng(0)
    n_seeds, n_images, s2_seed, s2_image, s2_res = 3, 20, 0.02**2, 0.05**2, 0.01**2
    draws = (rng.normal(0, s2_seed**0.5, (40000, n_seeds, 1)) + rng.normal(0, s2_image**0.5, (40000, 1, n_images))
             + rng.normal(0, s2_res**0.5, (40000, n_seeds, n_images)))
    ms_seed, ms_image, ms_res = mean_squares(draws)
    v = (ms_seed + ms_image - ms_res) / (n_seeds * n_images)
    simulated_df = 2 * v.mean() ** 2 / v.var()
    expected_squares = [n_images * s2_seed + s2_res, n_seeds * s2_image + s2_res, s2_res]
    dfs = [n_seeds - 1, n_images - 1, (n_seeds - 1) * (n_images - 1)]
    df = satterthwaite(np.array([1.0, 1.0, -1.0]), np.array(expected_squares), np.array(dfs))
    assert df == pytest.approx(simulated_df, rel=0.05)
    assert df > 2 * (n_seeds - 1)  # the images dominate: far more than the seeds' 2 degrees of freedom
