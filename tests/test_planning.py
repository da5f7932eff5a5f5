"""Planning the seeds (or test images) that settle a comparison: hand-solved cases, a simulation
of the future intervals, and the sentence of an inconclusive verdict."""

import math

import numpy as np
import pytest
from test_stats import RESAMPLES, noisy_design

from segsweep.statistics.bootstrap import Components
from segsweep.statistics.decision import compare, decide, sentence
from segsweep.statistics.planning import images_to_settle, probability_to_settle, seeds_to_settle, settle_target

# s2_seed = 4e-4, s2_image = 1e-4, s2_res = 4e-4, I = 16, one split; with z = 2 the planned half-width is
# h(R)^2 = 4 (4e-4 / R + 1e-4 / 16 + 4e-4 / (16 R)) = 4 (4.25e-4 / R + 6.25e-6).
PLAN = Components(seed=4e-4, image=1e-4, residual=4e-4, split=0.0, n_splits=1, n_images=16)
MARGIN = 0.01


@pytest.mark.parametrize("diff, target, seeds", [
    # d = 0.002: target max(0.002, 0.01 - 0.002) = 0.008; 4.25e-4 / R < 0.004^2 - 6.25e-6 = 9.75e-6, R > 43.6.
    (0.002, 0.008, 44),
    # d = 0.009 (near the margin): target max(0.009, 0.001) = 0.009; 4.25e-4 / R < 0.0045^2 - 6.25e-6 = 1.4e-5,
    # R > 30.4. The old rule (h < m): 4.25e-4 / R < 0.005^2 - 6.25e-6 = 1.875e-5, R > 22.7, so 23 seeds.
    (0.009, 0.009, 31),
    (-0.009, 0.009, 31),
    # d = 0.006: target max(0.006, 0.004) = 0.006; 4.25e-4 / R < 0.003^2 - 6.25e-6 = 2.75e-6, R > 154.5.
    (0.006, 0.006, 155),
])
def test_seeds_to_settle_hand_solved(diff, target, seeds):
    assert settle_target(diff, MARGIN) == pytest.approx(target)
    assert seeds_to_settle(PLAN, diff, MARGIN, z=2.0) == seeds
    assert PLAN.half_width(seeds, z=2.0) < target <= PLAN.half_width(seeds - 1, z=2.0)


def test_near_the_margin_the_old_rule_does_not_settle_and_the_new_one_most_likely_does():
    """d = 0.9 m. At the old rule's 23 seeds the interval d +- h(23) = 0.009 +- 0.00994 holds 0 and
    reaches past m; at the planned 31 seeds it clears 0. Future intervals, drawn as whole crossed
    designs from the components with the current estimate as the truth, settle about half the time
    at 31 seeds, as probability_to_settle says, and less often at 23."""
    diff, old, new = 0.009, PLAN.seeds_needed(MARGIN, z=2.0), seeds_to_settle(PLAN, 0.009, MARGIN, z=2.0)
    assert (old, new) == (23, 31)
    assert decide(diff - PLAN.half_width(old, z=2.0), diff + PLAN.half_width(old, z=2.0), MARGIN) == "inconclusive"
    assert decide(diff - PLAN.half_width(new, z=2.0), diff + PLAN.half_width(new, z=2.0), MARGIN) == "candidate_better"

    rng = np.random.default_rng(3)
    draws, n_images = 4000, PLAN.n_images
    frequencies = {}
    for n_seeds in (old, new):
        d = (diff + rng.normal(0, math.sqrt(PLAN.seed), (draws, n_seeds, 1))
             + rng.normal(0, math.sqrt(PLAN.image), (draws, 1, n_images))
             + rng.normal(0, math.sqrt(PLAN.residual), (draws, n_seeds, n_images)))
        h = PLAN.half_width(n_seeds, z=2.0)
        settled = [decide(m - h, m + h, MARGIN) != "inconclusive" for m in d.mean(axis=(1, 2))]
        frequencies[n_seeds] = np.mean(settled)
        expected = probability_to_settle(PLAN, diff, MARGIN, n_seeds, z=2.0)
        assert abs(frequencies[n_seeds] - expected) < 4 * math.sqrt(expected * (1 - expected) / draws)
    assert frequencies[new] >= 0.48 and frequencies[old] < frequencies[new] - 0.03, frequencies


def test_probability_to_settle_is_one_once_the_interval_is_under_half_the_margin():
    """With h < m / 2 every interval either clears 0 or fits inside the margin."""
    precise = Components(seed=1e-6, image=1e-6, residual=1e-6, split=0.0, n_splits=1, n_images=100)
    assert precise.half_width(10) < MARGIN / 2
    assert probability_to_settle(precise, 0.004, MARGIN, 10) == 1.0


def test_too_few_images_name_the_images_that_would_settle_it():
    # s2_image = 4e-3 over 16 images alone: h(inf) = 2 sqrt(4e-3 / 16) = 0.0316 > target 0.007 (d = 0.003).
    few_images = Components(seed=4e-4, image=4e-3, residual=4e-4, split=0.0, n_splits=1, n_images=16)
    assert seeds_to_settle(few_images, 0.003, MARGIN, z=2.0) is None
    # Unlimited seeds: 4 * 4e-3 / I < 0.007^2, I > 326.5.
    assert images_to_settle(few_images, 0.003, MARGIN, z=2.0) == 327
    # 100 seeds: 4 (4e-6 + (4e-3 + 4e-6) / I) < 4.9e-5, i.e. 4.004e-3 / I < 8.25e-6, I > 485.3.
    assert images_to_settle(few_images, 0.003, MARGIN, n_seeds=100, z=2.0) == 486
    # 10 seeds: the seeds alone leave 4 * 4e-5 > 4.9e-5; no number of images can.
    assert images_to_settle(few_images, 0.003, MARGIN, n_seeds=10, z=2.0) is None
    assert seeds_to_settle(PLAN, 0.009, MARGIN, z=2.0, max_seeds=30) is None  # 31 needed


def test_inconclusive_sentence_names_seeds_or_images():
    split = noisy_design(0.0, 0.012, 0.002, 0.005, n_seeds=5, n_images=20, rng_seed=1)
    comparison = compare([split], "unet", "unetpp", "per_image_iou", "all", min_effect=0.01, resamples=RESAMPLES,
                         seed=0)
    assert comparison.decision == "inconclusive" and comparison.images_needed is None
    assert comparison.seeds_needed > 5
    assert f"about {comparison.seeds_needed} seeds at this test set would most likely settle it" in sentence(comparison)

    images = noisy_design(0.0, 0.0005, 0.05, 0.002, n_seeds=5, n_images=20, rng_seed=2)
    hard = compare([images], "unet", "unetpp", "per_image_iou", "all", min_effect=0.01, resamples=RESAMPLES, seed=0)
    assert hard.decision == "inconclusive" and hard.seeds_needed is None
    assert hard.images_needed > 20
    assert f"more test images would: about {hard.images_needed} with many seeds" in sentence(hard)
