"""The aggregate step's view of multi-class runs: each class's test IoU over runs, and each model's
confusion matrix.

A run trained on ``dataset.classes`` has a ``classes`` block in its metrics.json: the class names
and colours, the focus class (the one per_image.csv and the headline IoU describe), each class's
test IoU pooled over the test images (null where a class has no pixel in truth nor prediction),
their mean (mIoU) and the K x K confusion matrix of valid test pixels (rows: truth, columns:
predicted). A binary road run has none; a sweep whose runs have none writes nothing here and adds
nothing to verdict.json, so that its files and report stay what they were before classes existed.

`class_fields` writes CLASS_IOU_FILE (tidy: model, metric, class, mean, sd, n; metric "iou" per
class, "miou" for the mean over classes, whose class is empty) and one heatmap per model
(layout.confusion_plot), and returns verdict.json's ``classes`` block, which the report reads.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segsweep import layout
from segsweep.errors import UserError

if TYPE_CHECKING:
    from segsweep.data.classes import ClassSpec
    from segsweep.data.formats import Format

IOU, MIOU = "iou", "miou"  # the `metric` column of CLASS_IOU_FILE
CLASS_IOU_COLUMNS = ("model", "metric", "class", "mean", "sd", "n")


@dataclass(frozen=True)
class RunClasses:
    """One run's ``classes`` block, checked; `iou` is per class in `names` order, NaN for null."""

    keys: dict
    names: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]
    focus: str
    iou: tuple[float, ...]
    miou: float
    confusion: np.ndarray  # K x K pixel counts, rows truth, columns predicted

    @property
    def model(self) -> str:
        return self.keys["model"]

    def __str__(self) -> str:
        k = self.keys
        return f"{k['model']}/{k['augmentation']}/split{k['split']}/seed{k['seed']}"


def _number(value, path: Path, key: str) -> float:
    """A number, or NaN for null; anything else is refused naming the file and key."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"{path}: classes.{key} is {value!r}, not a number or null")
    return float(value)


def run_classes(keys: dict, block, path: Path) -> RunClasses:
    """Check a run's metrics.json ``classes`` block (`path` names the file in errors)."""
    if not isinstance(block, dict):
        raise UserError(f"{path}: classes is {type(block).__name__}, not an object")
    absent = [key for key in ("names", "colours", "focus", "iou", "miou", "confusion") if key not in block]
    if absent:
        raise UserError(f"{path}: classes lacks {', '.join(absent)}")
    names = block["names"]
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise UserError(f"{path}: classes.names must list at least two class names")
    k = len(names)
    colours = np.asarray(block["colours"])
    if (
        colours.shape != (k, 3)
        or not np.issubdtype(colours.dtype, np.integer)
        or not ((0 <= colours) & (colours <= 255)).all()
    ):
        raise UserError(f"{path}: classes.colours must hold one [r, g, b] of 0-255 per class ({k})")
    if block["focus"] not in names:
        raise UserError(f"{path}: classes.focus {block['focus']!r} is not one of classes.names")
    iou = block["iou"]
    if not isinstance(iou, dict) or set(iou) != set(names):
        raise UserError(f"{path}: classes.iou must have one entry per class of classes.names")
    confusion = np.asarray(block["confusion"])
    if confusion.shape != (k, k) or not np.issubdtype(confusion.dtype, np.integer) or (confusion < 0).any():
        raise UserError(f"{path}: classes.confusion must be a {k} x {k} matrix of pixel counts")
    return RunClasses(
        keys=keys,
        names=tuple(names),
        colours=tuple(tuple(int(c) for c in rgb) for rgb in colours),
        focus=block["focus"],
        iou=tuple(_number(iou[name], path, f"iou.{name}") for name in names),
        miou=_number(block["miou"], path, "miou"),
        confusion=confusion.astype(np.int64),
    )


def class_iou_table(runs: list[RunClasses]) -> pd.DataFrame:
    """Per model and class: the test IoU's mean, standard deviation and n over the model's runs
    (every augmentation, split and seed, as the model table), runs where the class is null left
    out; then per model the same of each run's mIoU (metric "miou")."""
    rows = [
        {"model": run.model, "metric": IOU, "class": name, "value": value}
        for run in runs
        for name, value in zip(run.names, run.iou)
    ] + [{"model": run.model, "metric": MIOU, "class": "", "value": run.miou} for run in runs]
    values = pd.DataFrame(rows)
    table = (
        values.groupby(["model", "metric", "class"], sort=False)["value"]
        .agg(mean="mean", sd="std", n="count")
        .reset_index()
    )
    return table[list(CLASS_IOU_COLUMNS)]


def model_confusions(runs: list[RunClasses]) -> dict[str, np.ndarray]:
    """Per model, in run order: the confusion matrices of its runs summed (pixel counts)."""
    sums: dict[str, np.ndarray] = {}
    for run in runs:
        sums[run.model] = sums.get(run.model, 0) + run.confusion
    return sums


def row_rates(confusion: np.ndarray) -> np.ndarray:
    """Each row divided by its sum, so that a truth class's row sums to 1 (its diagonal cell is the
    class's recall); NaN in a row whose class has no pixel in truth."""
    totals = confusion.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, confusion / totals, np.nan)


def _check_sweep(runs: list[RunClasses], n_runs: int, classes: tuple[ClassSpec, ...] | None) -> None:
    """Every run multi-class with the same classes, those the aggregate step was given (`classes`,
    which the grids draw with: the page's legend comes from the runs), or every run binary with no
    classes given."""
    if not runs:
        if classes is not None:
            raise UserError(
                "--classes-json names classes but no run's metrics.json has a classes block: the runs are binary "
                "road; evaluate them again, or leave --classes-json out"
            )
        return
    if len(runs) < n_runs:
        raise UserError(
            f"{len(runs)} of {n_runs} runs are multi-class (metrics.json has classes) and the others binary road: "
            "evaluate them again with the same dataset.classes"
        )
    first = runs[0]
    for run in runs[1:]:
        if (run.names, run.colours, run.focus) != (first.names, first.colours, first.focus):
            raise UserError(
                f"run {run} has classes {list(run.names)} (focus {run.focus}) but run {first} has "
                f"{list(first.names)} (focus {first.focus}): evaluate them again with the same dataset.classes"
            )
    if classes is None:
        raise UserError("the runs are multi-class (metrics.json has classes): give --classes-json, dataset.classes")
    given = [(spec.name, spec.colour) for spec in classes]
    if given != list(zip(first.names, first.colours)):
        raise UserError(
            f"--classes-json names classes (and colours) {given} but the runs have {list(zip(first.names, first.colours))}"
        )


def class_fields(
    runs: list[RunClasses], n_runs: int, classes: tuple[ClassSpec, ...] | None, aggregate_dir: Path
) -> dict:
    """Write CLASS_IOU_FILE and each model's confusion heatmap into `aggregate_dir` and return
    verdict.json's ``classes`` block; nothing, and {}, for a binary sweep.

    `runs`: the multi-class blocks of the `n_runs` runs aggregated (runs.Tables.classes);
    `classes`: what the grids draw with (--classes-json), checked against them.
    """
    _check_sweep(runs, n_runs, classes)
    if not runs:
        return {}
    from segsweep.reporting.plots import confusion_heatmap

    class_iou_table(runs).to_csv(aggregate_dir / layout.CLASS_IOU_FILE, index=False)
    names = list(runs[0].names)
    counts = Counter(run.model for run in runs)
    for model, confusion in model_confusions(runs).items():
        path = layout.plot_file(aggregate_dir, layout.confusion_plot(model))
        confusion_heatmap(row_rates(confusion), names, model, counts[model], path)
    return {
        "classes": {
            "names": names,
            "colours": [list(rgb) for rgb in runs[0].colours],
            "focus": runs[0].focus,
            "confusion_runs": dict(counts),
        }
    }


def add_classes_argument(parser) -> None:
    """--classes-json: the aggregate step's `dataset.classes`, which the mask grids colour by."""
    parser.add_argument(
        "--classes-json",
        default="null",
        help='dataset.classes as JSON: "format" or a list of {name, ids, colour}; null (the default): binary road',
    )


def classes_from_args(args, fmt: str | Format) -> tuple[ClassSpec, ...] | None:
    """The checked classes of --classes-json for format `fmt` and --void-ids; None for binary road."""
    from segsweep.data.formats import classes_of

    try:
        setting = json.loads(args.classes_json)
    except ValueError as error:
        raise UserError(f"--classes-json is not valid JSON: {error}") from None
    return classes_of(fmt, setting, args.void_ids)
