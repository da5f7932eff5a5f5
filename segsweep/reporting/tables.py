"""The aggregate step's tables over runs: per model and augmentation, per model, per inference mode.

Each is a pure function of the tidy tables that segsweep.reporting.runs reads.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd

from segsweep.reporting import matching
from segsweep.statistics import stats

SUMMARY_METRICS = (
    "pooled_iou",
    "per_image_mean_iou",
    "precision",
    "recall",
    "f1",
    "max_f",
    "average_precision",
    "boundary_iou",
    "val_pooled_iou",
)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model x augmentation x metric: n, mean, std and 95% t-interval over runs (seeds, splits)."""
    rows = [
        {"model": model, "augmentation": aug, "metric": metric, **asdict(stats.mean_ci(group[metric]))}
        for (model, aug), group in runs.groupby(["model", "augmentation"], sort=False)
        for metric in SUMMARY_METRICS
    ]
    return pd.DataFrame(rows)


def _modes_chosen(modes: pd.Series) -> str:
    """'L4 (5), accurate (1)': how often each inference mode was chosen."""
    return ", ".join(f"{mode} ({count})" for mode, count in modes.value_counts().items())


def model_table(runs: pd.DataFrame, resamples: int, seed: int) -> pd.DataFrame:
    """Per model: IQM of pooled IoU over runs with rliable's stratified-bootstrap interval (tasks:
    (split, augmentation) conditions), means of the other metrics and costs, and what the model was
    matched to (segsweep.reporting.matching)."""
    rows = []
    for model, group in runs.groupby("model", sort=False):
        matrix = group.pivot_table(index="seed", columns=["split", "augmentation"], values="pooled_iou").dropna()
        iqm = stats.stratified_interval(matrix.to_numpy(), stats.iqm, resamples, seed)
        rows.append(
            {
                "model": model,
                "n_runs": len(group),
                "iqm_pooled_iou": iqm.value,
                "iqm_low": iqm.low,
                "iqm_high": iqm.high,
                **{
                    f"mean_{m}": group[m].mean()
                    for m in (
                        "pooled_iou",
                        "per_image_mean_iou",
                        "max_f",
                        "average_precision",
                        "boundary_iou",
                        "val_pooled_iou",
                        "val_test_gap",
                    )
                },
                "parameters": group["parameters"].median(),
                "training_flops_per_image": group["training_flops_per_image"].median(),
                # what each run spent: FLOPs per training image x the epochs it trained (early stopping included)
                "epochs_run": group["epochs_run"].mean(),
                "training_flops_per_image_x_epochs": (group["training_flops_per_image"] * group["epochs_run"]).mean(),
                "matching": matching.label(group.iloc[0]),
                "images_per_second": group["images_per_second"].mean(),
                "device_hours_per_run": group["device_hours"].mean(skipna=False),
                "device_hours": group["device_hours"].sum(skipna=False),
                "cost_unit": ", ".join(dict.fromkeys(group["cost_unit"])),
                "modes_chosen": _modes_chosen(group["mode"]),
                "mode_chosen_on": ", ".join(dict.fromkeys(group["mode_chosen_on"].astype(str))),
                "n_empty_reference": group["n_empty_reference"].max(),
            }
        )
    return pd.DataFrame(rows)


def image_pairs(per_image: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """Per (augmentation, test image): each model's IoU averaged over seeds and splits (images
    without a reference left out), for the scatter plot."""
    wide = per_image.pivot_table(index=["augmentation", "stem"], columns="model", values="iou", aggfunc="mean")
    return wide.reindex(columns=[baseline, candidate]).dropna()


def pruning(modes: pd.DataFrame) -> pd.DataFrame:
    """Per model x augmentation x inference mode: val and test means over runs (and spreads)."""
    return (
        modes.groupby(["model", "augmentation", "mode"], sort=False)
        .agg(
            n=("seed", "size"),
            parameters=("parameters", "median"),
            val_pooled_iou=("val_pooled_iou", "mean"),
            pooled_iou=("pooled_iou", "mean"),
            pooled_iou_std=("pooled_iou", "std"),
            per_image_mean_iou=("per_image_mean_iou", "mean"),
            images_per_second=("images_per_second", "mean"),
            images_per_second_std=("images_per_second", "std"),
        )
        .reset_index()
    )


def json_safe(value):
    """NaN -> null, numpy scalars -> Python numbers, recursively, so that verdict.json is strict JSON."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value
