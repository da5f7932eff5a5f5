"""Group-sequential bounds against published tables and Monte Carlo, and the error rate of a whole
sequential sweep simulated on crossed seed x image designs."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from segsweep.statistics.bootstrap import anova_components, mean_variance
from segsweep.statistics.decision import decide
from segsweep.statistics.sequential import (
    SPENDING,
    boundaries,
    crossing_probabilities,
    nominal_level,
    repeated_interval,
    seed_fractions,
)

ALPHA = 0.05
THIRDS = [1 / 3, 2 / 3, 1]


@pytest.mark.parametrize(
    "spending, looks, published",
    [
        # One look: the fixed-sample 95% bound.
        ("obrien_fleming", 1, [1.960]),
        ("pocock", 1, [1.960]),
        # Lan-DeMets O'Brien-Fleming type, two-sided symmetric, alpha/2 = 0.025 a side: gsDesign
        # gsDesign(k = 3, test.type = 2, sfu = sfLDOF) and rpact getDesignGroupSequential(typeOfDesign = "asOF").
        ("obrien_fleming", 3, [3.710, 2.511, 1.993]),
        # Five looks: the example of ld98 (Reboussin, DeMets, Kim & Lan 2000, Control. Clin. Trials 21:190).
        ("obrien_fleming", 5, [4.877, 3.357, 2.680, 2.290, 2.031]),
        # Lan-DeMets Pocock type (gsDesign sfLDPocock): nearly, not exactly, Pocock's constant 2.289.
        # (The Lan-DeMets values here are the packages' published outputs; no R on the test machine to re-run them.)
        ("pocock", 3, [2.279, 2.295, 2.296]),
    ],
)
def test_spending_bounds_match_published_tables(spending, looks, published):
    fractions = np.arange(1, looks + 1) / looks
    found = boundaries(fractions, ALPHA, spending)
    assert found == pytest.approx(published, abs=6e-4)
    assert np.array_equal(found, boundaries(fractions, ALPHA, spending))  # deterministic


@pytest.mark.parametrize(
    "looks, shape, published",
    [
        # Classical boundaries, constant C in Jennison & Turnbull (2000) Table 2.1 (Pocock, C_P) and
        # Table 2.3 (O'Brien-Fleming, C_B, bounds C sqrt(K / k)): K = 3 gives the 2.289 and
        # 3.471, 2.454, 2.004. A spending function only imitates them; the recursion must find them.
        (3, "pocock", 2.289),
        (5, "pocock", 2.413),
        (3, "obrien_fleming", 2.004),
        (5, "obrien_fleming", 2.040),
    ],
)
def test_the_recursion_reproduces_the_classical_boundaries(looks, shape, published):
    k = np.arange(1, looks + 1)
    profile = np.ones(looks) if shape == "pocock" else np.sqrt(looks / k)
    constant = brentq(lambda c: crossing_probabilities(c * profile, k / looks).sum() - ALPHA, 1.5, 4.0, xtol=1e-9)
    assert round(constant, 3) == published


@pytest.mark.parametrize("spending", sorted(SPENDING))
def test_crossing_probabilities_match_monte_carlo(spending):
    """Unequal looks; 200,000 simulated score paths S(t) = Brownian motion, Z_k = S(t_k) / sqrt(t_k):
    the share of paths that first cross at look k is each look's increment of alpha(t)."""
    fractions = np.array([0.3, 0.55, 1.0])
    bounds = boundaries(fractions, ALPHA, spending)
    spent = np.diff(SPENDING[spending](fractions, ALPHA), prepend=0.0)
    assert crossing_probabilities(bounds, fractions) == pytest.approx(spent, abs=1e-7)

    rng = np.random.default_rng(7)
    n = 200_000
    scores = np.cumsum(rng.normal(size=(n, 3)) * np.sqrt(np.diff(fractions, prepend=0.0)), axis=1)
    crossed = np.abs(scores / np.sqrt(fractions)) >= bounds
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    observed = np.array([(first == k).mean() for k in range(3)])
    standard_error = np.sqrt(spent * (1 - spent) / n)
    assert np.all(np.abs(observed - spent) < 4 * standard_error), (observed, spent)


def test_bad_looks_and_spending_are_refused():
    with pytest.raises(ValueError, match="increase"):
        boundaries([0.5, 0.4, 1.0], ALPHA, "pocock")
    with pytest.raises(ValueError, match="increase"):
        boundaries([0.5, 1.2], ALPHA, "pocock")
    with pytest.raises(ValueError, match="obrien_fleming, pocock"):
        boundaries(THIRDS, ALPHA, "haybittle")


def test_repeated_interval_reads_the_nominal_level_from_normal_or_t():
    assert nominal_level(1.959964) == pytest.approx(0.05, abs=1e-7)
    assert repeated_interval(0.02, 0.01, 1.959964) == pytest.approx((0.02 - 0.01959964, 0.02 + 0.01959964))
    # Student's t with 4 degrees of freedom, two-sided 5%: 2.776445 (any t table).
    assert repeated_interval(0.02, 0.01, 1.959964, df=4) == pytest.approx((0.02 - 0.02776445, 0.02 + 0.02776445))
    assert seed_fractions([2, 4, 6], 6) == pytest.approx(THIRDS)


# --- the whole procedure, simulated ------------------------------------------------------------

N_SWEEPS, N_IMAGES = 20_000, 18


def simulated_sweeps(seed_var: float, image_var: float, residual_var: float, looks: list[int], rng_seed: int):
    """Per look, the mean difference and its estimated SE in N_SWEEPS crossed designs with no true
    difference: d_ri = s_r + g_i + e_ri, the same test images at every look, seeds added per look;
    the SE from the two-way ANOVA components of the seeds so far, as bootstrap.components does."""
    rng = np.random.default_rng(rng_seed)
    n_seeds = looks[-1]
    d = (
        rng.normal(0, math.sqrt(seed_var), (N_SWEEPS, n_seeds, 1))
        + rng.normal(0, math.sqrt(image_var), (N_SWEEPS, 1, N_IMAGES))
        + rng.normal(0, math.sqrt(residual_var), (N_SWEEPS, n_seeds, N_IMAGES))
    )
    means, errors = [], []
    for r in looks:
        seed, image, residual = anova_components(d[:, :r])
        means.append(d[:, :r].mean(axis=(1, 2)))
        errors.append(np.sqrt(mean_variance(seed, image, residual, r, N_IMAGES)))
    return np.array(means), np.array(errors)


def any_look_decides(
    means: np.ndarray, errors: np.ndarray, bounds: np.ndarray, looks: list[int], df: bool = True
) -> np.ndarray:
    """Whether a sweep ever says better or worse: some look's interval (at that look's bound, with
    seeds - 1 degrees of freedom) excludes 0, by the project's decision rule."""
    margin = 0.01
    decided = np.zeros(means.shape[1], dtype=bool)
    for k, r in enumerate(looks):
        low, high = repeated_interval(means[k], errors[k], bounds[k], df=r - 1 if df else math.inf)
        verdicts = np.array([decide(lo, hi, margin) for lo, hi in zip(low, high)])
        decided |= np.isin(verdicts, ("candidate_better", "candidate_worse"))
    return decided


SEEDS_DOMINATE = (4e-4, 1e-4, 4e-4)  # sd 2 points between seeds, as the default sweep's 3-seed intervals suggest
IMAGES_DOMINATE = (1e-4, 4e-4, 4e-4)
LIMIT = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / N_SWEEPS)


@pytest.mark.parametrize("components, looks", [(SEEDS_DOMINATE, [2, 4, 6]), (IMAGES_DOMINATE, [3, 6, 9])])
def test_sequential_sweeps_hold_the_error_rate(components, looks):
    means, errors = simulated_sweeps(*components, looks, rng_seed=11)
    fractions = seed_fractions(looks, looks[-1])
    for spending in SPENDING:
        rate = any_look_decides(means, errors, boundaries(fractions, ALPHA, spending), looks).mean()
        assert rate <= LIMIT, (spending, rate)


def test_uncorrected_looks_exceed_the_error_rate():
    """Where the seeds dominate, deciding at every look at the fixed-sample level errs clearly more
    often than alpha (why the design exists), and so do the sequential bounds read from the normal
    distribution with an estimated SE (why repeated_interval takes degrees of freedom)."""
    looks = [2, 4, 6]
    means, errors = simulated_sweeps(*SEEDS_DOMINATE, looks, rng_seed=12)
    naive = any_look_decides(means, errors, np.full(len(looks), 1.959964), looks).mean()
    assert naive > ALPHA + 6 * math.sqrt(ALPHA * (1 - ALPHA) / N_SWEEPS), naive
    bounds = boundaries(seed_fractions(looks, 6), ALPHA, "obrien_fleming")
    normal = any_look_decides(means, errors, bounds, looks, df=False).mean()
    assert normal > 2 * ALPHA, normal
