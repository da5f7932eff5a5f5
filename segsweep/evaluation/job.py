"""Evaluate one trained run on the held-out test split, at each image's original resolution.

Each test image is resized to the network's input size, predicted, its road probability map
resized back to the image's own size (bilinear) and thresholded at `evaluate.threshold`; void
pixels are left out of every count. Writes to --out-dir, as docs/formats.md describes:

  metrics.json     pooled road IoU, precision, recall, F1 (counts summed over the split first,
                   as KITTI and Cityscapes do) and their per-image means (every image weighs the
                   same: a different number), parameters, inference speed (images/s at the
                   original resolution, median of timed batches after a warm-up) and, for a
                   deep-supervised U-Net++, the same per inference mode (accurate, pruned L1..L4)
  per_image.csv    one row per test image: iou, precision, recall, f1, tp, fp, fn
  masks/{stem}.png predicted road masks, 0/255, at the original resolution

The headline numbers use the mean of the heads ("accurate") for a deep-supervised U-Net++, the
single output otherwise. Outputs are written under hidden names and renamed at the end, so a
killed job leaves no complete-looking result. Zero-denominator conventions (e.g. no road in
truth nor prediction scores IoU 1.0) are in segsweep/evaluation/metrics.py.

Example, by hand:
  python -m segsweep evaluate --config config/config.yaml --model unetpp --aug none \\
    --manifest results/splits/synthetic.csv \\
    --model-file results/runs/synthetic/unetpp/none/seed0/model.keras \\
    --threads 2 --out-dir results/eval/synthetic/unetpp/none/seed0
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from segsweep.config import settings_from_args
from segsweep.data.formats import Sample, load_pair
from segsweep.data.staging import staged_dir, staged_file
from segsweep.errors import DataError
from segsweep.evaluation.metrics import Counts, iou, scores

TEST_SPLIT = "test"
OUTPUTS = ("metrics.json", "per_image.csv", "masks")  # metrics.json first: it marks a complete result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("settings (one of)")
    source.add_argument("--settings", metavar="JSON", help="job settings as the workflow passes them")
    source.add_argument("--config", metavar="FILE", help="config YAML, with --model and --aug (by hand)")
    source.add_argument("--model", default="", help="model name in the config (with --config)")
    source.add_argument("--aug", default="", help="augmentation preset name in the config (with --config)")
    parser.add_argument("--manifest", required=True, type=Path, metavar="SPLIT.csv", help="split manifest")
    parser.add_argument(
        "--model-file", required=True, type=Path, metavar="RUN_DIR/model.keras",
        help="trained model; the seed is read from run.json beside it when present",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads TensorFlow may use (default 1)")
    parser.add_argument("--out-dir", required=True, type=Path, metavar="EVAL_DIR", help="output folder")


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args.settings, args.config, args.model, args.aug)
    from segsweep.training.runtime import use_threads

    use_threads(args.threads)

    # Slow imports (TensorFlow, pandas), kept out of `--help`.
    from segsweep.data.split import manifest_samples, read_manifest
    from segsweep.evaluation.predict import mode_models
    from segsweep.evaluation.scoring import score_samples

    seed = _run_seed(args.model_file, settings)
    samples = manifest_samples(read_manifest(args.manifest), TEST_SPLIT)
    if not samples:
        raise DataError(f"{args.manifest}: no images in the {TEST_SPLIT!r} split; nothing to evaluate")
    model = _load_model(args.model_file, settings["train"]["input_size"])
    models = mode_models(model)
    evaluate = settings["evaluate"]

    out = args.out_dir
    _remove_outputs(out)
    with (
        staged_file(out / "metrics.json") as metrics_path,
        staged_file(out / "per_image.csv") as per_image_path,
        staged_dir(out / "masks") as masks_dir,
    ):  # renamed into place in reverse order: masks, per_image.csv, then metrics.json
        counts = score_samples(
            models, samples, settings["dataset"], settings["train"]["input_size"], evaluate["threshold"],
            evaluate["batch_size"], masks_dir,
        )
        speeds = _speeds(models, samples, settings)
        _per_image_table([s.stem for s in samples], counts).to_csv(per_image_path, index=False)
        summary = _metrics(settings, seed, models, counts, speeds)
        metrics_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{len(samples)} test images, mode {summary['mode']}: pooled IoU {summary['pooled']['iou']:.4f}, "
        f"per-image mean IoU {summary['per_image_mean']['iou']:.4f}, "
        f"{summary['speed']['images_per_second']:.1f} images/s -> {out}"
    )
    return 0


def _load_model(path: Path, input_size: list[int]):
    from segsweep.models import load_model

    if not path.is_file():
        raise DataError(f"{path}: model file does not exist")
    try:
        model = load_model(path)
    except Exception as error:  # Keras raises several types for a corrupt or foreign file
        raise DataError(f"{path}: cannot load the model: {error}") from None
    if list(model.input_shape[1:3]) != list(input_size):
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


def _speeds(models: dict, samples: list[Sample], settings: dict) -> dict[str, float]:
    """Images per second of each mode's own (pruned) network, on the first test images."""
    from segsweep.evaluation.speed import inference_rate

    evaluate, dataset = settings["evaluate"], settings["dataset"]
    batch_size = evaluate["batch_size"]
    images = [load_pair(dataset["format"], s, dataset.get("positive_ids"))[0] for s in samples[:batch_size]]
    return {
        mode: inference_rate(
            model, images, settings["train"]["input_size"], evaluate["threshold"], batch_size,
            evaluate["speed_repeats"],
        )
        for mode, model in models.items()
    }


def _per_image_table(stems: list[str], counts: Counts):
    """The headline mode's (column 0) per-image metrics and counts."""
    import pandas as pd

    headline = Counts(*(c[:, 0] for c in counts))
    return pd.DataFrame({"stem": stems, **scores(headline), **headline._asdict()})


def _metrics(settings: dict, seed: int | None, models: dict, counts: Counts, speeds: dict[str, float]) -> dict:
    """metrics.json; `counts` has shape (images, modes), the headline mode first."""
    from segsweep.evaluation.predict import SINGLE
    from segsweep.models import parameter_count

    modes = list(models)
    pooled = counts.pooled(axis=0)  # per mode
    per_mode = [
        {
            "mode": mode,
            "parameters": parameter_count(models[mode]),
            "pooled_iou": float(iou(pooled)[m]),
            "per_image_mean_iou": float(np.mean(iou(counts)[:, m])),
            "images_per_second": speeds[mode],
        }
        for m, mode in enumerate(modes)
    ]
    headline = Counts(*(c[0] for c in pooled))
    evaluate = settings["evaluate"]
    return {
        "dataset": settings["dataset"]["name"],
        "model": settings["model"]["name"],
        "augmentation": settings["augmentation"]["name"],
        "seed": seed,
        "n_images": int(counts.tp.shape[0]),
        "threshold": evaluate["threshold"],
        "mode": modes[0],
        "pooled": {
            **{name: float(value) for name, value in scores(headline).items()},
            **{name: int(value) for name, value in headline._asdict().items()},
        },
        "per_image_mean": {
            name: float(np.mean(value[:, 0])) for name, value in scores(counts).items()
        },
        "parameters": per_mode[0]["parameters"],
        "speed": {
            "images_per_second": speeds[modes[0]],
            "batch_size": evaluate["batch_size"],
            "repeats": evaluate["speed_repeats"],
            "input_size": list(settings["train"]["input_size"]),
        },
        "modes": [] if modes == [SINGLE] else per_mode,
    }
