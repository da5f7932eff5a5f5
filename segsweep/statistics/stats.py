"""Summary statistics of run scores: t-intervals over seeds, IQM, probability of improvement, and
rliable-style stratified bootstrap intervals.

Kept free of file I/O so that every number in the report can be checked on hand-computed inputs.
Definitions follow Agarwal et al. 2021 ("Deep RL at the edge of the statistical precipice", the
rliable library), so that the two agree on the same inputs (tests/test_stats.py checks it against
outputs recorded from rliable 1.2.0):

- IQM: the interquartile mean, the mean of the middle 50% of all values (`scipy.stats.trim_mean`
  with 25% cut at each end, over runs and tasks together). It ignores a single diverged run but,
  unlike the median, still uses half the values.
- Probability of improvement P(X > Y): per task, the chance that a random run of X scores higher
  than a random run of Y, ties counting one half (the Mann-Whitney U statistic over the
  n_x * n_y pairs); then averaged over tasks. A score matrix has one row per run, one column per
  task (here a task is one (split, augmentation) condition).
- Stratified bootstrap: runs are resampled with replacement within each task, independently of
  the other tasks; the interval is the 2.5 and 97.5 percentiles of the resampled statistic.
  `scipy.stats.bootstrap` does this when each task's column is passed as its own sample.
- Summary tables keep a two-sided 95% Student t-interval over seeds (`scipy.stats.t`): with 3 seeds
  the normal approximation would be far too narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
IQM_CUT = 0.25  # trimmed at each end


@dataclass(frozen=True)
class Interval:
    """Mean of a sample with its spread and 95% t-interval; `note` says why a value is missing."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    note: str = ""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% bootstrap percentile interval."""

    value: float
    low: float
    high: float


def mean_ci(values) -> Interval:
    """n, mean, sample std (ddof=1) and the 95% t-interval; NaN values are ignored."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, math.nan, "no values")
    mean = float(x.mean())
    if n == 1:
        return Interval(1, mean, math.nan, math.nan, math.nan, "one value: no spread or confidence interval")
    from scipy import stats  # here, not at the top: scipy.stats takes a second to import, --help none

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df=n - 1)) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


def iqm(values, axis=None):
    """Interquartile mean: 25% trimmed off each end (of everything when axis is None), as rliable."""
    from scipy import stats

    return stats.trim_mean(np.asarray(values, dtype=float), IQM_CUT, axis=axis)


def win_share(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Share of (x run, y run) pairs with x > y, ties half, over the last axis of both."""
    x, y = np.asarray(x, dtype=float)[..., :, None], np.asarray(y, dtype=float)[..., None, :]
    return ((x > y) + 0.5 * (x == y)).mean(axis=(-2, -1))


def prob_improvement(scores_x, scores_y) -> float:
    """P(X > Y) as rliable defines it: score matrices are runs x tasks; mean over tasks of win_share."""
    x, y = np.atleast_2d(np.asarray(scores_x, dtype=float)), np.atleast_2d(np.asarray(scores_y, dtype=float))
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"score matrices have {x.shape[1]} and {y.shape[1]} tasks")
    return float(win_share(x.T, y.T).mean())


def percentile_interval(resampled, point: float) -> Estimate:
    """The 95% percentile interval of a bootstrap distribution (NaN resamples left out)."""
    low, high = np.nanpercentile(np.asarray(resampled, dtype=float), [50 * (1 - CONFIDENCE), 50 * (1 + CONFIDENCE)])
    return Estimate(float(point), float(low), float(high))


def stratified_interval(scores, statistic=iqm, resamples: int = 10_000, seed: int = 0) -> Estimate:
    """`statistic` of a runs x tasks score matrix with its stratified-bootstrap percentile interval.

    Each task's runs form one sample of `scipy.stats.bootstrap`, which resamples every sample on
    its own: that is rliable's StratifiedBootstrap (runs resampled within tasks).
    """
    from scipy import stats

    matrix = np.atleast_2d(np.asarray(scores, dtype=float))
    point = float(statistic(matrix))
    if matrix.shape[0] < 2:
        return Estimate(point, math.nan, math.nan)

    def over_all_tasks(*columns, axis=-1):
        return statistic(np.concatenate(columns, axis=axis), axis=axis)

    result = stats.bootstrap(
        tuple(matrix.T),
        over_all_tasks,
        n_resamples=resamples,
        paired=False,
        vectorized=True,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return Estimate(point, float(result.confidence_interval.low), float(result.confidence_interval.high))
