"""Tuning curves: the expected best validation score after n of N random-search trials.

Dodge et al. 2019 ("Show Your Work: Improved Reporting of Experimental Results") report, for a
model tuned by random search, the expected maximum validation score of n trials drawn from the N
observed ones, with replacement: with the scores sorted, v_(1) <= ... <= v_(N),

    E[max of n] = sum_i v_(i) [(i/N)^n - ((i-1)/N)^n]                      (Dodge et al. 2019, eq. 1)

which is the expected maximum under the empirical distribution of the trial scores. If model A's
curve lies above B's at one budget n and below it at another, "A beats B" depends on how much
tuning each got: `curves_cross` says so.

The interval: the simultaneous confidence bands of Lourie, Cho and He 2023 ("Show Your Work with
Confidence"), from the `opda` package. They bound the whole CDF of the trial-score distribution
(Learned-Miller-DeStefano bands, equal-tailed, exact coverage for continuous scores); the expected
maximum is monotone in the CDF, so the upper CDF band gives the lower curve and the lower band the
upper curve, for every n at once. Assumption: the score is bounded (validation IoU lies in [0, 1]),
which the expected maximum needs, since a band may move probability mass to the ends of the support.
Chosen over a bootstrap over trials: with the N = 5..20 trials a sweep affords, the bootstrap's
percentile interval of a maximum is known to be too narrow (the resampled maximum can never exceed
the observed one), whereas these bands hold at any N; they are wide at small N, honestly.

A failed trial (NaN score, e.g. the training loss diverged) counts as the worst possible score,
the lower end of the support: a person tuning would have spent that trial, so it stays in every
model's budget alike rather than silently dropping out of one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from opda.nonparametric import EmpiricalDistribution

# The support of the score: IoU and F1 lie in [0, 1].
SCORE_RANGE = (0.0, 1.0)


def budget_scores(scores: Sequence[float], worst: float = SCORE_RANGE[0]) -> np.ndarray:
    """The trial scores with each failed trial (NaN) counted as `worst`: it used up a trial."""
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or not len(values):
        raise ValueError(f"trial scores must be a non-empty 1-D sequence, got shape {values.shape}")
    return np.where(np.isnan(values), worst, values)


def expected_max(scores: Sequence[float], ns: Sequence[int] | None = None) -> np.ndarray:
    """Dodge et al.'s expected best score of n trials, for each n in `ns` (default 1..N).

    scores: [N] the trials' scores, NaN for a failed trial. Returns [len(ns)].
    """
    v = np.sort(budget_scores(scores))
    n_trials = len(v)
    ns = np.arange(1, n_trials + 1) if ns is None else np.asarray(ns)
    i = np.arange(1, n_trials + 1)
    weights = (i / n_trials) ** ns[:, None] - ((i - 1) / n_trials) ** ns[:, None]  # [n, N]
    return weights @ v


def tuning_curve(
    scores: Sequence[float], confidence: float = 0.95, seed: int = 0, score_range: tuple[float, float] = SCORE_RANGE
) -> dict[str, np.ndarray]:
    """The expected best score at n = 1..N with Lourie et al.'s simultaneous band.

    Returns {"n": [N], "expected_best": [N], "low": [N], "high": [N]}.
    """
    v = budget_scores(scores, worst=score_range[0])
    ns = np.arange(1, len(v) + 1)
    low_cdf, _, high_cdf = EmpiricalDistribution.confidence_bands(
        v, confidence, a=score_range[0], b=score_range[1], method="ld_equal_tailed",
        generator=np.random.default_rng(seed), n_jobs=1,
    )  # fmt: skip
    return {
        "n": ns,
        "expected_best": expected_max(v, ns),
        "low": np.asarray(high_cdf.average_tuning_curve(ns)),  # the upper CDF band: the lower curve
        "high": np.asarray(low_cdf.average_tuning_curve(ns)),
    }


def curves_cross(a: Sequence[float], b: Sequence[float], tolerance: float = 1e-12) -> bool:
    """Whether two models' expected-best curves (same n = 1..N) change order somewhere: A above B
    at one budget and below it at another, so the ranking depends on the tuning budget. Equal
    points (within `tolerance`) are no side; touching without changing order is no crossing."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"curves_cross needs two curves over the same budgets 1..N, got shapes {a.shape} and {b.shape}"
        )
    difference = a - b
    signs = np.sign(difference[np.abs(difference) > tolerance])
    return bool(len(signs)) and bool(np.any(signs != signs[0]))
