"""Planning the seeds (or test images) that settle a comparison: hand-solved cases, a simulation
of the future intervals, and the sentence of an inconclusive verdict."""

import math

import numpy as np
import pytest

from older_plans import seeds_for_half_width, settle_target
from segsweep.statistics.bootstrap import Components, anova_components, mean_variance
from segsweep.statistics.decision import compare, decide, sentence
from segsweep.statistics.planning import images_to_settle, probability_to_settle, seeds_to_settle
from segsweep.statistics.sequential import FIXED_SAMPLE_BOUND, repeated_interval
from test_stats import RESAMPLES, noisy_design

# s2_seed = 4e-4, s2_image = 1e-4, s2_res = 4e-4, I = 16, one split; with z = 2 the planned half-width is
# h(R)^2 = 4 (4e-4 / R + 1e-4 / 16 + 4e-4 / (16 R)) = 4 (4.25e-4 / R + 6.25e-6).
PLAN = Components(seed=4e-4, image=1e-4, residual=4e-4, split=0.0, n_splits=1, n_images=16)
MARGIN = 0.01


@pytest.mark.parametrize("diff, target", [(0.002, 0.008), (0.009, 0.009), (-0.009, 0.009), (0.006, 0.006)])
def test_settle_target_by_hand(diff, target):
    """An interval centred on d settles when h < max(|d|, m - |d|)."""
    assert settle_target(diff, MARGIN) == pytest.approx(target)
    h = settle_target(diff, MARGIN) * 0.999
    assert decide(diff - h, diff + h, MARGIN) != "inconclusive"


def _simulated_settling(diff: float, n_seeds: int, rng: np.random.Generator, draws: int = 4000) -> float:
    """How often the interval of a whole future crossed design, drawn from PLAN's components with diff
    as the truth, settles: an independent check of probability_to_settle."""
    d = (
        diff
        + rng.normal(0, math.sqrt(PLAN.seed), (draws, n_seeds, 1))
        + rng.normal(0, math.sqrt(PLAN.image), (draws, 1, PLAN.n_images))
        + rng.normal(0, math.sqrt(PLAN.residual), (draws, n_seeds, PLAN.n_images))
    )
    h = PLAN.half_width(n_seeds, z=2.0)
    return float(np.mean([decide(m - h, m + h, MARGIN) != "inconclusive" for m in d.mean(axis=(1, 2))]))


@pytest.mark.parametrize("diff", [0.0, 0.002, 0.009, -0.009])
def test_the_plan_is_the_fewest_seeds_that_most_likely_settle(diff):
    seeds = seeds_to_settle(PLAN, diff, MARGIN, z=2.0)
    assert probability_to_settle(PLAN, diff, MARGIN, seeds, z=2.0) >= 0.5
    assert probability_to_settle(PLAN, diff, MARGIN, seeds - 1, z=2.0) < 0.5
    rng = np.random.default_rng(3)
    for n in (seeds - 1, seeds):  # the simulated frequency agrees with the normal approximation
        expected = probability_to_settle(PLAN, diff, MARGIN, n, z=2.0)
        assert abs(_simulated_settling(diff, n, rng) - expected) < 4 * math.sqrt(expected * (1 - expected) / 4000)


def test_older_rules_plan_too_few_seeds():
    """Near the margin, a half-width under the margin (the old rule, 23 seeds here: h(R)^2 =
    4 (4.25e-4 / R + 6.25e-6) < 1e-4 for R > 22.7) leaves d +- h holding 0; near 0, an interval centred
    on d that settles (h < m - |d|, 44 seeds at d = 0.002) rarely settles once d moves by its SE."""
    rng = np.random.default_rng(5)
    old = seeds_for_half_width(PLAN, MARGIN, z=2.0)
    assert old == 23
    assert decide(0.009 - PLAN.half_width(old, z=2.0), 0.009 + PLAN.half_width(old, z=2.0), MARGIN) == "inconclusive"
    assert (
        _simulated_settling(0.009, old, rng)
        < 0.45
        <= _simulated_settling(0.009, seeds_to_settle(PLAN, 0.009, MARGIN, z=2.0), rng)
    )
    centred = seeds_for_half_width(PLAN, settle_target(0.002, MARGIN), z=2.0)
    assert centred == 44  # 4.25e-4 / R < 0.004^2 - 6.25e-6 = 9.75e-6, R > 43.6
    assert _simulated_settling(0.002, centred, rng) < 0.45  # fewer than half the future sweeps settle
    assert seeds_to_settle(PLAN, 0.002, MARGIN, z=2.0) > centred


def test_probability_to_settle_is_one_once_the_interval_is_under_half_the_margin():
    """With h < m / 2 every interval either clears 0 or fits inside the margin."""
    precise = Components(seed=1e-6, image=1e-6, residual=1e-6, split=0.0, n_splits=1, n_images=100)
    assert precise.half_width(10) < MARGIN / 2
    assert probability_to_settle(precise, 0.004, MARGIN, 10) == 1.0


def test_too_few_images_name_the_images_that_would_settle_it():
    # s2_image = 4e-3 over 16 images alone: h(inf) = 2 sqrt(4e-3 / 16) = 0.0316, wider than the margin.
    few_images = Components(seed=4e-4, image=4e-3, residual=4e-4, split=0.0, n_splits=1, n_images=16)
    assert seeds_to_settle(few_images, 0.003, MARGIN, z=2.0) is None
    for n_seeds in (math.inf, 100):
        images = images_to_settle(few_images, 0.003, MARGIN, n_seeds=n_seeds, z=2.0)
        more, fewer = (Components(4e-4, 4e-3, 4e-4, 0.0, 1, n) for n in (images, images - 1))
        assert probability_to_settle(more, 0.003, MARGIN, n_seeds, z=2.0) >= 0.5
        assert probability_to_settle(fewer, 0.003, MARGIN, n_seeds, z=2.0) < 0.5
    # 10 seeds: the seeds alone leave h >= 2 sqrt(4e-5) = 0.0126 > m: no number of images settles it
    assert images_to_settle(few_images, 0.003, MARGIN, n_seeds=10, z=2.0) is None
    needed = seeds_to_settle(PLAN, 0.009, MARGIN, z=2.0)
    assert seeds_to_settle(PLAN, 0.009, MARGIN, z=2.0, max_seeds=needed - 1) is None


def test_inconclusive_sentence_names_seeds_or_images():
    split = noisy_design(0.0, 0.012, 0.002, 0.005, n_seeds=5, n_images=20, rng_seed=1)
    comparison = compare(
        [split], "unet", "unetpp", "per_image_iou", "all", min_effect=0.01, resamples=RESAMPLES, seed=0
    )
    assert comparison.decision == "inconclusive" and comparison.images_needed is None
    assert comparison.seeds_needed > 5
    assert f"about {comparison.seeds_needed} seeds at this test set would most likely settle it" in sentence(comparison)

    images = noisy_design(0.0, 0.0005, 0.05, 0.002, n_seeds=5, n_images=20, rng_seed=2)
    hard = compare([images], "unet", "unetpp", "per_image_iou", "all", min_effect=0.01, resamples=RESAMPLES, seed=0)
    assert hard.decision == "inconclusive" and hard.seeds_needed is None
    assert hard.images_needed > 20
    assert f"more test images would: about {hard.images_needed} with many seeds" in sentence(hard)


def _settling_with_estimated_error(diff: float, n_seeds: int, rng: np.random.Generator, draws: int = 4000) -> float:
    """How often the verdict's own interval (student_t's: the standard error estimated from the data,
    Student's t with seeds - 1 degrees of freedom) settles, over future crossed designs drawn from
    PLAN's components with diff as the truth."""
    d = (
        diff
        + rng.normal(0, math.sqrt(PLAN.seed), (draws, n_seeds, 1))
        + rng.normal(0, math.sqrt(PLAN.image), (draws, 1, PLAN.n_images))
        + rng.normal(0, math.sqrt(PLAN.residual), (draws, n_seeds, PLAN.n_images))
    )
    error = np.sqrt(mean_variance(*anova_components(d), n_seeds, PLAN.n_images))
    low, high = repeated_interval(d.mean(axis=(1, 2)), error, FIXED_SAMPLE_BOUND, n_seeds - 1)
    return float(np.mean([decide(lo, hi, MARGIN) != "inconclusive" for lo, hi in zip(low, high)]))


@pytest.mark.parametrize("diff", [0.0, 0.009, 0.02])
def test_the_plan_most_likely_settles_the_verdicts_own_interval(diff):
    """The plan (Student's t at the planned seeds) against a simulation of the interval the verdict
    will compute, whose standard error is itself estimated: they agree, and the planned seeds
    settle it at least half the time. Planned with the normal quantile instead, a large difference
    gets fewer seeds (5 against 8 here), with which the t interval settles in about a third of sweeps."""
    rng = np.random.default_rng(7)
    seeds = seeds_to_settle(PLAN, diff, MARGIN)
    planned = probability_to_settle(PLAN, diff, MARGIN, seeds)
    simulated = _settling_with_estimated_error(diff, seeds, rng)
    tolerance = 4 * math.sqrt(planned * (1 - planned) / 4000)
    assert abs(simulated - planned) < tolerance and simulated > 0.5 - tolerance
    if diff == 0.02:
        normal = seeds_to_settle(PLAN, diff, MARGIN, z=1.959964)
        assert normal < seeds
        assert _settling_with_estimated_error(diff, normal, rng) < 0.5
