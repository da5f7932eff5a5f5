"""The paired bootstrap of candidate minus baseline over every level of the sweep that varies.

Why this scheme. Every test image is scored by every seed's model: seeds and images are CROSSED
factors, and the difference varies with both (a seed's training luck; an image's difficulty) and
with their interaction. Resampling only seeds treats the test set as the whole population;
resampling only images (the old Wilcoxon over images) treats these trained networks as the only
ones. The pigeonhole bootstrap (Owen 2007, "The pigeonhole bootstrap", Ann. Appl. Stat.) resamples
both at once and independently: each resample draws R seeds out of R and I images out of I, with
replacement, and recomputes the statistic on the R x I cross. Owen shows its variance is mildly
conservative as R and I grow (the interaction term is counted up to about three times). With few
seeds it is not: a draw of R out of R values has (R - 1) / R of their variance, and the percentile
interval has normal tails where Student's t with R - 1 degrees of freedom would be right, so where
the seeds' spread dominates a 95% interval of 3 seeds held the truth in about 82% of simulated
designs (tests/test_stats.py). So the verdict decides on `student_t` (below), Student's t on the
seeds with the standard error of the variance `components`; the bootstrap gives the IQM and the
probability of improvement, whose intervals the report flags below FEW_SEEDS.

- Pooled IoU is recomputed from each run's per-image tp/fp/fn summed over the resampled images
  (an image drawn twice counts twice), as the evaluation pools it. Per-image IoU is the mean over
  the resampled images that have a reference (images without road in truth are NaN and are left
  out, as nnU-Net and MONAI do).
- mIoU (several classes) is recomputed the same way from each class's per-image counts: each
  class's pooled IoU over the resampled images, then their mean over the classes present (those
  with a pixel in truth or prediction), as the Cityscapes benchmark pools and averages.
- Augmentations are fixed conditions, not samples: a run's score is averaged over augmentations
  within its seed first, so n = seeds and one seed is never counted three times. Seeds are
  resampled jointly across augmentations and models (the same seed shares its initial weights).
- Data splits (split.repeats or split.folds) are an outer level: each resample draws S splits out
  of S with replacement and, inside each drawn split, its own seeds and images. When every split
  has the same test images (k-fold with a fixed test set) the image draw is shared by the splits,
  because an image's difficulty is then common to them.
- The interval is the 2.5 and 97.5 percentiles of the resampled statistic (percentile bootstrap,
  as rliable), with a seeded numpy Generator: the same seed gives the same interval. Resampling is
  vectorised (image draws as multinomial counts, so a resample's pooled counts are one matrix
  product), so 10,000 resamples of 3 seeds x 18 images x 3 augmentations take a fraction of a
  second.

Statistics per resample: the mean difference over all (split, seed) units; its IQM over the same
units (with 3 seeds the IQM trims nothing and equals the mean); the probability of improvement
with (split, augmentation) as rliable's tasks and seeds as runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from segsweep.evaluation.class_metrics import class_iou, mean_iou
from segsweep.evaluation.metrics import Counts
from segsweep.statistics.sequential import FIXED_SAMPLE_BOUND, quantile, repeated_interval
from segsweep.statistics.stats import Estimate, iqm, percentile_interval, win_share

METRICS = ("pooled_iou", "per_image_iou")
CLASS_METRICS = ("miou",)  # only where the runs trained several classes (Split.class_counts)
BASELINE, CANDIDATE = 0, 1  # model axis of Split arrays
CHUNK_CELLS = 4_000_000  # resamples are processed in chunks of about this many compared pairs
Variance = float | np.ndarray  # a variance component: one, or one per simulated design
# With fewer seeds than this a bootstrap interval's coverage falls clearly short of 95% where the
# seeds' spread dominates (a bootstrap over R values has (R - 1) / R of their variance, and normal
# tails; tests/test_stats.py simulates 82% at 3 seeds and 91% at 9): the report says so beside P(improvement).
FEW_SEEDS = 10


@dataclass(frozen=True)
class Split:
    """One data split's test scores of both models, aligned on (model, augmentation, seed, image).

    counts: (2, A, R, I, 3) per-image tp, fp, fn; iou: (2, A, R, I) per-image IoU, NaN where the
    image has no reference; model 0 is the baseline, 1 the candidate. class_counts: (2, A, R, I, K, 3)
    each class's per-image tp, fp, fn where the runs trained K classes, else None.
    """

    counts: np.ndarray
    iou: np.ndarray
    stems: tuple[str, ...]
    class_counts: np.ndarray | None = None

    @property
    def n_seeds(self) -> int:
        return self.counts.shape[2]

    @property
    def n_images(self) -> int:
        return self.counts.shape[3]

    @property
    def n_empty(self) -> int:
        """Images without a reference (NaN IoU in every run)."""
        return int(np.isnan(self.iou).all(axis=(0, 1, 2)).sum())


def run_scores(split: Split, metric: str, image_weights: np.ndarray) -> np.ndarray:
    """(B, 2, A, R) scores of every run when image i counts image_weights[b, i] times."""
    if metric == "pooled_iou":
        tp, fp, fn = (np.einsum("mari,bi->bmar", split.counts[..., k], image_weights) for k in range(3))
        with np.errstate(invalid="ignore", divide="ignore"):
            return tp / (tp + fp + fn)
    if metric == "miou":
        pooled = Counts(*(np.einsum("marik,bi->bmark", split.class_counts[..., k], image_weights) for k in range(3)))
        return mean_iou(class_iou(pooled))
    if metric == "per_image_iou":
        has_reference = ~np.isnan(split.iou)
        total = np.einsum("mari,bi->bmar", np.where(has_reference, split.iou, 0.0), image_weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / np.einsum("mari,bi->bmar", has_reference.astype(float), image_weights)
    raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS + CLASS_METRICS)}")


def unit_statistics(scores: np.ndarray, seed_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From (B, 2, A, R) run scores and (B, R) drawn seeds: the (B, R) per-seed differences
    (augmentations averaged first) and the (B, A) per-augmentation probability of improvement."""
    drawn = np.take_along_axis(scores, seed_index[:, None, None, :], axis=-1)
    per_seed = drawn.mean(axis=2)
    diff = per_seed[:, CANDIDATE] - per_seed[:, BASELINE]
    prob = np.concatenate(
        [
            win_share(drawn[chunk, CANDIDATE], drawn[chunk, BASELINE])
            for chunk in np.array_split(
                np.arange(len(drawn)), max(1, drawn[:, 0].size * drawn.shape[-1] // CHUNK_CELLS)
            )
        ]
    )
    return diff, prob


@dataclass(frozen=True)
class Resampled:
    """Per-unit statistics of the observed data (first row) and of each bootstrap resample."""

    diff: np.ndarray  # (1 + B, S * R): candidate - baseline per (split, seed)
    prob: np.ndarray  # (1 + B, S * A): P(candidate > baseline) per (split, augmentation)

    def summary(self) -> dict[str, Estimate]:
        mean, trimmed, prob = self.diff.mean(axis=1), iqm(self.diff, axis=1), self.prob.mean(axis=1)
        return {
            "mean_diff": percentile_interval(mean[1:], mean[0]),
            "iqm_diff": percentile_interval(trimmed[1:], trimmed[0]),
            "prob_improvement": percentile_interval(prob[1:], prob[0]),
        }


def crossed_bootstrap(splits: list[Split], metric: str, resamples: int, seed: int) -> Resampled:
    """The pigeonhole bootstrap of the module docstring; row 0 of the result is the observed data."""
    if not splits:
        raise ValueError("no split to compare")
    rng = np.random.default_rng(seed)
    n_splits = len(splits)
    shared = len({s.stems for s in splits}) == 1
    shared_weights = _image_weights(rng, splits[0].n_images, resamples) if shared else None
    diffs, probs = [], []
    for slot in range(n_splits):
        chosen = rng.integers(0, n_splits, resamples) if n_splits > 1 else np.zeros(resamples, dtype=int)
        diff = np.empty((resamples, splits[0].n_seeds))
        prob = np.empty((resamples, splits[0].counts.shape[1]))
        for index, split in enumerate(splits):
            rows = np.flatnonzero(chosen == index)
            weights = shared_weights[rows] if shared else _image_weights(rng, split.n_images, len(rows))
            seeds = rng.integers(0, split.n_seeds, (len(rows), split.n_seeds))
            diff[rows], prob[rows] = unit_statistics(run_scores(split, metric, weights), seeds)
        observed = [
            unit_statistics(
                run_scores(splits[slot], metric, np.ones((1, splits[slot].n_images))),
                np.arange(splits[slot].n_seeds)[None, :],
            )
        ]
        diffs.append(np.concatenate([observed[0][0], diff]))
        probs.append(np.concatenate([observed[0][1], prob]))
    return Resampled(diff=np.concatenate(diffs, axis=1), prob=np.concatenate(probs, axis=1))


def _image_weights(rng: np.random.Generator, n_images: int, n_resamples: int) -> np.ndarray:
    """How often each image is drawn in each resample: (n_resamples, n_images) multinomial counts."""
    return rng.multinomial(n_images, np.full(n_images, 1 / n_images), size=n_resamples).astype(float)


@dataclass(frozen=True)
class Components:
    """Variance components of the per-(seed, image) difference, per the docstring of `components`."""

    seed: float
    image: float
    residual: float
    split: float
    n_splits: int
    n_images: float

    def half_width(self, n_seeds: float, z: float | None = None) -> float:
        """Planned 95% half-width of the mean difference with n_seeds seeds (math.inf allowed) at this
        test set: z standard errors, by default the 97.5% point of Student's t with
        `degrees_of_freedom(n_seeds)` (z=1 gives the standard error)."""
        q = float(quantile(FIXED_SAMPLE_BOUND, self.degrees_of_freedom(n_seeds))) if z is None else z
        return q * math.sqrt(
            mean_variance(self.seed, self.image, self.residual, n_seeds, self.n_images, self.split, self.n_splits)
        )

    def degrees_of_freedom(self, n_seeds: float) -> float:
        """Student's t degrees of freedom of the mean difference with n_seeds seeds (math.inf allowed):
        those of the between-seed mean square, S (R - 1), pooled over S splits; with a between-split
        variance, the variance of the mean is that of the S split means: S - 1.

        The seeds' are the least-informed part of the variance, so the interval errs on the wide side
        where the images or the interaction dominate. Satterthwaite's degrees of freedom, which add
        the images' there, were tried and err: with 2-3 seeds, plugging in the estimated components
        lets a small seed mean square both shrink the standard error and raise the degrees of
        freedom, and in simulation the 95% interval of 3 seeds x 18 images missed 1.3x as often as
        it should with equal components, 4x at a first sequential look's 0.1% level."""
        if self.n_splits > 1 and self.split > 0:
            return float(self.n_splits - 1)
        return float(self.n_splits * (n_seeds - 1))


def linearised_differences(split: Split, metric: str) -> np.ndarray:
    """(R, I) per-(seed, image) contributions to the difference, averaged over augmentations,
    whose mean over images is each seed's difference.

    Per-image IoU contributes itself (images without reference dropped). Pooled IoU J = T / U is a
    ratio of sums, so image i contributes its first-order influence J + I (tp_i - J u_i) / U with
    u_i = tp_i + fp_i + fn_i (the delta method), whose mean over the images is exactly J.
    """
    if metric == "per_image_iou":
        keep = ~np.isnan(split.iou).any(axis=(0, 1, 2))
        values = split.iou[..., keep]
    elif metric == "miou":
        # mIoU = mean over the present classes k of T_k / U_k: image i's influence is the mean over
        # those classes of each class's pooled-IoU influence, whose mean over images is again mIoU.
        tp, union = split.class_counts[..., 0], split.class_counts.sum(axis=-1)  # (2, A, R, I, K)
        total_union = union.sum(axis=-2, keepdims=True)
        pooled = class_iou(Counts(*np.moveaxis(split.class_counts.sum(axis=-3, keepdims=True), -1, 0)))
        with np.errstate(invalid="ignore", divide="ignore"):
            influence = pooled + tp.shape[-2] * (tp - pooled * union) / total_union
        values = mean_iou(np.where(np.isnan(pooled), np.nan, influence))
    else:
        tp, union = split.counts[..., 0], split.counts.sum(axis=-1)
        total_tp, total_union = tp.sum(axis=-1, keepdims=True), union.sum(axis=-1, keepdims=True)
        pooled = total_tp / total_union
        values = pooled + tp.shape[-1] * (tp - pooled * union) / total_union
    return (values[CANDIDATE] - values[BASELINE]).mean(axis=0)


def mean_variance(
    seed: Variance,
    image: Variance,
    residual: Variance,
    n_seeds: float,
    n_images: float,
    split: Variance = 0.0,
    n_splits: int = 1,
) -> Variance:
    """Variance of the mean difference over n_splits splits of n_seeds seeds x n_images images, from the
    components of `components` (floats or arrays alike):
    (s2_split + s2_seed / R + s2_image / I + s2_res / (R I)) / S."""
    return (split + seed / n_seeds + image / n_images + residual / (n_seeds * n_images)) / n_splits


def mean_squares(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MS_seed, MS_image and MS_residual of (..., R, I) seed x image differences (two-way ANOVA without
    replication), vectorised over the leading axes."""
    n_seeds, n_images = d.shape[-2:]
    seed_means, image_means = d.mean(axis=-1), d.mean(axis=-2)
    grand = d.mean(axis=(-2, -1))
    ms_seed = n_images * ((seed_means - grand[..., None]) ** 2).sum(axis=-1) / (n_seeds - 1)
    ms_image = n_seeds * ((image_means - grand[..., None]) ** 2).sum(axis=-1) / (n_images - 1)
    residual = d - seed_means[..., :, None] - image_means[..., None, :] + grand[..., None, None]
    ms_res = (residual**2).sum(axis=(-2, -1)) / ((n_seeds - 1) * (n_images - 1))
    return ms_seed, ms_image, ms_res


def anova_components(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Between-seed, between-image and residual variance of (..., R, I) seed x image differences by the
    two-way ANOVA without replication of `components`, vectorised over the leading axes; negative
    estimates are set to 0."""
    n_seeds, n_images = d.shape[-2:]
    ms_seed, ms_image, ms_res = mean_squares(d)
    return np.maximum(0.0, (ms_seed - ms_res) / n_images), np.maximum(0.0, (ms_image - ms_res) / n_seeds), ms_res


@dataclass(frozen=True)
class StudentT:
    """The mean difference with the variance components it was measured with: a Student-t interval's
    parts. The standard error and degrees of freedom follow from the components at n_seeds (NaN
    where they are unknown: one seed, or one test image)."""

    estimate: float
    variance: Components | None
    n_seeds: int

    @property
    def standard_error(self) -> float:
        return self.variance.half_width(self.n_seeds, z=1.0) if self.variance is not None else math.nan

    @property
    def df(self) -> float:
        return self.variance.degrees_of_freedom(self.n_seeds) if self.variance is not None else math.nan

    def interval(self, bound: float = FIXED_SAMPLE_BOUND) -> tuple[float, float]:
        """The interval at a bound's nominal level (sequential.repeated_interval): 95% by default."""
        return repeated_interval(self.estimate, self.standard_error, bound, self.df)


def student_t(splits: list[Split], metric: str) -> StudentT:
    """The mean difference over the splits with its variance `components`: the verdict's 95% interval,
    the plan of the seeds that would settle it, and every sequential look's repeated interval are
    built on it."""
    estimate = float(np.mean([linearised_differences(split, metric).mean() for split in splits]))
    return StudentT(estimate, components(splits, metric), splits[0].n_seeds)


def components(splits: list[Split], metric: str) -> Components | None:
    """Between-seed, between-image and residual (seed x image interaction) variance of the
    difference, from the two-way ANOVA without replication of `linearised_differences` (expected
    mean squares: MS_seed = I s2_seed + s2_res, MS_image = R s2_image + s2_res, MS_res = s2_res),
    pooled over splits; with two or more splits, the between-split variance is the variance of the
    splits' mean differences less what the within-split components explain. Negative estimates
    are set to 0. None with fewer than two seeds or two images: seed (or image) variance is unknown.

    Then the mean difference over S splits of R seeds and I images has variance
    (s2_split + s2_seed / R + s2_image / I + s2_res / (R I)) / S.
    """
    estimates, means = [], []
    for split in splits:
        d = linearised_differences(split, metric)
        n_seeds, n_images = d.shape
        if n_seeds < 2 or n_images < 2:
            return None
        estimates.append((*(float(v) for v in anova_components(d)), n_images))
        means.append(d.mean())
    seed_var, image_var, res_var, n_images = (float(np.mean(column)) for column in zip(*estimates))
    within = Components(seed_var, image_var, res_var, 0.0, 1, n_images)
    n_seeds = splits[0].n_seeds
    split_var = 0.0
    if len(splits) > 1:
        explained = (within.half_width(n_seeds, z=1.0)) ** 2
        split_var = max(0.0, float(np.var(means, ddof=1)) - explained)
    return Components(seed_var, image_var, res_var, split_var, len(splits), n_images)
