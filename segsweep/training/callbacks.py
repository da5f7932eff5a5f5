"""The Keras callbacks a training run adds to Keras' own (CSVLogger, ModelCheckpoint, EarlyStopping).

None of them hooks ``on_train_batch_end``: a callback there makes Keras convert every step's logs
to Python numbers, which waits for each step to finish before queueing the next.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable

import keras
import numpy as np

from segsweep.errors import UserError
from segsweep.evaluation.metrics import confusion_counts, iou, road_mask
from segsweep.training.state import RunState


class LossNotFinite(UserError):
    """The training loss became NaN or infinite: the run cannot go on with these settings."""


class Preempted(Exception):
    """SIGTERM arrived (SLURM preemption or time limit); the state holds the last completed epoch."""


class FailOnNonFiniteLoss(keras.callbacks.Callback):
    """Fail the job when an epoch's loss is NaN or infinite, before that epoch is saved.

    `keras.callbacks.TerminateOnNaN` only stops training, so the job would exit 0 with the bad
    epoch saved as resumable state; and it checks every batch, which costs a host sync per step.
    A NaN in any batch makes the epoch's mean loss NaN, so checking once per epoch is enough.
    Must come first among the callbacks so that nothing saves the epoch.
    """

    def __init__(self, run: str):
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise LossNotFinite(
                f"run {self.run}: the training loss became {loss} at epoch {epoch + 1}; "
                "lower 'train.learning_rate' or check the data"
            )


class ValidationRoadIoU(keras.callbacks.Callback):
    """Adds ``val_road_iou``: road IoU pooled over the validation split, valid pixels only.

    It scores the inference output (the mean of the heads for a deep-supervised U-Net++), the
    model that evaluation scores, at the network's input size.
    """

    def __init__(self, inference: keras.Model, dataset, targets: np.ndarray, threshold: float):
        super().__init__()
        self.inference = inference
        self.dataset = dataset
        self.road = targets[..., 0].astype(bool)
        self.valid = targets[..., 1].astype(bool)
        self.threshold = threshold

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        probability = self.inference.predict(self.dataset, verbose=0)[..., 0]
        counts = confusion_counts(road_mask(probability, self.threshold), self.road, self.valid)
        logs["val_road_iou"] = float(iou(counts.pooled()))


class EpochReport(keras.callbacks.Callback):
    """Adds ``epoch_seconds``, ``images_per_second`` and ``learning_rate``; prints one line per epoch.

    A plain line instead of Keras' progress bar, which fills a SLURM log with carriage returns.
    Images per second counts the training steps only, from the epoch's start to validation.
    """

    def __init__(self, images_per_epoch: int, epochs: int, log: Callable[[str], None] = print):
        super().__init__()
        self.images_per_epoch = images_per_epoch
        self.epochs = epochs
        self.log = log
        self._start = self._trained = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        self._trained = 0.0

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._trained = self._trained or time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        logs["epoch_seconds"] = now - self._start
        logs["images_per_second"] = self.images_per_epoch / ((self._trained or now) - self._start)
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.log(
            f"epoch {epoch + 1}/{self.epochs}  loss {logs['loss']:.4f}  val_loss {logs.get('val_loss', math.nan):.4f}  "
            f"val_road_iou {logs.get('val_road_iou', math.nan):.4f}  {logs['images_per_second']:.1f} images/s  "
            f"{logs['epoch_seconds']:.1f} s"
        )


def stopped_early(scores: list[float], patience: int) -> bool:
    """Whether EarlyStopping (mode max, patience > 0) has already ended a run with these epoch scores.

    Keras' rule: a new best must be strictly higher, and training stops once `patience` epochs
    have passed without one. A resumed run must know this before fit(): EarlyStopping can only
    stop an epoch after it has started.
    """
    if not patience or not scores:
        return False
    best_epoch = int(np.argmax(scores)) + 1  # the first of equal maxima: later ones do not improve
    return len(scores) - best_epoch >= patience


class ResumedEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that continues counting from the scores of the epochs before a resume.

    Keras resets the counters in ``on_train_begin``; replaying the earlier epochs' scores through
    Keras' own update keeps its exact rules (strict improvement, patience) for the whole run.
    """

    def __init__(self, previous_scores: list[float], **kwargs):
        super().__init__(**kwargs)
        self.previous_scores = previous_scores

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        for epoch, score in enumerate(self.previous_scores):
            super().on_epoch_end(epoch, {self.monitor: score})


class CommitEpoch(keras.callbacks.Callback):
    """Restores the last committed epoch before training, and commits each epoch after it.

    Must come after the callbacks that write the epoch's history row and best checkpoint, so
    that those are never behind the commit point (see `segsweep.training.state`).
    """

    def __init__(self, state: RunState):
        super().__init__()
        self.state = state

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.state.restore(self.model)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.state.commit_epoch(self.model, epoch + 1)


class StopOnSigterm(keras.callbacks.Callback):
    """Turns SIGTERM into `Preempted` at the next step boundary, never in the middle of a save.

    SLURM sends SIGTERM, then SIGKILL after a grace period. The handler only sets a flag; the
    exception is raised before the next training or validation batch, so the epoch being trained
    is dropped and the state stays at the last completed one. Use as a context manager around
    ``fit`` so the previous handler is back afterwards, even when fit raises.
    """

    def __init__(self):
        super().__init__()
        self.received = False
        self._previous = None

    def __enter__(self) -> StopOnSigterm:
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        signal.signal(signal.SIGTERM, self._previous)

    def _handle(self, signum, frame) -> None:
        self.received = True

    def _check(self) -> None:
        if self.received:
            raise Preempted("received SIGTERM")

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._check()

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._check()
