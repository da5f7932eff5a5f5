"""Qualitative mask grids: what the two models get right and wrong on chosen test images.

One PNG per augmentation and category (best, worst, differ); each row is one test image: the
input, the ground truth, then the baseline's and the candidate's prediction drawn over the dimmed
input as true positives, false positives and false negatives. The three colours are from the
Okabe-Ito palette, told apart with every common colour-vision deficiency. Captions quote the IoU
from the evaluation's per_image.csv, so the grid and the tables cannot disagree.

In a multi-class sweep (`GridSettings.classes`) truth and predictions are drawn in each class's
colour instead, void black in all three (it is scored in none), with a legend of the classes;
the IoU is then the focus class's, which per_image.csv holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from segsweep import layout
from segsweep.errors import UserError

if TYPE_CHECKING:
    from segsweep.data.classes import ClassSpec
    from segsweep.data.formats import Format
    from segsweep.reporting.runs import Sweep

ERROR_COLOURS = {  # Okabe-Ito
    "true positive": "#56B4E9",  # sky blue
    "false positive": "#D55E00",  # vermillion
    "false negative": "#F0E442",  # yellow
}
VOID_GREY = 0.5
VOID_CLASS_COLOUR = (0, 0, 0)  # void in class-coloured masks: black, as no built-in class list uses it
CATEGORIES = {
    "best": "highest IoU (mean of the two models)",
    "worst": "lowest IoU (mean of the two models)",
    "differ": "largest IoU difference between the models",
}


def choose_images(iou: pd.DataFrame, baseline: str, candidate: str, k: int) -> dict[str, list[str]]:
    """Stems per category from a table indexed by stem with one IoU column per model; ties by stem."""
    iou = iou.sort_index()
    mean = iou[[baseline, candidate]].mean(axis=1)
    gap = (iou[candidate] - iou[baseline]).abs()
    return {
        "best": list(mean.sort_values(ascending=False, kind="stable").index[:k]),
        "worst": list(mean.sort_values(kind="stable").index[:k]),
        "differ": list(gap.sort_values(ascending=False, kind="stable").index[:k]),
    }


def error_overlay(image: np.ndarray, truth: np.ndarray, pred: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The input dimmed, with TP/FP/FN pixels painted (void pixels stay dimmed): float RGB in [0, 1]."""
    from matplotlib.colors import to_rgb

    out = image.astype(float) / 255 * 0.45
    truth, pred = truth.astype(bool), pred.astype(bool)
    masks = {
        "true positive": pred & truth & valid,
        "false positive": pred & ~truth & valid,
        "false negative": ~pred & truth & valid,
    }
    for name, mask in masks.items():
        out[mask] = 0.25 * out[mask] + 0.75 * np.array(to_rgb(ERROR_COLOURS[name]))
    return out


def truth_image(truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Road white, background black, void grey."""
    return np.where(valid, truth.astype(float), VOID_GREY)


def class_image(labels: np.ndarray, valid: np.ndarray, classes: tuple[ClassSpec, ...]) -> np.ndarray:
    """Each pixel in its class's colour, void pixels VOID_CLASS_COLOUR: float RGB in [0, 1]."""
    palette = np.array([spec.colour for spec in classes], float) / 255
    return np.where(valid[..., None], palette[labels], np.array(VOID_CLASS_COLOUR) / 255)


def read_mask(path: Path, shape: tuple[int, int], classes: tuple[ClassSpec, ...] | None = None) -> np.ndarray:
    """A saved prediction: road (bool) from 0/255, or with `classes` each pixel's class index."""
    try:
        with Image.open(path) as image:
            grey = np.asarray(image.convert("L"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read predicted mask: {error}") from None
    mask = grey > 127 if classes is None else grey
    if classes is not None and mask.max(initial=0) >= len(classes):
        raise UserError(f"{path}: predicted class index {mask.max()} but the sweep has {len(classes)} classes")
    if mask.shape != shape:
        raise UserError(
            f"{path}: predicted mask is {mask.shape[1]}x{mask.shape[0]} but its image is {shape[1]}x{shape[0]}"
        )
    return mask


def panels(row: dict, models: tuple[str, str], classes: tuple[ClassSpec, ...] | None) -> list[tuple[np.ndarray, str]]:
    """A grid row's pictures and captions: input, ground truth, each model's prediction."""
    if classes is None:
        truth = (truth_image(row["truth"], row["valid"]), "ground truth (road white, void grey)")
        preds = [error_overlay(row["image"], row["truth"], row["preds"][m], row["valid"]) for m in models]
    else:
        truth = (class_image(row["truth"], row["valid"], classes), "ground truth (void black)")
        preds = [class_image(row["preds"][m], row["valid"], classes) for m in models]
    captions = [f"{m}: IoU {row['iou'][m]:.3f}" for m in models]
    return [(row["image"], "input"), truth, *zip(preds, captions)]


def legend(classes: tuple[ClassSpec, ...] | None) -> list:
    """The grid's legend: the error colours, or each class's colour and void's."""
    from matplotlib.patches import Patch

    if classes is None:
        return [Patch(color=colour, label=name) for name, colour in ERROR_COLOURS.items()]
    colours = [(spec.name, spec.colour) for spec in classes] + [("void", VOID_CLASS_COLOUR)]
    return [Patch(facecolor=np.array(rgb) / 255, edgecolor="0.4", label=name) for name, rgb in colours]


def draw_grid(
    rows: list[dict],
    baseline: str,
    candidate: str,
    title: str,
    path: Path,
    classes: tuple[ClassSpec, ...] | None = None,
) -> None:
    """rows: {"stem", "image", "truth", "valid", "preds": {model: mask}, "iou": {model: float}};
    truth and masks are road (bool) or, with `classes`, class indices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height, width = rows[0]["truth"].shape
    col_width = 3.6
    fig, axes = plt.subplots(
        len(rows),
        4,
        figsize=(4 * col_width, len(rows) * (col_width * height / width + 0.45) + 0.9),
        squeeze=False,
        layout="constrained",
    )
    with plt.rc_context({"text.parse_math": False}):
        for ax_row, row in zip(axes, rows):
            for ax, (picture, caption) in zip(ax_row, panels(row, (baseline, candidate), classes)):
                ax.imshow(picture, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(caption, fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
            ax_row[0].set_ylabel(row["stem"], fontsize=9)
        handles = legend(classes)
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 10), frameon=False, fontsize=9)
        fig.suptitle(title, fontsize=11)
        fig.savefig(path, dpi=90)
    plt.close(fig)


@dataclass(frozen=True)
class GridSettings:
    """How to draw the grids: the dataset's format (to read the test images and their labels), its
    label IDs (None: the format's own), `k` images per category, and the classes of a multi-class
    sweep (segsweep.reporting.classes.classes_from_args; None: binary road)."""

    fmt: str | Format
    positive_ids: list[int] | None = None
    void_ids: list[int] | None = None
    k: int = 2
    classes: tuple[ClassSpec, ...] | None = None


def write_grids(
    per_image: pd.DataFrame, have: set[tuple[str, int, str]], sweep: Sweep, settings: GridSettings, out_dir: Path
) -> list[dict]:
    """Draw every grid; returns what each file shows, for verdict.json and the report.

    `have` holds the (augmentation, seed, model) of the runs of the sweep's first split: per
    augmentation, the first of the sweep's seeds where both models have a run is drawn.
    """
    from segsweep.data.formats import load_pair
    from segsweep.data.manifest import manifest_samples, read_manifest

    results, split, baseline, candidate = sweep.results, sweep.splits[0], sweep.baseline, sweep.candidate
    manifest = layout.split_manifest(results, split)
    samples = {sample.stem: sample for sample in manifest_samples(read_manifest(manifest), "test")}
    records = []
    for aug in sweep.augmentations:
        seed = next((s for s in sweep.seeds if {(aug, s, baseline), (aug, s, candidate)} <= have), None)
        if seed is None:
            continue
        rows = per_image[
            (per_image["augmentation"] == aug) & (per_image["split"] == split) & (per_image["seed"] == seed)
        ]
        iou = rows.pivot(index="stem", columns="model", values="iou")[[baseline, candidate]].dropna()
        for category, stems in choose_images(iou, baseline, candidate, settings.k).items():
            grid_rows = []
            for stem in stems:
                if stem not in samples:
                    raise UserError(f"{manifest}: test image {stem!r} of the evaluation is not in the test split")
                image, truth, valid = load_pair(
                    settings.fmt, samples[stem], settings.positive_ids, settings.void_ids, settings.classes
                )
                preds = {
                    model: read_mask(
                        layout.predicted_mask(results, model, aug, split, seed, stem), truth.shape, settings.classes
                    )
                    for model in (baseline, candidate)
                }
                grid_rows.append(
                    {
                        "stem": stem,
                        "image": image,
                        "truth": truth,
                        "valid": valid,
                        "preds": preds,
                        "iou": iou.loc[stem].to_dict(),
                    }
                )
            images = "test image" if len(stems) == 1 else f"{len(stems)} test images"
            title = f"augmentation {aug}, seed {seed}: the {images} with the {CATEGORIES[category]}"
            name = f"{aug}_{category}.png"
            draw_grid(grid_rows, baseline, candidate, title, out_dir / name, settings.classes)
            records.append(
                {"file": name, "augmentation": aug, "seed": seed, "category": category, "title": title, "stems": stems}
            )
    return records
