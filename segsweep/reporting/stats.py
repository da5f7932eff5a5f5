"""Statistics over seeds and over paired test images, and the verdict sentence built from them.

Kept free of file I/O so that every number in the report can be checked on hand-computed inputs.
The conventions, and why:

- Confidence intervals are two-sided 95% Student t-intervals of the mean (`scipy.stats.t`): with 3
  seeds the normal approximation would be far too narrow. One value gives no interval (NaN).
- Paired p-values are two-sided Wilcoxon signed-rank tests (`scipy.stats.wilcoxon`, zero
  differences dropped): per-image IoU differences are bounded and skewed, so a rank test is safer
  than a paired t-test. With n non-zero pairs the exact test cannot go below 2 / 2**n (0.25 for 3
  seeds); `p_min` carries that floor so the report can say when p < 0.05 was never reachable.
- Evidence of a difference: "clear" when the interval excludes 0 and p < 0.05; "ci_only" when the
  interval excludes 0 but so few pairs could never give p < 0.05 (3 seeds), so the interval alone
  decides; "within_noise" otherwise.
- The probability of improvement is the fraction of pairs in which the candidate scores higher,
  ties counting one half: the chance that, for a random pair, the candidate wins.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.95
ALPHA = 0.05


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
class Paired:
    """Candidate minus baseline over matched pairs (same seed, or same test image)."""

    n: int
    baseline_mean: float
    candidate_mean: float
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_min: float
    prob_improvement: float
    note: str = ""

    @property
    def ci_excludes_zero(self) -> bool:
        return bool(self.ci_low > 0 or self.ci_high < 0)

    @property
    def evidence(self) -> str:
        """One of "clear", "ci_only", "within_noise", as the module docstring defines them."""
        if not self.ci_excludes_zero:
            return "within_noise"
        if self.p_value < ALPHA:
            return "clear"
        return "ci_only" if self.p_min >= ALPHA else "within_noise"

    @property
    def beyond_noise(self) -> bool:
        return self.evidence != "within_noise"

    def as_row(self) -> dict:
        return {**asdict(self), "evidence": self.evidence}


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


def wilcoxon_p(diffs) -> tuple[float, float, str]:
    """Two-sided Wilcoxon signed-rank p, the smallest p this many non-zero pairs allow, and a note."""
    d = np.asarray(diffs, dtype=float)
    nonzero = int(np.count_nonzero(d))
    if len(d) == 0:
        return math.nan, math.nan, "no pairs"
    if nonzero == 0:
        return 1.0, 1.0, "all differences are zero"
    from scipy import stats

    p_min = min(1.0, 2.0 / 2.0**nonzero)
    p = float(stats.wilcoxon(d).pvalue)
    pairs = "pair" if nonzero == 1 else "pairs"
    note = f"with {nonzero} non-zero {pairs} the smallest possible p is {p_min:.2g}" if p_min >= ALPHA else ""
    return p, p_min, note


def prob_improvement(baseline, candidate) -> float:
    """Fraction of pairs the candidate wins, ties counting one half."""
    b = np.asarray(baseline, dtype=float)
    c = np.asarray(candidate, dtype=float)
    if len(b) == 0:
        return math.nan
    return float(np.mean((c > b) + 0.5 * (c == b)))


def paired(baseline, candidate) -> Paired:
    """Compare matched samples; the two sequences must be aligned pair by pair."""
    b = np.asarray(baseline, dtype=float)
    c = np.asarray(candidate, dtype=float)
    if b.shape != c.shape:
        raise ValueError(f"paired samples differ in length: {b.shape} vs {c.shape}")
    diff = mean_ci(c - b)
    p, p_min, p_note = wilcoxon_p(c - b)
    note = "; ".join(filter(None, [diff.note, p_note]))
    return Paired(
        n=diff.n,
        baseline_mean=float(b.mean()) if len(b) else math.nan,
        candidate_mean=float(c.mean()) if len(c) else math.nan,
        mean_diff=diff.mean,
        ci_low=diff.ci_low,
        ci_high=diff.ci_high,
        p_value=p,
        p_min=p_min,
        prob_improvement=prob_improvement(b, c),
        note=note,
    )


def _points(x: float) -> str:
    """A signed IoU difference in percentage points: +2.1."""
    return f"{100 * x:+.1f}"


def _p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def _difference(result: Paired, sign: int) -> str:
    """'+2.1 IoU points (95% CI +0.8 to +3.4, p=0.004' for sign * (candidate - baseline)."""
    text = f"{_points(sign * result.mean_diff)} IoU points ("
    if math.isnan(result.ci_low):
        text += "no confidence interval"
    else:
        low, high = sorted((sign * result.ci_low, sign * result.ci_high))
        text += f"95% CI {_points(low)} to {_points(high)}"
    if not math.isnan(result.p_value):
        text += f", {_p(result.p_value)}"
    return text


def verdict(candidate: str, baseline: str, images: Paired, seeds: Paired, averaged_over: str) -> tuple[str, str]:
    """The report's headline: (status, sentence).

    Images are the powerful test (one pair per test image, IoU averaged over seeds), but they only
    show the difference between these trained networks; seeds show whether it survives retraining.
    A win is claimed only when the image pairs are beyond noise and so are the seed pairs, where
    there are two or more, on the same side. `averaged_over` says what each image's IoU is a mean
    of ("3 seeds"). Status is "candidate_better", "baseline_better",
    "within_seed_noise" or "within_noise".
    """
    better_is_candidate = images.mean_diff > 0
    sign = 1 if better_is_candidate or not images.beyond_noise else -1
    image_part = (
        f"{_difference(images, sign)} over {images.n} test-image pairs, "
        f"per-image IoU averaged over {averaged_over})"
    )
    if seeds.n < 2:
        seed_part = "seed noise is not measured: one seed"
    else:
        seed_part = f"across {seeds.n} seed-paired runs: {_difference(seeds, sign)}"
        seed_part += f"; {seeds.note})" if seeds.note else ")"
    if not images.beyond_noise:
        return "within_noise", f"{candidate} vs {baseline}: {image_part}: the difference is within noise; {seed_part}."
    better, worse = (candidate, baseline) if better_is_candidate else (baseline, candidate)
    status = "candidate_better" if better_is_candidate else "baseline_better"
    if seeds.n >= 2 and not (seeds.beyond_noise and (seeds.mean_diff > 0) == better_is_candidate):
        return "within_seed_noise", (
            f"{better} scores {image_part} above {worse} on the same test images, "
            f"but the difference is within seed noise ({seed_part})."
        )
    return status, f"{better} beats {worse} by {image_part}; {seed_part}."
