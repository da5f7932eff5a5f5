"""Evaluate one trained run on the validation and test splits, at each image's original resolution:
the library behind `segsweep evaluate` (segsweep.evaluation.job, whose docstring lists the files
written; docs/formats.md their columns), taking the job settings and paths as plain values.

Each image is resized to the network's input size, predicted, its road probability map resized
back to the image's own size (bilinear) and thresholded; void pixels are left out of every
count. The validation split comes first and makes every choice (segsweep/evaluation/choice.py):
the threshold when ``evaluate.threshold: val`` (else the configured number), and the headline
inference mode of a deep-supervised U-Net++. The test split is then scored with those choices
fixed. With ``evaluate.threshold: val`` the validation split is predicted twice: once to choose
the threshold from per-threshold counts, once to score at it. Outputs are written under hidden
names and renamed at the end, so a killed job leaves no complete-looking result. Images with no
road in truth (after void) have NaN per-image IoU: see segsweep/evaluation/metrics.py.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segsweep.config.choice import VAL
from segsweep.data.folder import dataset_format
from segsweep.data.formats import Sample, load_pair
from segsweep.data.staging import staged_dir, staged_file
from segsweep.errors import DataError
from segsweep.evaluation.choice import headline_mode, thresholds_on_val
from segsweep.evaluation.class_metrics import class_counts, class_iou, mean_iou
from segsweep.evaluation.metrics import (
    Counts,
    average_precision,
    empty_reference,
    iou,
    max_f,
    scores,
    threshold_counts,
)

if TYPE_CHECKING:
    from segsweep.evaluation.scoring import SplitScores

VAL_SPLIT, TEST_SPLIT = "val", "test"
# metrics.json first: it marks a complete result (the staged outputs are renamed in reverse order).
OUTPUTS = ("metrics.json", "per_image.csv", "per_image_val.csv", "masks")


def evaluate_run(settings: dict, manifest_path: Path, model_file: Path, out: Path) -> dict[str, Any]:
    """Score the model in `model_file` on the val and test splits of the manifest at `manifest_path`
    with the job `settings`; write the outputs (module docstring) to `out`; return metrics.json's content."""
    # Slow imports (TensorFlow, pandas), kept out of `--help`.
    from segsweep.data.manifest import manifest_samples, read_manifest
    from segsweep.evaluation.predict import mode_models
    from segsweep.models import parameter_count

    seed = _run_seed(model_file, settings)
    manifest = read_manifest(manifest_path)
    samples = {split: manifest_samples(manifest, split) for split in (VAL_SPLIT, TEST_SPLIT)}
    for split, listed in samples.items():
        if not listed:
            raise DataError(f"{manifest_path}: no images in the {split!r} split; evaluation scores val and test")
    if settings["model"].get("builder"):  # its module may register the layers the file names
        from segsweep.models.plugin import import_builder_module

        import_builder_module(settings["model"]["builder"], "models")
    model = _load_model(model_file, settings["train"]["input_size"])
    models = mode_models(model)
    parameters = [parameter_count(m) for m in models.values()]

    val, thresholds = _score_val(models, samples[VAL_SPLIT], settings)
    if len(models) == 1:
        headline = 0
    else:
        try:
            headline = headline_mode(_choice_scores(val, settings["dataset"]).tolist(), parameters)
        except ValueError as error:
            raise DataError(f"{manifest_path}: cannot choose the inference mode on val: {error}") from None

    _remove_outputs(out)
    with (
        staged_file(out / "metrics.json") as metrics_path,
        staged_file(out / "per_image.csv") as per_image_path,
        staged_file(out / "per_image_val.csv") as per_image_val_path,
        staged_dir(out / "masks") as masks_dir,
    ):  # renamed into place in reverse order: masks, the tables, then metrics.json
        test = _score(models, samples[TEST_SPLIT], settings, thresholds, masks_dir, headline)
        speeds = _speeds(models, samples[TEST_SPLIT], settings, thresholds)
        names = [row["name"] for row in settings["dataset"].get("classes") or []]
        _per_image_table(samples[TEST_SPLIT], test, headline, names).to_csv(per_image_path, index=False)
        _per_image_table(samples[VAL_SPLIT], val, headline, names).to_csv(per_image_val_path, index=False)
        evaluated = Evaluated(model, models, parameters, headline, thresholds, val, test, speeds)
        summary = _metrics(settings, seed, evaluated)
        metrics_path.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return summary


def _score(models: dict, samples: list[Sample], settings: dict, thresholds, masks_dir=None, mask_mode: int = 0):
    from segsweep.evaluation.scoring import score_samples

    evaluate = settings["evaluate"]
    return score_samples(
        models,
        samples,
        settings["dataset"],
        settings["train"]["input_size"],
        thresholds,
        evaluate["batch_size"],
        masks_dir,
        mask_mode,
        evaluate["test_time_flip"],
    )


def _choice_scores(val: SplitScores, dataset: dict) -> np.ndarray:
    """Each mode's validation score that its choices are made on: pooled road IoU, or with several
    classes the score ``dataset.choose_on`` names (mIoU, or the focus class's IoU: the decision's metric)."""
    if val.confusion is not None and dataset.get("choose_on") == "miou":
        return mean_iou(class_iou(class_counts(val.confusion.sum(axis=0))))
    return iou(val.counts.pooled(axis=0))


def _score_val(models: dict, samples: list[Sample], settings: dict) -> tuple[SplitScores, np.ndarray]:
    """The validation scores at the thresholds they choose (or the configured one), and those thresholds.
    With several classes a pixel is its most probable class: no threshold (NaN) is chosen or applied."""
    setting = settings["evaluate"]["threshold"]
    if settings["dataset"].get("classes"):
        thresholds = np.full(len(models), np.nan)
        return _score(models, samples, settings, thresholds), thresholds
    if setting != VAL:
        thresholds = np.full(len(models), float(setting))
        return _score(models, samples, settings, thresholds), thresholds
    counts_only = _score(models, samples, settings, None)
    if not counts_only.histograms[:, 0].any():  # no road pixel at any level
        raise DataError("the validation split has no road pixel (after void): evaluate.threshold 'val' needs some")
    thresholds = thresholds_on_val(counts_only.histograms)
    return _score(models, samples, settings, thresholds), thresholds


def _load_model(path: Path, input_size: list[int]):
    from segsweep.models import load_model

    if not path.is_file():
        raise DataError(f"{path}: model file does not exist")
    try:
        model = load_model(path)
    except Exception as error:  # Keras raises several types for a corrupt or foreign file
        raise DataError(f"{path}: cannot load the model: {error}") from None
    if list(model.input_shape[1:3]) not in (list(input_size), [None, None]):  # [None, None]: trained on patches
        raise DataError(
            f"{path}: model input is {model.input_shape[1:3]} but settings train.input_size is {input_size}"
        )
    return model


def _run_seed(model_file: Path, settings: dict) -> int | None:
    """The training seed from run.json beside the model (None without one), once that run is
    known to be the dataset, model and augmentation the settings describe: results are filed
    under those names, so a model file from another run must not be scored as this one."""
    run_json = model_file.parent / "run.json"
    if not run_json.is_file():
        return None
    try:
        run = json.loads(run_json.read_text())
        seed = run["seed"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{run_json}: cannot read the run's seed: {error}") from None
    expected = {key: settings[key]["name"] for key in ("dataset", "model", "augmentation")}
    wrong = [f"{key} {run[key]!r}" for key, name in expected.items() if key in run and run[key] != name]
    if wrong:
        raise DataError(
            f"{run_json}: the model was trained with {', '.join(wrong)}, but the settings are for "
            + ", ".join(f"{key} {name!r}" for key, name in expected.items())
        )
    return seed


def _remove_outputs(out: Path) -> None:
    """Drop a previous result first, so that a new one is never mixed with an old one."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _speeds(models: dict, samples: list[Sample], settings: dict, thresholds: np.ndarray) -> dict[str, float]:
    """Images per second of each mode's own (pruned) network, on the first test images."""
    from segsweep.evaluation.scoring import Task
    from segsweep.evaluation.speed import inference_rate

    evaluate, dataset = settings["evaluate"], settings["dataset"]
    batch_size, task = evaluate["batch_size"], Task.of(dataset)
    images = [load_pair(dataset_format(dataset), s, dataset.get("positive_ids"))[0] for s in samples[:batch_size]]
    return {
        mode: inference_rate(
            model,
            task,
            images,
            settings["train"]["input_size"],
            float(threshold),
            batch_size,
            evaluate["speed_repeats"],
            evaluate["test_time_flip"],
        )
        for (mode, model), threshold in zip(models.items(), thresholds, strict=True)
    }


def _column(counts: Counts, m: int) -> Counts:
    return Counts(*(c[:, m] for c in counts))


def _per_image_table(samples: list[Sample], split: SplitScores, m: int, names: list[str]):
    """Mode m's per-image metrics and counts; NaN (an empty cell) where undefined."""
    import pandas as pd

    counts = _column(split.counts, m)
    return pd.DataFrame(
        {
            "stem": [s.stem for s in samples],
            **scores(counts),
            "boundary_iou": split.boundary_iou[:, m],
            **counts._asdict(),
            "empty_reference": empty_reference(counts),
            **_class_columns(split, m, names),
        }
    )


def _class_columns(split: SplitScores, m: int, names: list[str]) -> dict[str, np.ndarray]:
    """With several classes, each class's per-image counts as columns ``{class}:tp``, ``:fp``, ``:fn``,
    so that the statistics can pool any class, or all of them, over resampled images."""
    if split.confusion is None:
        return {}
    counts = class_counts(split.confusion[:, m])  # (images, K) each
    return {
        f"{name}:{field}": values[:, k] for k, name in enumerate(names) for field, values in counts._asdict().items()
    }


def _number(value) -> float | None:
    """A JSON number, or null where the metric is undefined (NaN: no road in the split)."""
    value = float(value)
    return None if np.isnan(value) else value


def _mean_over_reference(values: np.ndarray, counts: Counts) -> float | None:
    """The mean over the images with road in truth: every per-image mean is over the same images."""
    kept = values[~empty_reference(counts)]
    return _number(np.mean(kept)) if len(kept) else None


def _split_summary(split: SplitScores, m: int) -> dict:
    """Mode m's split-level numbers: pooled metrics and counts, threshold-free KITTI metrics, Boundary IoU."""
    counts = _column(split.counts, m)
    pooled = counts.pooled()
    curve = threshold_counts(split.histograms[m])
    return {
        "n_images": int(len(counts.tp)),
        "n_empty_reference": int(np.count_nonzero(empty_reference(counts))),
        "pooled": {
            **{name: _number(value) for name, value in scores(pooled).items()},
            **{name: int(value) for name, value in pooled._asdict().items()},
        },
        "per_image_mean": {name: _mean_over_reference(value, counts) for name, value in scores(counts).items()},
        "max_f": _number(max_f(curve)),
        "average_precision": _number(average_precision(curve)),
        "boundary_iou": _mean_over_reference(split.boundary_iou[:, m], counts),
    }


def _class_summary(split: SplitScores, m: int, dataset: dict) -> dict:
    """Mode m's class figures of a split, pooled over its images (`segsweep.evaluation.class_metrics`)."""
    from segsweep.evaluation.scoring import Task

    task = Task.of(dataset)
    rows = dataset["classes"]
    confusion = split.confusion[:, m].sum(axis=0)
    per_class = class_iou(class_counts(confusion))
    return {
        "names": [row["name"] for row in rows],
        "colours": [list(row["colour"]) for row in rows],
        "focus": task.classes[task.focus].name,
        "iou": {row["name"]: _number(value) for row, value in zip(rows, per_class, strict=True)},
        "miou": _number(mean_iou(per_class)),
        "confusion": confusion.tolist(),
    }


def _threshold_source(settings: dict) -> str:
    """Where the threshold came from: val, the config, or none ("argmax": several classes)."""
    if settings["dataset"].get("classes"):
        return "argmax"
    return VAL_SPLIT if settings["evaluate"]["threshold"] == VAL else "config"


@dataclass(frozen=True)
class Evaluated:
    """A trained model evaluated: its inference modes (`models`, name -> network, with their
    parameter counts), the choices made on val (the `headline` mode's index, each mode's
    threshold), and each mode's scores on val and test and its speed (images/s)."""

    model: Any
    models: dict
    parameters: list[int]
    headline: int
    thresholds: np.ndarray
    val: SplitScores
    test: SplitScores
    speeds: dict[str, float]


def _metrics(settings: dict, seed: int | None, evaluated: Evaluated) -> dict:
    """metrics.json: the test split's numbers at the top level, the validation split's under "val"."""
    from segsweep.config.settings import training_size
    from segsweep.evaluation.predict import SINGLE
    from segsweep.models import level_widths, parameter_count, training_flops_at

    model, models, parameters, headline = evaluated.model, evaluated.models, evaluated.parameters, evaluated.headline
    thresholds, val, test, speeds = evaluated.thresholds, evaluated.val, evaluated.test, evaluated.speeds

    modes = list(models)
    val_pooled_iou = iou(val.counts.pooled(axis=0))
    test_pooled_iou = iou(test.counts.pooled(axis=0))
    per_mode = [
        {
            "mode": mode,
            "parameters": parameters[m],
            "threshold": _number(thresholds[m]),
            "pooled_iou": _number(test_pooled_iou[m]),
            "val_pooled_iou": _number(val_pooled_iou[m]),
            "per_image_mean_iou": _mean_over_reference(iou(test.counts)[:, m], _column(test.counts, m)),
            "images_per_second": speeds[mode],
        }
        for m, mode in enumerate(modes)
    ]
    evaluate = settings["evaluate"]
    test_summary = _split_summary(test, headline)
    val_summary = _split_summary(val, headline)
    del val_summary["per_image_mean"]
    if test.confusion is not None:  # several classes
        test_summary["classes"] = _class_summary(test, headline, settings["dataset"])
        val_summary["classes"] = _class_summary(val, headline, settings["dataset"])
    return {
        "dataset": settings["dataset"]["name"],
        "model": settings["model"]["name"],
        "augmentation": settings["augmentation"]["name"],
        "seed": seed,
        "mode": modes[headline],
        "mode_chosen_on": "single" if modes == [SINGLE] else VAL_SPLIT,
        "threshold": _number(thresholds[headline]),
        "threshold_chosen_on": _threshold_source(settings),
        "chosen_on": VAL_SPLIT,
        "test_time_flip": evaluate["test_time_flip"],
        **test_summary,
        "val": val_summary,
        "parameters": parameters[headline],
        "trained_parameters": parameter_count(model),
        "filters": level_widths(model),
        "training_flops_per_image": training_flops_at(model, settings["model"], training_size(settings["train"])),
        "speed": {
            "images_per_second": speeds[modes[headline]],
            "batch_size": evaluate["batch_size"],
            "repeats": evaluate["speed_repeats"],
            "input_size": list(settings["train"]["input_size"]),
        },
        "modes": [] if modes == [SINGLE] else per_mode,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),  # for the run's cost from sacct (reporting/cost.py)
    }
