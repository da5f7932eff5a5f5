"""Group-sequential repeated confidence intervals: look after every batch of seeds, stop when settled.

Why. Deciding at every look with the fixed-sample 95% interval tests the same null hypothesis again
and again: with three looks the chance of a false "better" or "worse" roughly doubles or triples
(tests/test_sequential.py measures it). Repeated confidence intervals (Jennison & Turnbull 1989,
JRSS B 51:305; Jennison & Turnbull 2000, "Group Sequential Methods", ch. 9) widen the interval of
look k to estimate +- c_k SE_k, with bounds c_1..c_K chosen so that under no difference the chance
that ANY look's interval excludes 0 is alpha. The verdict at look k is the project's one rule,
segsweep.statistics.decision.decide(low, high, margin), on that interval: equivalence and
superiority at the same nominal level, so a sweep may stop as soon as it says anything but
"inconclusive".

Bounds. Lan & DeMets (1983, Biometrika 70:659) spend the error alpha as the information grows:
look k may have spent alpha(t_k) in all, t_k its information fraction, so looks need not be planned
exactly and a sweep cut short at its cap stays valid. The two spending functions of SPENDING, for a
two-sided symmetric design, spend alpha/2 on each side with the one-sided function of Lan-DeMets at
level alpha/2, as ld98 (Reboussin, DeMets, Kim & Lan 2000, Control. Clin. Trials 21:190), gsDesign
(sfLDOF, sfLDPocock) and rpact do, so their published bounds are reproduced:
- O'Brien-Fleming type: alpha(t) = 2 (2 - 2 Phi(z_{1-alpha/4} / sqrt(t))), little alpha early.
  (The two-sided form 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) that some texts write gives other bounds,
  3.395, 2.407, 2.015 for three equal looks; it matches no software table we could check.)
- Pocock type: alpha(t) = alpha ln(1 + (e - 1) t), nearly equal bounds.
Neither reproduces the CLASSICAL boundaries exactly (O'Brien & Fleming 1979: 3.471, 2.454, 2.004;
Pocock 1977: 2.289 at each of three looks; Jennison & Turnbull 2000, Tables 2.3 and 2.1): spending
functions only imitate their shape. `crossing_probabilities` checks the classical ones spend 0.05.

Computation. Under no difference the Z statistics of the looks are jointly normal with
corr(Z_j, Z_k) = sqrt(t_j / t_k) (independent increments). We use the recursive numerical
integration of Armitage, McPherson & Rowe (1969), as in Jennison & Turnbull (2000, ch. 19) and ld98:
the density of the score S_k = Z_k sqrt(t_k) among paths that have not yet crossed is carried from
look to look by one convolution with the increment's normal density, evaluated by Simpson's rule on
a fixed grid, and each bound is the root (brentq) of the crossing probability minus its share of
alpha. It is deterministic (no quasi-Monte Carlo, unlike scipy's multivariate normal cdf, whose
error would enter every bound) and converged: 201 and 1601 grid points give the same bounds to
eight decimals.

Fractions. We recommend seed-count fractions t_k = R_k / R_max (`seed_fractions`). The variance of
the mean difference is s2_split + s2_seed / R + s2_image / I + s2_res / (R I): the test images are the
same at every look, so with more seeds information grows more slowly than the seed count and the
exact fraction would be Var_K / Var_k (the increments stay independent: Cov(mean_j, mean_k) =
Var(mean_k) for j < k). But that fraction needs the variance components, estimated from the data
and changing from look to look, and the maximum information itself; seed-count fractions are fixed
before any run and spend alpha early more slowly, which simulation shows to be slightly
conservative here (tests/test_sequential.py).

Unknown variance. SE_k is estimated from few seeds (1 degree of freedom between seeds at 2 seeds),
so the statistic is t-like, not normal: the normal bounds with an estimated SE err about four times
too often. `repeated_interval` therefore keeps each look's NOMINAL LEVEL 2 (1 - Phi(c_k)) and reads
the half-width from Student's t with the look's degrees of freedom: the "significance level"
approach of Jennison & Turnbull (2000, sec. 11.4). We pass df = seeds - 1, the degrees of freedom
of the between-seed mean square (bootstrap.Components.degrees_of_freedom): the least-informed part
of the variance, so the interval errs on the wide side when the images or the interaction dominate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats
from scipy.integrate import simpson
from scipy.optimize import brentq

GRID_POINTS = 401  # fewest Simpson nodes over the continuation region of each look
NODES_PER_STEP_SD = 6  # and at least this many per standard deviation of the smallest increment
MIN_INCREMENT = 1e-3  # looks closer in information than this are refused (the grid would explode)
SCORE_CUTOFF = 10.0  # a look that spends nothing is integrated over +- 10 sd of its score
# A single look at the two-sided 5% level: repeated_interval at this bound is the fixed-sample 95%
# interval (Student's t with the degrees of freedom given).
FIXED_SAMPLE_BOUND = float(stats.norm.isf(0.025))


def obrien_fleming(t: np.ndarray, alpha: float) -> np.ndarray:
    """Two-sided alpha spent by information fraction t: O'Brien-Fleming type, alpha/2 a side."""
    side = alpha / 2
    return 2 * (2 - 2 * stats.norm.cdf(stats.norm.isf(side / 2) / np.sqrt(t)))


def pocock(t: np.ndarray, alpha: float) -> np.ndarray:
    """Two-sided alpha spent by information fraction t: Pocock type."""
    return alpha * np.log1p((math.e - 1) * np.asarray(t, dtype=float))


Spending = Callable[[np.ndarray, float], np.ndarray]
SPENDING: dict[str, Spending] = {"obrien_fleming": obrien_fleming, "pocock": pocock}


def boundaries(information_fractions: Sequence[float], alpha: float, spending: str) -> np.ndarray:
    """Two-sided critical values c_k of the looks at these fractions (0 < t_1 < ... <= 1): under no
    difference, P(|Z_1| < c_1, ..., |Z_{k-1}| < c_{k-1}, |Z_k| >= c_k) = alpha(t_k) - alpha(t_{k-1}).
    A look whose share is 0 gets an infinite bound (it cannot reject)."""
    t = _fractions(information_fractions)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if spending not in SPENDING:
        raise ValueError(f"unknown spending function {spending!r}; one of {', '.join(SPENDING)}")
    share = np.diff(SPENDING[spending](t, alpha), prepend=0.0)
    spacing = _spacing(t)
    bounds = np.empty(len(t))
    grid, density = None, None
    for k in range(len(t)):
        if share[k] <= 0:
            bounds[k] = math.inf
        elif grid is None:
            bounds[k] = stats.norm.isf(share[k] / 2)
        else:
            step = math.sqrt(t[k] - t[k - 1])

            def excess(c: float, grid=grid, density=density, score_sd=math.sqrt(t[k]), target=share[k]) -> float:
                return _crossing(grid, density, c * score_sd, step) - target

            bounds[k] = brentq(excess, 0.0, 40.0, xtol=1e-12)
        grid, density = _carry(grid, density, t, k, bounds[k], spacing)
    return bounds


def crossing_probabilities(bounds: Sequence[float], information_fractions: Sequence[float]) -> np.ndarray:
    """P(the first crossing is at look k) under no difference for two-sided bounds |Z_k| >= c_k: the
    alpha each look spends. Their sum is the error rate of the whole design."""
    t = _fractions(information_fractions)
    c = np.asarray(bounds, dtype=float)
    if c.shape != t.shape:
        raise ValueError(f"{len(c)} bounds for {len(t)} looks")
    spacing = _spacing(t)
    crossed = np.empty(len(t))
    grid, density = None, None
    for k in range(len(t)):
        if grid is None:
            crossed[k] = 2 * stats.norm.sf(c[k])
        else:
            crossed[k] = _crossing(grid, density, c[k] * math.sqrt(t[k]), math.sqrt(t[k] - t[k - 1]))
        grid, density = _carry(grid, density, t, k, c[k], spacing)
    return crossed


def _fractions(information_fractions: Sequence[float]) -> np.ndarray:
    t = np.asarray(information_fractions, dtype=float)
    if t.ndim != 1 or len(t) == 0 or t[0] <= 0 or t[-1] > 1 or np.any(np.diff(t) < MIN_INCREMENT):
        raise ValueError(
            f"information fractions must increase within (0, 1], each by at least {MIN_INCREMENT}, got {t.tolist()}"
        )
    return t


def _spacing(t: np.ndarray) -> float:
    """Node spacing that resolves the narrowest increment density, N(0, min(t_k - t_{k-1}))."""
    return math.sqrt(np.diff(t).min()) / NODES_PER_STEP_SD if len(t) > 1 else math.inf


def _crossing(grid: np.ndarray, density: np.ndarray, bound: float, step: float) -> float:
    """P(|S_k| >= bound, no earlier crossing), S_k = S_{k-1} + N(0, step^2), from the sub-density of
    S_{k-1} on the grid of its continuation region."""
    beyond = stats.norm.sf((bound - grid) / step) + stats.norm.cdf((-bound - grid) / step)
    return float(simpson(density * beyond, x=grid))


def _carry(
    grid: np.ndarray | None, density: np.ndarray | None, t: np.ndarray, k: int, bound: float, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """The sub-density of S_k = Z_k sqrt(t_k) over its continuation region (-c_k sqrt(t_k), c_k sqrt(t_k)),
    on an odd number of nodes at most `spacing` apart: paths that have not crossed by look k."""
    sd = math.sqrt(t[k])
    edge = min(bound, SCORE_CUTOFF) * sd
    nodes = np.linspace(-edge, edge, max(GRID_POINTS, 2 * math.ceil(edge / spacing) + 1))
    if grid is None:
        return nodes, stats.norm.pdf(nodes, scale=sd)
    step = math.sqrt(t[k] - t[k - 1])
    kernel = stats.norm.pdf((nodes[:, None] - grid[None, :]) / step) / step
    return nodes, simpson(kernel * density[None, :], x=grid, axis=1)


def seed_fractions(seeds_at_looks: Sequence[int], max_seeds: int) -> np.ndarray:
    """Information fractions R_k / R_max of looks after R_1 < R_2 < ... seeds (see the module docstring)."""
    return np.asarray(seeds_at_looks, dtype=float) / max_seeds


def nominal_level(bound: float) -> float:
    """The two-sided nominal alpha of a bound: a look's interval is a 1 - nominal_level interval."""
    return float(2 * stats.norm.sf(bound))


def repeated_interval(
    estimate: float, standard_error: float, bound: float, df: float = math.inf
) -> tuple[float, float]:
    """The repeated confidence interval of one look: estimate +- q SE, q the two-sided quantile of the
    look's nominal level, of Student's t with df degrees of freedom (the normal bound itself when
    df is infinite; see "Unknown variance" in the module docstring)."""
    q = quantile(bound, df)
    return estimate - q * standard_error, estimate + q * standard_error


def quantile(bound: float, df: float | np.ndarray) -> float | np.ndarray:
    """The two-sided quantile of a bound's nominal level in Student's t with df degrees of freedom
    (the normal bound when df is infinite; arrays alike): FIXED_SAMPLE_BOUND gives t_df's 97.5% point."""
    return stats.t.isf(nominal_level(bound) / 2, df)
