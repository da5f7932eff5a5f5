"""The comparisons of a sweep: the candidate against every other model, per augmentation and over
all of them, on both metrics; and the verdict, the headline comparison with its sentence.

The comparison is the crossed seeds x images bootstrap of segsweep.statistics.bootstrap and the
decision rule of segsweep.statistics.decision. Only seeds with runs of both models for every
augmentation of the scope in every split enter a comparison (complete pairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import pandas as pd

from segsweep.errors import UserError
from segsweep.reporting.runs import ALL, Sweep, Tables
from segsweep.statistics.bootstrap import CLASS_METRICS, METRICS, Split
from segsweep.statistics.decision import IQM_NAME, METRIC_NAMES, Comparison, compare, conflicts, sentence


@dataclass(frozen=True)
class DecisionSettings:
    """How the verdict is decided (config key `report`): the primary metric, the smallest
    difference that matters (IoU units) and the bootstrap."""

    metric: str = "pooled_iou"
    min_effect: float = 0.01
    class_metric: str | None = None  # report.metric iou:<class>, decided as the focus class's pooled_iou
    resamples: int = 10_000
    bootstrap_seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.min_effect < 1:
            raise UserError(
                f"--min-effect {self.min_effect}: give it in IoU units, between 0 and 1 (0.01 = 1 IoU point)"
            )
        if self.resamples < 1000:
            raise UserError(f"--bootstrap-resamples {self.resamples}: at least 1000 for a 95% interval")


def complete_seeds(runs: pd.DataFrame, models: list[str], augmentations: list[str], splits: list[int]) -> list[int]:
    """Seeds with a run of every model for every augmentation and split: the pairs a comparison may use."""
    have = set(zip(runs["model"], runs["augmentation"], runs["split"], runs["seed"]))
    return [
        seed
        for seed in dict.fromkeys(runs["seed"])
        if all((m, a, s, seed) in have for m, a, s in product(models, augmentations, splits))
    ]


def design(
    per_image: pd.DataFrame,
    baseline: str,
    candidate: str,
    augmentations: list[str],
    splits: list[int],
    seeds: list[int],
) -> list[Split]:
    """Per split: the aligned (model, augmentation, seed, image) arrays that bootstrap.Split holds."""
    result = []
    for split in splits:
        rows = per_image[(per_image["split"] == split) & per_image["seed"].isin(seeds)]
        stems = tuple(sorted(rows["stem"].unique()))
        shape = (2, len(augmentations), len(seeds), len(stems))
        table = rows.set_index(["model", "augmentation", "seed", "stem"])
        index = pd.MultiIndex.from_product([[baseline, candidate], augmentations, seeds, stems])
        if not index.isin(table.index).all():
            absent = index[~index.isin(table.index)][0]
            raise UserError(
                f"per_image.csv of run {absent[0]}/{absent[1]}/split{split}/seed{absent[2]} has no row "
                f"for test image {absent[3]!r}, which other runs of split {split} scored"
            )
        aligned = table.reindex(index)
        counts = aligned[["tp", "fp", "fn"]].to_numpy(float).reshape(*shape, 3)
        iou = aligned["iou"].to_numpy(float).reshape(shape)
        names = class_names(per_image)
        class_counts = None
        if names:
            columns = [f"{name}:{field}" for name in names for field in ("tp", "fp", "fn")]
            class_counts = aligned[columns].to_numpy(float).reshape(*shape, len(names), 3)
        result.append(Split(counts=counts, iou=iou, stems=stems, class_counts=class_counts))
    return result


def class_names(per_image: pd.DataFrame) -> list[str]:
    """The classes whose per-image counts per_image.csv holds (``{class}:tp`` ...), in order; none for binary road."""
    return [column[: -len(":tp")] for column in per_image.columns if column.endswith(":tp")]


def headline_scope(sweep: Sweep) -> list[str]:
    """The augmentations of the headline comparison: all of them."""
    return list(sweep.augmentations)


def headline_splits(tables: Tables, sweep: Sweep) -> list[Split]:
    """The aligned arrays of the headline comparison (candidate vs baseline, every augmentation),
    over the seeds with complete pairs: what the verdict, the plan and a sequential look read."""
    augmentations = headline_scope(sweep)
    seeds = complete_seeds(tables.runs, [sweep.baseline, sweep.candidate], augmentations, list(sweep.splits))
    return design(tables.per_image, sweep.baseline, sweep.candidate, augmentations, list(sweep.splits), seeds)


def comparisons(tables: Tables, sweep: Sweep, decision: DecisionSettings) -> list[Comparison]:
    """The candidate against every other model, per augmentation and over all, on both metrics."""
    result = []
    scopes = [(aug, [aug]) for aug in sweep.augmentations]
    if len(sweep.augmentations) > 1:
        scopes.append((ALL, list(sweep.augmentations)))
    splits_all = list(sweep.splits)
    for baseline in [sweep.baseline, *[m for m in sweep.models if m not in (sweep.baseline, sweep.candidate)]]:
        for scope, augmentations in scopes:
            seeds = complete_seeds(tables.runs, [baseline, sweep.candidate], augmentations, splits_all)
            if not seeds:
                continue
            splits = design(tables.per_image, baseline, sweep.candidate, augmentations, splits_all, seeds)
            for metric in METRICS + (CLASS_METRICS if splits[0].class_counts is not None else ()):
                result.append(
                    compare(
                        splits,
                        baseline,
                        sweep.candidate,
                        metric,
                        scope,
                        min_effect=decision.min_effect,
                        resamples=decision.resamples,
                        seed=decision.bootstrap_seed,
                    )
                )
    return result


def _headline_label(sweep: Sweep) -> str:
    """The headline's scope as comparisons name it: every augmentation, or the only one."""
    return ALL if len(sweep.augmentations) > 1 else sweep.augmentations[0]


def headline(found: list[Comparison], sweep: Sweep, decision: DecisionSettings) -> Comparison | None:
    """The comparison the verdict states: the candidate against the baseline over every augmentation,
    on the primary metric; None where no seed has a complete pair."""
    scope = _headline_label(sweep)
    return next(
        (c for c in found if c.baseline == sweep.baseline and c.scope == scope and c.metric == decision.metric), None
    )


def verdict_fields(found: list[Comparison], sweep: Sweep, decision: DecisionSettings) -> dict:
    """The headline comparison with its sentence, the other views, and the conflicts among them."""
    ours = [c for c in found if c.baseline == sweep.baseline]
    headline_scope = _headline_label(sweep)
    stated = headline(found, sweep, decision)
    if stated is None:
        return {
            "decision": "no_pairs",
            "metric": decision.metric,
            "min_effect": decision.min_effect,
            "n_splits": len(sweep.splits),
            "resamples": decision.resamples,
            "scope": headline_scope,
            "sentence": f"No seed has runs of both {sweep.candidate} and {sweep.baseline} for every augmentation: "
            "nothing to compare.",
            "conflicts": [],
            "by_augmentation": [],
            "by_baseline": [],
        }
    secondary = next(c for c in ours if c.scope == headline_scope and c.metric != decision.metric)
    views = {
        METRIC_NAMES[decision.metric]: stated,
        METRIC_NAMES[secondary.metric]: secondary,
        **{
            f"{METRIC_NAMES[decision.metric]} on augmentation {c.scope}": c
            for c in ours
            if c.metric == decision.metric and c.scope != headline_scope
        },
    }
    found_conflicts = conflicts(views)

    def entry(c: Comparison) -> dict:
        return {**c.as_row(), "sentence": sentence(c)}

    return {
        **stated.as_row(),
        "iqm_diff_label": IQM_NAME,  # beside the key readers already use, which keeps its name
        "sentence": sentence(stated, found_conflicts),
        "conflicts": found_conflicts,
        "secondary": entry(secondary),
        "by_augmentation": [entry(c) for c in ours if c.metric == decision.metric and c.scope != headline_scope],
        "by_baseline": [
            entry(c)
            for c in found
            if c.baseline != sweep.baseline and c.scope == headline_scope and c.metric == decision.metric
        ],
    }
