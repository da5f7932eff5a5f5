"""Train one tuning trial (config `tune`): an ordinary training run, resumable as any, scored later
on validation only (its run.json's best validation road IoU). No test evaluation follows it.

As the workflow runs it:
  python -m segsweep tune-trial --settings JSON --manifest SPLIT.csv --seed 100 --threads 2 --out-dir TUNE_DIR

A trial whose loss becomes NaN or infinite is a result of the search, not a fault of the job: a
person tuning would have spent that trial. Its run.json then records the failure (`failed`, with
`best_val_road_iou` null), the job exits 0, and the choice counts it as the worst score, for every
model alike, so that a divergent trial never drops out of one model's budget and not the other's.
It also records what it held until it diverged (`train_seconds`, `devices`, `slurm_job_ids`, as a
finished run.json), so that the sweep's cost counts it (segsweep.reporting.cost).
"""

from __future__ import annotations

import argparse
import json

from segsweep.config import settings_from_args
from segsweep.data.staging import staged_file
from segsweep.training import job

add_arguments = job.add_arguments


def failed_record(settings: dict, seed: int, reason: str, spent: dict | None = None) -> dict:
    """run.json of a trial that diverged: its settings and why, no score; what it held until then
    (segsweep.training.outputs.spent), null where that is not known."""
    return {
        "dataset": settings["dataset"]["name"],
        "model": settings["model"]["name"],
        "seed": seed,
        "settings": settings,
        "failed": reason,
        "best_val_road_iou": None,
        "train_seconds": None,
        "devices": None,
        "slurm_job_ids": None,
        **(spent or {}),
    }


def run(args: argparse.Namespace) -> int:
    from segsweep.training.callbacks import LossNotFinite

    try:
        return job.run(args)
    except LossNotFinite as error:
        settings = settings_from_args(args.settings, args.config, args.model, args.aug)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        with staged_file(args.out_dir / "run.json") as staging:
            staging.write_text(json.dumps(failed_record(settings, args.seed, str(error), error.spent), indent=2) + "\n")
        print(f"trial {args.out_dir}: failed ({error}); recorded as the worst score")
        return 0
