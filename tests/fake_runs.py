"""A fabricated sweep on disk, laid out as segsweep.layout's experiment folder EXP, so reporting tests need no training.

The dataset is the project's own procedural kitti_semantics scenes with a real split manifest;
each run's "prediction" is the true road shifted sideways and cut below its top edge by a random
number of pixels, whose mean is set per model, or per model and seed (`error_px`). Per-image and pooled metrics are then
counted from those masks with segsweep.evaluation.metrics, so every file agrees with every other,
as real evaluation output would. The first `empty_images` test images of each split have their road
removed from the truth the runs are scored on: no reference, so their IoU is NaN (empty_reference).
Boundary IoU, MaxF, AP and validation scores are plausible stand-ins derived from those counts,
not computed from boundaries or score maps: reporting only carries them.

With `classes` (dataset.classes rows) the runs are multi-class: the truth is each pixel's class
index, a prediction is the truth shifted sideways (masks/ hold class indices), the road columns are
the first class's (the focus), per_image.csv has each class's counts, and metrics.json has a
`classes` block whose confusion matrix is counted from the masks, or hand-made where `confusions`
gives one; its IoUs follow from it with segsweep.evaluation.class_metrics.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from segsweep import layout
from segsweep.data.classes import ClassSpec
from segsweep.data.formats import classes_of, load_pair
from segsweep.data.manifest import SPLITS, manifest_samples
from segsweep.data.split import make_split
from segsweep.data.synthetic import generate
from segsweep.evaluation.class_metrics import class_counts, class_iou, confusion_matrix, mean_iou
from segsweep.evaluation.metrics import Counts, confusion_counts, scores

FORMAT = "kitti_semantics"


@dataclass
class FakeSweep:
    """Where the fabricated sweep lives and the flags that select it."""

    root: Path
    dataset: str = "fake"
    models: tuple[str, ...] = ("unet", "unetpp")
    augmentations: tuple[str, ...] = ("none", "flip_crop")
    seeds: tuple[int, ...] = (0, 1, 2)
    splits: tuple[int, ...] = (0,)
    # Mean error of each model's runs in pixels; a {seed: pixels} mapping sets it seed by seed.
    error_px: dict[str, float | dict[int, float]] = field(default_factory=lambda: {"unet": 7.0, "unetpp": 2.0})
    n_images: int = 16
    fractions: tuple[float, float, float] = (0.25, 0.25, 0.5)  # train, val, test: 8 test images
    size: tuple[int, int] = (48, 160)
    deep_supervision: bool = True  # of the candidate (the last model): it then reports pruned modes
    empty_images: int = 0  # test images per split without road in truth
    classes: tuple[dict, ...] | None = None  # dataset.classes rows {name, ids, colour}; None: binary road
    # Hand-made test confusion matrices of multi-class runs by (model, seed), every augmentation and split alike.
    confusions: dict[tuple[str, int], list[list[int]]] = field(default_factory=dict)

    @property
    def results(self) -> Path:
        """The experiment folder EXP."""
        return self.root / "results" / "exp"

    @property
    def out_dir(self) -> Path:
        return layout.aggregate_dir(self.results)

    def run_dir(self, model: str, aug: str, seed: int, split: int = 0) -> Path:
        return layout.run_dir(self.results, model, aug, split, seed)

    def eval_dir(self, model: str, aug: str, seed: int, split: int = 0) -> Path:
        return layout.eval_dir(self.results, model, aug, split, seed)

    def benchmark(self, model: str, aug: str, seed: int, split: int = 0, rule: str = "train") -> Path:
        return layout.benchmark_file(self.results, rule, layout.run_path(model, aug, split, seed))

    def class_specs(self) -> tuple[ClassSpec, ...] | None:
        """The checked classes, as `segsweep aggregate --classes-json` resolves them; None: binary road."""
        return classes_of(FORMAT, None if self.classes is None else list(self.classes))

    def mean_error(self, model: str, seed: int) -> float:
        error = self.error_px[model]
        return error[seed] if isinstance(error, dict) else error

    def aggregate_args(self, grid_images: int = 2) -> list[str]:
        return [
            "aggregate",
            "--results",
            str(self.results),
            "--dataset",
            self.dataset,
            "--models",
            *self.models,
            "--augmentations",
            *self.augmentations,
            "--splits",
            *map(str, self.splits),
            "--seeds",
            *map(str, self.seeds),
            "--baseline",
            self.models[0],
            "--candidate",
            self.models[-1],
            "--grid-images",
            str(grid_images),
            "--out-dir",
            str(self.out_dir),
        ]

    def report_args(self, out: Path, config_json: str = "{}") -> list[str]:
        """`segsweep report` of this sweep's aggregate into `out`, the config shown being `config_json`."""
        return ["report", "--results", str(self.results), "--config-json", config_json, "--out", str(out)]

    def config(self) -> dict:
        """The slice of a workflow config that the report shows as provenance."""
        return {
            "dataset": {"name": self.dataset, "format": FORMAT, "root": str(self.root / "data")},
            "models": list(self.models),
            "augmentations": list(self.augmentations),
            "seeds": list(self.seeds),
            "report": {
                "baseline": self.models[0],
                "candidate": self.models[-1],
                "grid_images": 2,
                "metric": "pooled_iou",
                "min_effect": 0.01,
                "bootstrap_resamples": 10000,
                "bootstrap_seed": 0,
            },
        }


EVALUATE_SECONDS = 2.0  # each fake evaluation's benchmark


def _prediction(truth: np.ndarray, error: float, rng: np.random.Generator) -> np.ndarray:
    """The true road shifted sideways and its top rows cut, both by about `error` pixels."""
    shift = int(round(error * rng.choice([-1, 1])))
    cut = int(round(abs(rng.normal(error / 2, 1))))
    pred = np.roll(truth, shift, axis=1)
    road_rows = np.flatnonzero(pred.any(axis=1))
    if len(road_rows):
        pred[road_rows[0] : road_rows[0] + cut] = False
    return pred


def _class_prediction(labels: np.ndarray, error: float, rng: np.random.Generator) -> np.ndarray:
    """The true class map shifted sideways by about `error` pixels."""
    return np.roll(labels, int(round(error * rng.choice([-1, 1]))), axis=1)


def _classes_block(specs: tuple[ClassSpec, ...], confusion: np.ndarray) -> dict:
    """metrics.json's `classes` of a confusion matrix: each class's IoU (null where the class is in
    neither truth nor prediction) and their mean, as the evaluation pools them."""
    iou = class_iou(class_counts(confusion))
    miou = float(mean_iou(iou))
    return {
        "names": [spec.name for spec in specs],
        "colours": [list(spec.colour) for spec in specs],
        "focus": specs[0].name,
        "iou": {spec.name: None if np.isnan(value) else float(value) for spec, value in zip(specs, iou)},
        "miou": None if np.isnan(miou) else miou,
        "confusion": confusion.tolist(),
    }


def _floats(values: dict, kind=float) -> dict:
    """NumPy scalars -> plain numbers, for CSV and JSON."""
    return {key: kind(value) for key, value in values.items()}


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _write_dataset(sweep: FakeSweep) -> dict[int, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Scenes and a manifest per split (split i drawn with seed i); each split's test (road, valid)
    masks, or with classes (class index map, valid)."""
    root = sweep.root / "data"
    generate(root, sweep.n_images, seed=0, height=sweep.size[0], width=sweep.size[1])
    truths = {}
    for split in sweep.splits:
        manifest = make_split(
            {"format": FORMAT, "root": str(root)},
            {"seed": split, "fractions": dict(zip(SPLITS, sweep.fractions))},
            layout.split_manifest(sweep.results, split),
        )
        specs = sweep.class_specs()
        pairs = {s.stem: load_pair(FORMAT, s, classes=specs)[1:] for s in manifest_samples(manifest, "test")}
        truth = {
            stem: (label if specs else label.astype(bool), valid) for stem, (label, valid) in sorted(pairs.items())
        }
        for stem in list(truth)[: sweep.empty_images]:
            truth[stem] = (np.zeros_like(truth[stem][0]), truth[stem][1])
        truths[split] = truth
    return truths


def _modes(pooled_iou: float, per_image_iou: float, speed: float, parameters: int, rng) -> list[dict]:
    """Pruned U-Net++ levels: shallower heads are faster, smaller and a little worse, on val as on test."""
    levels = [("L1", 0.12, 3.0, 0.05), ("L2", 0.06, 2.0, 0.2), ("L3", 0.02, 1.4, 0.5), ("L4", 0.0, 1.1, 1.0)]
    modes = [
        {
            "mode": "accurate",
            "parameters": parameters,
            "pooled_iou": pooled_iou,
            "val_pooled_iou": pooled_iou + 0.03,
            "per_image_mean_iou": per_image_iou,
            "images_per_second": speed,
        }
    ]
    for name, loss, speedup, share in levels:
        jitter = float(rng.normal(0, 0.005))
        modes.append(
            {
                "mode": name,
                "parameters": int(parameters * share),
                "pooled_iou": pooled_iou - loss + jitter,
                "val_pooled_iou": pooled_iou - loss + 0.03,
                "per_image_mean_iou": per_image_iou - loss + jitter,
                "images_per_second": speed * speedup,
            }
        )
    return modes


def _stand_ins(counts: dict) -> dict:
    """MaxF and AP a little above F1 and precision x recall: plausible values, not computed from score maps."""
    return {"max_f": min(1.0, counts["f1"] + 0.01), "average_precision": counts["precision"] * counts["recall"]}


def _write_run(
    sweep: FakeSweep, model: str, aug: str, split: int, seed: int, truth: dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """One run's training and evaluation files, with predictions made from the truth (road masks,
    or class index maps with classes)."""
    key = [sweep.models.index(model), sweep.augmentations.index(aug), split, seed]
    rng = np.random.default_rng(key)
    candidate = model == sweep.models[-1]
    deep = candidate and sweep.deep_supervision
    parameters = 1_900_000 if candidate else 1_200_000
    speed = float(80.0 / (1.6 if candidate else 1.0) + rng.normal(0, 2))
    eval_dir = sweep.eval_dir(model, aug, seed, split)
    (eval_dir / layout.MASKS_DIR).mkdir(parents=True, exist_ok=True)
    rows, per_image_counts = [], []
    run_error = abs(rng.normal(sweep.mean_error(model, seed), 0.5))
    specs = sweep.class_specs()
    confusion = np.zeros((len(specs),) * 2, np.int64) if specs else None
    for stem, (label, valid) in truth.items():
        error = abs(rng.normal(run_error, 1.5))
        class_columns = {}
        if specs is None:
            road, pred = label, _prediction(label, error, rng)
            mask = pred.astype(np.uint8) * 255
        else:  # the road columns are the focus class's, the first
            mask = _class_prediction(label, error, rng)
            road, pred = label == 0, mask == 0
            image_confusion = confusion_matrix(label, mask, valid, len(specs))
            confusion += image_confusion
            class_columns = {
                f"{spec.name}:{name}": int(values[k])
                for k, spec in enumerate(specs)
                for name, values in class_counts(image_confusion)._asdict().items()
            }
        Image.fromarray(mask).save(eval_dir / layout.MASKS_DIR / f"{stem}.png")
        counts = confusion_counts(pred, road, valid)
        per_image_counts.append(counts)
        empty = not (road & valid).any()
        image_scores = _floats(scores(counts))
        if empty:
            image_scores["iou"] = image_scores["recall"] = image_scores["f1"] = float("nan")
        rows.append(
            {
                "stem": stem,
                **image_scores,
                "boundary_iou": image_scores["iou"] ** 2,
                **_floats(counts._asdict(), int),
                "empty_reference": empty,
                **class_columns,
            }
        )
    _write_csv(eval_dir / layout.PER_IMAGE_FILE, rows)
    totals = Counts(*np.array(per_image_counts).T).pooled()
    pooled = _floats(scores(totals))
    per_image_mean = {k: float(np.nanmean([r[k] for r in rows])) for k in ("iou", "precision", "recall", "f1")}
    val_pooled = {k: min(1.0, v + 0.03) for k, v in pooled.items()}
    if specs:
        classes = {"classes": _classes_block(specs, np.array(sweep.confusions.get((model, seed), confusion)))}
    else:
        classes = {}
    _write_json(
        eval_dir / layout.METRICS_FILE,
        {
            "dataset": sweep.dataset,
            "model": model,
            "augmentation": aug,
            "seed": seed,
            "split": split,
            "n_images": len(rows),
            "n_empty_reference": sum(r["empty_reference"] for r in rows),
            "threshold": 0.5,
            "threshold_chosen_on": "config",
            "chosen_on": "val",
            "mode": "L4" if deep else "single",
            "mode_chosen_on": "val" if deep else "single",
            "pooled": {**pooled, **_floats(totals._asdict(), int)},
            **_stand_ins(pooled),
            "boundary_iou": float(np.nanmean([r["boundary_iou"] for r in rows])),
            "per_image_mean": per_image_mean,
            "val": {"pooled": val_pooled, **_stand_ins(val_pooled), "boundary_iou": val_pooled["iou"] ** 2, **classes},
            "parameters": parameters,
            "training_flops_per_image": 3 * (4.0e9 if candidate else 1.7e9),
            "speed": {"images_per_second": speed, "batch_size": 4, "repeats": 5, "input_size": list(sweep.size)},
            "modes": _modes(pooled["iou"], per_image_mean["iou"], speed, parameters, rng) if deep else [],
            **classes,
        },
    )
    epochs_run = int(rng.integers(6, 11))
    history = []
    for epoch in range(1, epochs_run + 1):
        val_iou = pooled["iou"] * (1 - np.exp(-epoch / 2.5)) + rng.normal(0, 0.01)
        history.append(
            {
                "epoch": epoch,
                "loss": 0.6 * np.exp(-epoch / 4),
                "val_loss": 0.65 * np.exp(-epoch / 4),
                "val_road_iou": val_iou,
                "epoch_seconds": 3.0 + rng.random(),
                "images_per_second": 25 + rng.random(),
                "learning_rate": 0.001,
            }
        )
    _write_csv(sweep.run_dir(model, aug, seed, split) / layout.HISTORY_FILE, history)
    best = max(history, key=lambda row: row["val_road_iou"])
    train_seconds = sum(row["epoch_seconds"] for row in history)
    _write_json(
        sweep.run_dir(model, aug, seed, split) / layout.RUN_FILE,
        {
            "dataset": sweep.dataset,
            "model": model,
            "architecture": "unetpp" if candidate else "unet",
            "deep_supervision": deep,
            "augmentation": aug,
            "seed": seed,
            "split": split,
            "settings": {},
            "parameters": parameters,
            "epochs_run": epochs_run,
            "best_epoch": best["epoch"],
            "best_val_road_iou": best["val_road_iou"],
            "train_seconds": train_seconds,
            "resumed": False,
            "resumed_from_epoch": None,
            "attempts": 1,
            "precision": "float32",
            "device": {"type": "CPU", "name": "Fake CPU @ 2.0GHz"},
            "devices": {"kind": "cpu", "count": 1},
            "floating_point": {"isa": "avx2"},
            "host": "fakehost",
            "slurm_job_id": None,
            "slurm_job_ids": None,
            "versions": {
                "tensorflow": "2.21.0",
                "keras": "3.15.1",
                "albumentations": "2.0.8",
                "numpy": "2.0",
                "python": "3.11",
                "segsweep": "0.1.0",
            },
            "finished_at": "2025-01-01T00:00:00+00:00",
        },
    )
    bench = sweep.benchmark(model, aug, seed, split)
    bench.parent.mkdir(parents=True, exist_ok=True)
    bench.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{train_seconds + 5:.4f}\t0:00:{int(train_seconds) + 5:02d}\t{900 + 100 * candidate:.2f}\t2000.00\t"
        "850.00\t860.00\t1.00\t2.00\t150.00\t40.00\n"
    )
    evaluation = sweep.benchmark(model, aug, seed, split, rule="evaluate")
    evaluation.parent.mkdir(parents=True, exist_ok=True)
    evaluation.write_text(f"s\th:m:s\n{EVALUATE_SECONDS}\t0:00:02\n")


def make_fake_sweep(root: Path, **overrides) -> FakeSweep:
    """Write the dataset, manifest, and every run of the sweep under `root`; return its description."""
    sweep = FakeSweep(root=Path(root), **overrides)
    truths = _write_dataset(sweep)
    for model in sweep.models:
        for aug in sweep.augmentations:
            for split in sweep.splits:
                for seed in sweep.seeds:
                    _write_run(sweep, model, aug, split, seed, truths[split])
    return sweep
