"""segsweep.reporting.stats on hand-computed inputs."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from segsweep.reporting import stats

T_975 = {2: 4.302653, 3: 3.182446}  # Student t quantiles from printed tables


def test_mean_ci_hand_computed():
    interval = stats.mean_ci([1, 2, 3, 4])
    std = math.sqrt(5 / 3)  # sum of squared deviations 5, over n - 1 = 3
    half = T_975[3] * std / 2
    assert interval.n == 4
    assert interval.mean == 2.5
    assert interval.std == pytest.approx(std)
    assert (interval.ci_low, interval.ci_high) == pytest.approx((2.5 - half, 2.5 + half), rel=1e-6)
    assert interval.note == ""


def test_mean_ci_three_seeds_ignores_nan():
    interval = stats.mean_ci([0.70, float("nan"), 0.74, 0.72])
    half = T_975[2] * 0.02 / math.sqrt(3)  # std of 0.70, 0.72, 0.74 is 0.02
    assert interval.n == 3
    assert (interval.ci_low, interval.ci_high) == pytest.approx((0.72 - half, 0.72 + half), rel=1e-6)


def test_mean_ci_one_value_has_no_interval_and_says_so():
    interval = stats.mean_ci([0.8])
    assert interval.n == 1 and interval.mean == 0.8
    assert math.isnan(interval.std) and math.isnan(interval.ci_low) and math.isnan(interval.ci_high)
    assert "one value" in interval.note
    assert stats.mean_ci([]).n == 0


def test_wilcoxon_exact_all_positive():
    # Every one of 6 differences positive: 1 of the 2**6 sign patterns, doubled for two sides.
    p, p_min, note = stats.wilcoxon_p([1, 2, 3, 4, 5, 6])
    assert p == pytest.approx(2 / 64)
    assert p_min == pytest.approx(2 / 64)
    assert note == ""


def test_wilcoxon_matches_scipy_on_mixed_signs():
    diffs = [0.5, -1.2, 2.0, 3.1, -0.3, 1.7, 2.2]
    assert stats.wilcoxon_p(diffs)[0] == pytest.approx(scipy_stats.wilcoxon(diffs).pvalue)


def test_wilcoxon_three_seeds_cannot_reach_five_percent():
    p, p_min, note = stats.wilcoxon_p([0.01, 0.02, 0.03])
    assert p == pytest.approx(0.25) and p_min == pytest.approx(0.25)
    assert "smallest possible p is 0.25" in note


def test_wilcoxon_degenerate_inputs():
    assert stats.wilcoxon_p([0.0, 0.0, 0.0]) == (1.0, 1.0, "all differences are zero")
    assert stats.wilcoxon_p([0.0, 0.1, 0.2])[1] == pytest.approx(0.5)  # zeros dropped: 2 pairs left
    p, p_min, _ = stats.wilcoxon_p([])
    assert math.isnan(p) and math.isnan(p_min)


def test_probability_of_improvement_counts_ties_half():
    # wins at pairs 1 and 4, a tie at pair 2, a loss at pair 3: (1 + 0.5 + 0 + 1) / 4
    assert stats.prob_improvement([1, 2, 3, 4], [2, 2, 1, 5]) == 0.625


def test_paired_differences_and_evidence():
    result = stats.paired([0.5, 0.6, 0.7], [0.52, 0.63, 0.74])  # differences 0.02, 0.03, 0.04
    half = T_975[2] * 0.01 / math.sqrt(3)
    assert result.n == 3
    assert result.mean_diff == pytest.approx(0.03)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.03 - half, 0.03 + half))
    assert result.prob_improvement == 1.0
    assert result.evidence == "ci_only"  # interval excludes 0, but p = 0.25 is the floor
    assert result.as_row()["evidence"] == "ci_only"

    many = stats.paired([0.5] * 8, [0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.57, 0.58])
    assert many.evidence == "clear" and many.p_value == pytest.approx(2 / 256)

    mixed = stats.paired([0.5, 0.6, 0.7, 0.8], [0.52, 0.58, 0.71, 0.79])
    assert mixed.evidence == "within_noise"

    with pytest.raises(ValueError):
        stats.paired([1, 2], [1, 2, 3])


GAINS = [0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.57, 0.58]  # over 0.5: mean gain 4.5 IoU points
CLEAR_IMAGES = stats.paired([0.5] * 8, GAINS)
CLEAR_SEEDS = stats.paired([0.5, 0.6, 0.7], [0.52, 0.63, 0.74])
NOISY_SEEDS = stats.paired([0.5, 0.6, 0.7], [0.56, 0.55, 0.73])


def test_verdict_clear_win():
    status, sentence = stats.verdict("unetpp", "unet", CLEAR_IMAGES, CLEAR_SEEDS, "3 seeds")
    assert status == "candidate_better"
    assert sentence.startswith("unetpp beats unet by +4.5 IoU points (95% CI +")
    assert "p=0.0078 over 8 test-image pairs, per-image IoU averaged over 3 seeds" in sentence
    assert "across 3 seed-paired runs: +3.0 IoU points" in sentence
    assert "smallest possible p is 0.25" in sentence


def test_verdict_within_seed_noise():
    status, sentence = stats.verdict("unetpp", "unet", CLEAR_IMAGES, NOISY_SEEDS, "3 seeds")
    assert status == "within_seed_noise"
    assert "but the difference is within seed noise" in sentence


def test_verdict_within_noise():
    images = stats.paired([0.5, 0.6, 0.7, 0.8, 0.9], [0.52, 0.58, 0.71, 0.79, 0.9])
    status, sentence = stats.verdict("unetpp", "unet", images, NOISY_SEEDS, "3 seeds")
    assert status == "within_noise"
    assert sentence.startswith("unetpp vs unet: ")
    assert "the difference is within noise" in sentence


def test_verdict_baseline_better_reads_as_positive_gain_of_the_baseline():
    images = stats.paired(GAINS, [0.5] * 8)
    seeds = stats.paired([0.52, 0.63, 0.74], [0.5, 0.6, 0.7])
    status, sentence = stats.verdict("unetpp", "unet", images, seeds, "3 seeds")
    assert status == "baseline_better"
    assert sentence.startswith("unet beats unetpp by +4.5 IoU points (95% CI +")
    low, high = sentence.split("(95% CI ")[1].split(",")[0].split(" to ")
    assert 0 < float(low) < 4.5 < float(high)  # the interval is flipped with the difference


def test_verdict_one_seed_says_seed_noise_is_unmeasured():
    status, sentence = stats.verdict("unetpp", "unet", CLEAR_IMAGES, stats.paired([0.5], [0.6]), "1 seed")
    assert status == "candidate_better"
    assert "seed noise is not measured: one seed" in sentence
