"""The run's outputs (docs/formats.md): model.keras, history.csv and run.json, each renamed into place.

run.json is written last: a run folder with run.json holds a finished run. A killed job leaves
only hidden partial files beside the outputs, never an output that looks complete.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from segsweep.data.staging import staged_file
from segsweep.hardware import floating_point_path
from segsweep.training import runtime
from segsweep.training.state import RunState

if TYPE_CHECKING:
    import keras

OUTPUTS = ("model.keras", "history.csv", "run.json")
HISTORY_COLUMNS = ("epoch", "loss", "val_loss", "val_road_iou", "epoch_seconds", "images_per_second", "learning_rate")
MULTI_CLASS_COLUMNS = ("val_miou",)  # logged too where the run trains several classes


def remove_outputs(run_dir: Path) -> None:
    """Outputs of an earlier run must not outlive a new attempt that fails."""
    for name in OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)


def history_table(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """CSVLogger rows (0-based epoch, every logged value) -> the documented columns, 1-based epoch."""
    columns = [*HISTORY_COLUMNS, *(key for key in MULTI_CLASS_COLUMNS if rows and key in rows[0])]
    return [{**{key: row[key] for key in columns}, "epoch": int(row["epoch"]) + 1} for row in rows]


def spent(state: RunState, threads: int, device: dict | None = None) -> dict:
    """What the run held while it trained, for its cost (segsweep.reporting.cost): its wall time over
    every attempt, its devices (GPUs if it used any, else CPU threads) and every attempt's SLURM job
    (null off SLURM). run.json has these keys; a diverged tuning trial's too (segsweep.training.tune_trial)."""
    device = device or runtime.device()
    return {
        "train_seconds": state.seconds,
        "devices": {"kind": device["type"].lower(), "count": runtime.gpu_count() or threads},
        "slurm_job_ids": ",".join(state.slurm_job_ids) or None,
    }


def write_outputs(
    run_dir: Path,
    state: RunState,
    settings: dict,
    seed: int,
    threads: int,
    model: keras.Model,
    budget: dict | None = None,
) -> dict:
    """Copy the best checkpoint, write the history and run.json; returns run.json's content.
    `budget`: how a compute-matched run's epochs were worked out (segsweep.training.budget)."""
    from segsweep.models import parameter_count

    history = history_table(state.committed_rows())
    best_epoch, best_path = state.best_checkpoint()
    best = history[best_epoch - 1]
    with staged_file(run_dir / "model.keras") as staging:
        shutil.copyfile(best_path, staging)
    with staged_file(run_dir / "history.csv") as staging, staging.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    device = runtime.device()
    held = spent(state, threads, device)
    record = {
        "dataset": settings["dataset"]["name"],
        "model": settings["model"]["name"],
        "architecture": settings["model"]["architecture"],
        "deep_supervision": len(model.output_names) > 1,
        "augmentation": settings["augmentation"]["name"],
        "seed": seed,
        "settings": settings,
        "parameters": parameter_count(model),
        "epochs_run": len(history),
        "budget": budget,  # null unless train.budget: the same keys in every run.json
        "best_epoch": best_epoch,
        "best_val_road_iou": best["val_road_iou"],
        **({"best_val_miou": best["val_miou"]} if "val_miou" in best else {}),
        "train_seconds": held["train_seconds"],
        "resumed": state.resumed_from_epoch is not None,
        "resumed_from_epoch": state.resumed_from_epoch,
        "attempts": state.attempts,
        "precision": settings["train"]["precision"],
        "device": device,
        "threads": threads,
        "floating_point": floating_point_path(),
        # What the run held while it trained, for its cost: GPUs if it used any, else CPU threads.
        "devices": held["devices"],
        "host": runtime.host(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        # every attempt's job, comma-separated (null off SLURM): a run.json has the same keys and shapes anywhere
        "slurm_job_ids": held["slurm_job_ids"],
        "versions": runtime.versions(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with staged_file(run_dir / "run.json") as staging:
        staging.write_text(json.dumps(record, indent=2) + "\n")
    return record
