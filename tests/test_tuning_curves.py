"""Tuning curves (Dodge et al. 2019) against a hand-computed case and a Monte-Carlo maximum of n
draws, the Lourie et al. band's coverage by simulation, and the crossing flag."""

import numpy as np
import pytest
from scipy import integrate, stats

from segsweep.statistics.tuning_curves import curves_cross, expected_max, tuning_curve


def test_expected_max_hand_computed():
    # Scores 0.8, 0.2, 0.5 (N = 3); sorted v = 0.2, 0.5, 0.8.
    # n = 1: the mean, (0.2 + 0.5 + 0.8) / 3 = 0.5.
    # n = 2: weights (i/3)^2 - ((i-1)/3)^2 = 1/9, 3/9, 5/9 -> (0.2 + 1.5 + 4.0) / 9 = 5.7 / 9.
    # n = 3: weights (i/3)^3 - ((i-1)/3)^3 = 1/27, 7/27, 19/27 -> (0.2 + 3.5 + 15.2) / 27 = 0.7.
    assert expected_max([0.8, 0.2, 0.5]) == pytest.approx([0.5, 5.7 / 9, 0.7])


def test_failed_trial_counts_as_worst_score():
    # A NaN trial is a spent trial scored 0, the bottom of IoU's range: the same curve as a 0.
    assert expected_max([0.8, np.nan, 0.5]) == pytest.approx(expected_max([0.8, 0.0, 0.5]))
    assert expected_max([0.8, np.nan, 0.5])[0] == pytest.approx(1.3 / 3)


def test_expected_max_matches_monte_carlo_max_of_n_draws():
    rng = np.random.default_rng(7)
    scores = rng.uniform(0.4, 0.9, size=9)
    ns = np.array([1, 2, 4, 9])
    draws = rng.choice(scores, size=(200_000, ns.max()), replace=True)
    simulated = [draws[:, :n].max(axis=1).mean() for n in ns]
    assert expected_max(scores, ns) == pytest.approx(simulated, abs=2e-3)


def test_expected_max_with_ties_and_monotone():
    curve = expected_max([0.6, 0.6, 0.6, 0.9])
    assert curve[0] == pytest.approx(0.675)
    assert np.all(np.diff(curve) >= 0) and curve[-1] <= 0.9


def test_band_holds_point_and_covers_the_true_curve_in_simulation():
    # Trial scores from Beta(6, 3); the true expected max of n draws is the integral of 1 - F^n.
    # The band is simultaneous at 95%: over 40 simulated tuning runs of N = 6 trials it must hold
    # the whole true curve in nearly all of them (a 95% band misses 6+ of 40 with probability < 2%).
    dist, n_trials = stats.beta(6, 3), 6
    ns = np.arange(1, n_trials + 1)
    truth = np.array([integrate.quad(lambda x, n=n: 1 - dist.cdf(x) ** n, 0, 1)[0] for n in ns])
    rng = np.random.default_rng(3)
    covered = 0
    for replicate in range(40):
        curve = tuning_curve(dist.rvs(size=n_trials, random_state=rng), seed=replicate)
        assert np.all(curve["low"] <= curve["expected_best"] + 1e-12)
        assert np.all(curve["expected_best"] <= curve["high"] + 1e-12)
        covered += bool(np.all((curve["low"] <= truth) & (truth <= curve["high"])))
    assert covered >= 35


@pytest.mark.parametrize(
    "a, b, cross",
    [
        ([0.5, 0.6, 0.7], [0.4, 0.5, 0.6], False),  # A above throughout
        ([0.5, 0.6, 0.7], [0.6, 0.65, 0.66], True),  # B ahead with 1-2 trials, A with 3
        ([0.5, 0.6, 0.7], [0.5, 0.55, 0.6], False),  # equal at n = 1, then A ahead: no change of order
    ],
)
def test_curves_cross(a, b, cross):
    assert curves_cross(a, b) is cross
    assert curves_cross(b, a) is cross


def test_curves_cross_refuses_different_budgets():
    with pytest.raises(ValueError, match="same budgets"):
        curves_cross([0.5, 0.6], [0.5, 0.6, 0.7])
