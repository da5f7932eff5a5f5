"""The resumable state of one run, in ``RUN_DIR/state/``: kept between attempts, removed when the run is done.

Files:

``backup/epoch{NNN}.weights.h5``
    Weights and optimizer state after epoch NNN (`RunState.commit_epoch`). It is written under a
    hidden name and renamed into place, so a file with this name is always complete: its
    appearance is the commit point of an epoch. `keras.callbacks.BackupAndRestore` would do the
    same job, but it rewrites one file in place: a kill during that write left an HDF5 file that
    could not be opened, and the run could not resume (the workflow kill test hit it about one
    time in two).
``history.csv``
    `keras.callbacks.CSVLogger`: one row per epoch (0-based ``epoch``, every logged value). The
    early-stopping counters and the best IoU so far are rebuilt from these rows.
``best-epoch{NNN}.keras``
    `keras.callbacks.ModelCheckpoint`: the best model so far, a new file for each improvement so
    that a kill while one is written never damages the one the state points to.
``record.json``
    What the files above do not keep: the fingerprint of the run's inputs, attempts, seconds spent
    and the epoch the latest resume started from.

At an epoch's end the callbacks write the history row and any better checkpoint first, then the
backup, then the record. So a kill leaves rows and checkpoints ahead of the backup, never behind
it, and `RunState.open` drops whatever is ahead.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from segsweep.config import training_settings
from segsweep.data.staging import PARTIAL_GLOB, staged_file

if TYPE_CHECKING:
    import keras

BACKUP = "backup"
HISTORY = "history.csv"
RECORD = "record.json"
BEST_PATTERN = "best-epoch{epoch:03d}.keras"  # ModelCheckpoint fills in the 1-based epoch
_BEST_NAME = re.compile(r"best-epoch(\d+)\.keras$")
BACKUP_PATTERN = "epoch{epoch:03d}.weights.h5"  # Keras requires the .weights.h5 ending
_BACKUP_NAME = re.compile(r"epoch(\d+)\.weights\.h5$")


def fingerprint(settings: dict, seed: int, manifest: Path) -> str:
    """Hash of everything a run's result depends on: the training part of its settings (never the
    thread count nor an evaluation-only key; keys in any order), its seed and its split manifest."""
    content = {
        "settings": training_settings(settings),
        "seed": seed,
        "manifest_sha256": hashlib.sha256(Path(manifest).read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _write_json(path: Path, content: dict) -> None:
    with staged_file(path) as staging:
        staging.write_text(json.dumps(content, indent=2) + "\n")


def _numbered_files(directory: Path, name: re.Pattern) -> list[tuple[int, Path]]:
    """(number, path) of the files in `directory` whose name matches `name`, in order of number."""
    found = ((name.fullmatch(path.name), path) for path in directory.glob("*")) if directory.is_dir() else ()
    return sorted((int(match.group(1)), path) for match, path in found if match)


def saved_epochs(run_dir: Path) -> int:
    """Epochs completed and saved in the state of `run_dir` (0 when there is none)."""
    backups = _numbered_files(Path(run_dir) / "state" / BACKUP, _BACKUP_NAME)
    return backups[-1][0] if backups else 0


def _history_rows(path: Path, epochs: int) -> list[dict[str, float]]:
    """The first `epochs` rows, which must be epochs 0..epochs-1 (rows after them are uncommitted)."""
    if epochs == 0:
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:epochs]
    numbers = [{key: float(value) for key, value in row.items()} for row in rows]
    if [int(row["epoch"]) for row in numbers] != list(range(epochs)):
        raise ValueError(f"{path} does not hold epochs 1..{epochs}")
    return numbers


def _write_history(path: Path, rows: list[dict[str, float]]) -> None:
    if not rows:
        path.unlink(missing_ok=True)
        return
    with staged_file(path) as staging, staging.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class RunState:
    """One attempt's view of the state: what earlier attempts completed, and this attempt's record."""

    directory: Path
    fingerprint: str
    completed_epochs: int = 0
    rows: list[dict[str, float]] = field(default_factory=list)
    attempts: int = 0
    seconds_before: float = 0.0
    resumed_from_epoch: int | None = None
    slurm_job_ids: list[str] = field(default_factory=list)  # every attempt's job (a requeue keeps its ID)
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def open(cls, run_dir: Path, fingerprint: str, log: Callable[[str], None] = print) -> RunState:
        """Start an attempt: reuse a consistent state made with the same fingerprint, else start over."""
        directory = Path(run_dir) / "state"
        state = cls(directory, fingerprint)
        try:
            record = json.loads((directory / RECORD).read_text()) if (directory / RECORD).exists() else None
            if record is not None and record["fingerprint"] != fingerprint:
                log(f"state in {directory} was made with other settings, seed or split manifest: starting over")
            elif record is not None:
                state._resume(record)
        except (OSError, ValueError, KeyError) as error:
            log(f"state in {directory} is unreadable ({error}): starting over")
            state = cls(directory, fingerprint)
        if state.attempts == 0:
            shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        state.attempts += 1
        job = os.environ.get("SLURM_JOB_ID")
        if job and job not in state.slurm_job_ids:
            state.slurm_job_ids.append(job)
        if state.completed_epochs:
            state.resumed_from_epoch = state.completed_epochs
        state.save()
        return state

    def _resume(self, record: dict) -> None:
        for partial in self.directory.rglob(PARTIAL_GLOB):  # from a process killed mid-write
            partial.unlink()
        completed = saved_epochs(self.directory.parent)
        rows = _history_rows(self.directory / HISTORY, completed)
        _write_history(self.directory / HISTORY, rows)
        for epoch, path in self._best_files():
            if epoch > completed:
                path.unlink()
        self.completed_epochs, self.rows = completed, rows
        self.attempts = int(record["attempts"])
        self.seconds_before = float(record["seconds"])
        self.resumed_from_epoch = record["resumed_from_epoch"]
        self.slurm_job_ids = list(record.get("slurm_job_ids", []))

    def scores(self, monitor: str = "val_road_iou") -> list[float]:
        """The validation score `monitor` (the one epochs are kept by) of each completed epoch."""
        return [row[monitor] for row in self.rows]

    @property
    def backup_dir(self) -> Path:
        return self.directory / BACKUP

    @property
    def history_path(self) -> Path:
        return self.directory / HISTORY

    @property
    def best_pattern(self) -> str:
        return str(self.directory / BEST_PATTERN)

    @property
    def seconds(self) -> float:
        """Wall time of every attempt: earlier ones up to their last saved epoch, this one until now."""
        return self.seconds_before + time.monotonic() - self.started

    def _best_files(self) -> list[tuple[int, Path]]:
        return _numbered_files(self.directory, _BEST_NAME)

    def best_checkpoint(self) -> tuple[int, Path]:
        """(1-based epoch, path) of the best model saved so far."""
        files = self._best_files()
        if not files:
            raise FileNotFoundError(f"no best-model checkpoint in {self.directory}")
        return files[-1]

    def save(self) -> None:
        _write_json(
            self.directory / RECORD,
            {
                "fingerprint": self.fingerprint,
                "attempts": self.attempts,
                "seconds": self.seconds,
                "resumed_from_epoch": self.resumed_from_epoch,
                "slurm_job_ids": self.slurm_job_ids,
            },
        )

    def restore(self, model: keras.Model) -> None:
        """Load the weights and optimizer state of the last committed epoch into a compiled `model`."""
        if not self.completed_epochs:
            return
        model.optimizer.build(model.trainable_variables)  # its variables must exist to be loaded
        model.load_weights(self.backup_dir / BACKUP_PATTERN.format(epoch=self.completed_epochs))

    def commit_epoch(self, model: keras.Model, epochs_done: int) -> None:
        """Back up the epoch (its commit point), then record the time spent and drop superseded files."""
        with staged_file(self.backup_dir / BACKUP_PATTERN.format(epoch=epochs_done)) as staging:
            model.save_weights(staging)
        for _, path in [*_numbered_files(self.backup_dir, _BACKUP_NAME)[:-1], *self._best_files()[:-1]]:
            path.unlink()
        self.save()

    def committed_rows(self) -> list[dict[str, float]]:
        """Every epoch's history row, re-read after training (this attempt's rows included)."""
        return _history_rows(self.history_path, saved_epochs(self.directory.parent))

    def remove(self) -> None:
        shutil.rmtree(self.directory)
