"""Read the runs of a sweep: which runs the sweep expects, which are complete, and their files as
tidy tables.

A run is one (model, augmentation, split, seed) of the experiment folder EXP; its files are where
segsweep.layout puts them (run.json and history.csv from training; metrics.json, per_image.csv and
masks/ from evaluation). Bad content raises UserError naming the file; a missing run is listed,
so that a mean is never silently taken over fewer seeds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import pandas as pd

from segsweep import layout
from segsweep.config.checks import check_comparison
from segsweep.errors import UserError
from segsweep.reporting import cost
from segsweep.reporting.classes import RunClasses, run_classes
from segsweep.reporting.matching import run_matching

PER_IMAGE_COLUMNS = ("stem", "iou", "precision", "recall", "f1", "boundary_iou", "tp", "fp", "fn", "empty_reference")
HISTORY_COLUMNS = ("epoch", "val_road_iou")
MODE_KEYS = ("mode", "parameters", "pooled_iou", "val_pooled_iou", "per_image_mean_iou", "images_per_second")
RUN_KEYS = ("dataset", "model", "augmentation", "split", "seed")
ALL = "all"  # the comparison over every augmentation; so no preset may be named "all"


@dataclass(frozen=True)
class Sweep:
    """The sweep of one experiment: the cross product of its axes, and the comparison it is for.

    `baseline` is the model of the headline comparison; `candidate` is compared with it and with
    every other model.
    """

    results: Path
    dataset: str
    models: tuple[str, ...]
    augmentations: tuple[str, ...]
    splits: tuple[int, ...]
    seeds: tuple[int, ...]
    baseline: str
    candidate: str

    def __post_init__(self) -> None:
        check_comparison(self.models, self.baseline, self.candidate, flags=True)  # as the config is checked
        if ALL in self.augmentations:
            raise UserError(f"--augmentations: {ALL!r} names the comparison over all augmentations; rename that preset")

    def expected_runs(self) -> list[Run]:
        return [
            Run(m, a, sp, s, self.results, self.dataset)
            for m, a, sp, s in product(self.models, self.augmentations, self.splits, self.seeds)
        ]


@dataclass(frozen=True)
class Run:
    """One (model, augmentation, split, seed) of the sweep and where its files are."""

    model: str
    augmentation: str
    split: int
    seed: int
    results: Path
    dataset: str

    @property
    def keys(self) -> dict:
        """The run's RUN_KEYS, which start every row it contributes to a table."""
        return {
            "dataset": self.dataset,
            "model": self.model,
            "augmentation": self.augmentation,
            "split": self.split,
            "seed": self.seed,
        }

    @property
    def path_keys(self) -> tuple[str, str, int, int]:
        return self.model, self.augmentation, self.split, self.seed

    def files(self) -> dict[str, Path]:
        return layout.run_files(self.results, *self.path_keys)

    def missing(self) -> list[str]:
        return [str(path) for path in self.files().values() if not path.exists()]

    def __str__(self) -> str:
        return f"{self.model}/{self.augmentation}/split{self.split}/seed{self.seed}"


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read JSON: {error}") from None


def read_csv(
    path: Path, columns: tuple[str, ...], dtype: dict | None = None, na_values: list[str] | None = None
) -> pd.DataFrame:
    """A CSV with `columns`; `na_values`, where given, are the only missing values, so that a name
    such as "NA" reads back as itself."""
    options = {} if na_values is None else {"na_values": na_values, "keep_default_na": False}
    try:
        table = pd.read_csv(path, dtype=dtype, **options)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read CSV: {error}") from None
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise UserError(f"{path}: missing columns {', '.join(absent)} (has {', '.join(map(str, table.columns))})")
    return table


def _field(data: dict, path: Path, dotted: str):
    """data['a']['b'] for 'a.b', or a UserError naming the file and the key."""
    value = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UserError(f"{path}: missing key {dotted!r}")
        value = value[part]
    return value


def _number(value) -> float:
    """A JSON number; null (NaN written strictly) becomes NaN."""
    return math.nan if value is None else float(value)


def _run_row(run: Run, info: dict, metrics: dict) -> dict:
    """The tidy row of runs.csv: run keys, headline metrics, training facts and provenance."""
    files = run.files()
    rj, mj = files["run.json"], files["metrics.json"]
    for path, data in ((rj, info), (mj, metrics)):
        for key in ("model", "augmentation", "seed"):
            if _field(data, path, key) != run.keys[key]:
                raise UserError(f"{path}: {key} is {data[key]!r} but the file is in the folder of run {run}")
    versions = info.get("versions") or {}
    pooled_iou, val_pooled_iou = _field(metrics, mj, "pooled.iou"), _field(metrics, mj, "val.pooled.iou")
    return {
        **run.keys,
        "architecture": info.get("architecture"),
        "deep_supervision": info.get("deep_supervision"),
        "pooled_iou": pooled_iou,
        "per_image_mean_iou": _number(_field(metrics, mj, "per_image_mean.iou")),
        "precision": _field(metrics, mj, "pooled.precision"),
        "recall": _field(metrics, mj, "pooled.recall"),
        "f1": _field(metrics, mj, "pooled.f1"),
        "max_f": _field(metrics, mj, "max_f"),
        "average_precision": _field(metrics, mj, "average_precision"),
        "boundary_iou": _number(_field(metrics, mj, "boundary_iou")),
        "val_pooled_iou": val_pooled_iou,
        "val_test_gap": val_pooled_iou - pooled_iou,
        "n_test_images": metrics.get("n_images"),
        "n_empty_reference": _field(metrics, mj, "n_empty_reference"),
        "mode": _field(metrics, mj, "mode"),
        "mode_chosen_on": _field(metrics, mj, "mode_chosen_on"),
        "threshold": metrics.get("threshold"),
        "threshold_chosen_on": metrics.get("threshold_chosen_on"),
        "best_epoch": _field(info, rj, "best_epoch"),
        "epochs_run": _field(info, rj, "epochs_run"),
        "best_val_road_iou": info.get("best_val_road_iou"),
        "train_seconds": _field(info, rj, "train_seconds"),
        "parameters": _field(info, rj, "parameters"),
        "training_flops_per_image": _field(metrics, mj, "training_flops_per_image"),
        **run_matching(info),
        "images_per_second": _field(metrics, mj, "speed.images_per_second"),
        "precision_policy": _field(info, rj, "precision"),
        "device_type": (info.get("device") or {}).get("type"),
        "device_name": (info.get("device") or {}).get("name"),
        "isa": (info.get("floating_point") or {}).get("isa"),  # oneDNN's, for bitwise reproducibility
        "host": info.get("host"),
        "resumed": info.get("resumed"),
        "attempts": info.get("attempts"),
        "slurm_job_id": info.get("slurm_job_id"),
        "finished_at": info.get("finished_at"),
        **{f"version_{name}": version for name, version in versions.items()},
    }


@dataclass
class Tables:
    """Everything read from the runs, in tidy form: each row starts with its run's keys."""

    runs: pd.DataFrame
    histories: pd.DataFrame
    per_image: pd.DataFrame
    modes: pd.DataFrame
    classes: list[RunClasses] = field(default_factory=list)  # the multi-class runs' blocks; none for binary road


def _with_keys(frame: pd.DataFrame, run: Run) -> pd.DataFrame:
    return pd.concat([pd.DataFrame(run.keys, index=frame.index), frame], axis=1)


def load_runs(runs: list[Run]) -> Tables:
    """Read every run's files; bad content raises UserError naming the file. Each run's cost comes
    from one `sacct` call for the whole sweep where SLURM answers (segsweep.reporting.cost)."""
    records = [(read_json(run.files()["run.json"]), read_json(run.files()["metrics.json"])) for run in runs]
    usage = cost.sacct_usage(job for info, metrics in records for job in cost.run_jobs(info, metrics))
    rows, histories, per_image, modes, classes = [], [], [], [], []
    for run, (info, metrics) in zip(runs, records):
        files = run.files()
        evaluation = layout.benchmark_file(run.results, "evaluate", layout.run_path(*run.path_keys))
        rows.append({**_run_row(run, info, metrics), **cost.columns(cost.run_cost(info, metrics, evaluation, usage))})
        histories.append(_with_keys(read_csv(files["history.csv"], HISTORY_COLUMNS), run))
        # Stems stay text: 000123 must not become the number 123.
        images = read_csv(files["per_image.csv"], PER_IMAGE_COLUMNS, {"stem": str})
        if images["empty_reference"].dtype != bool:
            raise UserError(f"{files['per_image.csv']}: column empty_reference must be True or False")
        per_image.append(_with_keys(images, run))
        for mode in metrics.get("modes") or []:
            modes.append({**run.keys, **{key: _field(mode, files["metrics.json"], key) for key in MODE_KEYS}})
        if "classes" in metrics:
            classes.append(run_classes(run.keys, metrics["classes"], files["metrics.json"]))
    return Tables(
        runs=pd.DataFrame(rows),
        histories=pd.concat(histories, ignore_index=True),
        per_image=pd.concat(per_image, ignore_index=True),
        modes=pd.DataFrame(modes, columns=[*RUN_KEYS, *MODE_KEYS]),
        classes=classes,
    )


def split_complete(expected: list[Run], allow_missing: bool) -> tuple[list[Run], list[dict]]:
    """(runs with every file, records of the others); an error listing the others unless allowed."""
    missing_files = {run: run.missing() for run in expected}
    missing = [{**run.keys, "missing": files} for run, files in missing_files.items() if files]
    lines = "\n".join(
        f"  {m['model']}/{m['augmentation']}/split{m['split']}/seed{m['seed']}: {', '.join(m['missing'])}"
        for m in missing
    )
    if len(missing) == len(expected):
        raise UserError(f"none of the {len(expected)} expected runs is complete:\n{lines}")
    if missing and not allow_missing:
        raise UserError(
            f"{len(missing)} of {len(expected)} expected runs are missing files (means over fewer seeds would "
            f"mislead; give --allow-missing to aggregate without them):\n{lines}"
        )
    return [run for run, files in missing_files.items() if not files], missing
