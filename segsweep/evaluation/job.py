"""Evaluate one trained run on the validation and test splits, at each image's original resolution.

Each image is resized to the network's input size, predicted, its road probability map resized
back to the image's own size (bilinear) and thresholded; void pixels are left out of every
count. The validation split comes first and makes every choice (segsweep/evaluation/choice.py):
the threshold when ``evaluate.threshold: val`` (else the configured number), and the headline
inference mode of a deep-supervised U-Net++. The test split is then scored with those choices
fixed. Writes to --out-dir, as docs/formats.md describes:

  metrics.json       test split: pooled road IoU, precision, recall, F1 (counts summed over the
                     split first, as KITTI and Cityscapes do), their per-image means (over the
                     images with road), KITTI MaxF and AP, mean Boundary IoU, what was chosen and
                     on which split, the same validation numbers under "val", parameters,
                     training FLOPs, inference speed (images/s at the original resolution, median
                     of timed batches after a warm-up) and, for a deep-supervised U-Net++, each
                     inference mode (accurate, pruned L1..L4) with its val and test pooled IoU
  per_image.csv      one row per test image (headline mode): iou, precision, recall, f1,
                     boundary_iou, tp, fp, fn, empty_reference
  per_image_val.csv  the same for the validation split
  masks/{stem}.png   predicted road masks of the test split, 0/255, at the original resolution

With ``evaluate.threshold: val`` the validation split is predicted twice: once to choose the
threshold from per-threshold counts, once to score at it. Outputs are written under hidden names
and renamed at the end, so a killed job leaves no complete-looking result. Images with no road
in truth (after void) have NaN per-image IoU: see segsweep/evaluation/metrics.py.

The run itself is segsweep.evaluation.evaluator's evaluate_run; this module is its command line.

Example, by hand:
  python -m segsweep evaluate --config config/config.yaml --model unetpp --aug none \\
    --manifest results/synthetic/splits/split0.csv \\
    --model-file results/synthetic/runs/unetpp/none/split0/seed0/model.keras \\
    --threads 2 --out-dir results/synthetic/eval/unetpp/none/split0/seed0
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segsweep.config import settings_from_args
from segsweep.config.loader import add_chosen_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("settings (one of)")
    source.add_argument("--settings", metavar="JSON", help="job settings as the workflow passes them")
    source.add_argument("--config", metavar="FILE", help="config YAML, with --model and --aug (by hand)")
    source.add_argument("--model", default="", help="model name in the config (with --config)")
    source.add_argument("--aug", default="", help="augmentation preset name in the config (with --config)")
    add_chosen_argument(parser)
    parser.add_argument("--manifest", required=True, type=Path, metavar="SPLIT.csv", help="split manifest")
    parser.add_argument(
        "--model-file",
        required=True,
        type=Path,
        metavar="RUN_DIR/model.keras",
        help="trained model; the seed is read from run.json beside it when present",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads TensorFlow may use (default 1)")
    parser.add_argument("--out-dir", required=True, type=Path, metavar="EVAL_DIR", help="output folder")


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args.settings, args.config, args.model, args.aug, args.chosen)
    from segsweep.hardware import use_threads

    use_threads(args.threads)
    from segsweep.evaluation.evaluator import evaluate_run

    summary = evaluate_run(settings, args.manifest, args.model_file, args.out_dir)
    print(
        f"{summary['n_images']} test images, mode {summary['mode']} (chosen on {summary['mode_chosen_on']}), "
        f"threshold {_text(summary['threshold'])} ({summary['threshold_chosen_on']}): pooled IoU "
        f"{_text(summary['pooled']['iou'])} (val {_text(summary['val']['pooled']['iou'])}), "
        f"MaxF {_text(summary['max_f'])}, AP {_text(summary['average_precision'])}, "
        f"Boundary IoU {_text(summary['boundary_iou'])}, {summary['speed']['images_per_second']:.1f} images/s -> {args.out_dir}"
        + (f"; mIoU {_text(summary['classes']['miou'])}" if "classes" in summary else "")
    )
    return 0


def _text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
