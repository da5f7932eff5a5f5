"""The Keras callbacks a training run adds to Keras' own (CSVLogger, ModelCheckpoint, EarlyStopping).

None of them hooks ``on_train_batch_end``: a callback there makes Keras convert every step's logs
to Python numbers, which waits for each step to finish before queueing the next.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from segsweep.errors import UserError
from segsweep.evaluation.class_metrics import class_counts, class_iou, confusion_matrix, mean_iou
from segsweep.evaluation.metrics import Counts, confusion_counts, iou, road_mask
from segsweep.evaluation.scoring import Task
from segsweep.training.pipeline import DecodedSplit
from segsweep.training.state import RunState


class LossNotFinite(UserError):
    """The training loss became NaN or infinite: the run cannot go on with these settings."""

    # What the run held until then (segsweep.training.outputs.spent), set by train_run: a diverged
    # tuning trial's run.json records it, so that its cost is counted.
    spent: dict | None = None


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
    """Adds ``val_road_iou``: road IoU of the validation split, computed as evaluation computes test IoU.

    Each image is resized to the input size, predicted, and its probability map resized back to
    the image's own size (`segsweep.evaluation.predict.predict_mode_maps`); the counts, void
    pixels left out, are pooled over the images. So the epoch kept as best is the best by the test
    metric's own definition, not by a proxy at the input size. A deep-supervised U-Net++ is scored
    in every inference mode (accurate, L1..L4: one forward pass) and ``val_road_iou`` is the best
    mode's, as evaluation reports the mode chosen on val; each mode's IoU is logged too
    (``val_road_iou_<mode>``), so a weak shallow head cannot hide an epoch whose L4 is the best.
    With several classes (`task`) a pixel is its argmax class, ``val_road_iou`` is the focus
    class's IoU and ``val_miou`` (the best mode's mIoU) is added, both as evaluation scores them.
    """

    def __init__(
        self,
        model: keras.Model,
        validation: DecodedSplit,
        input_size: tuple[int, int],
        threshold: float,
        batch_size: int,
        task: Task = Task(None, 0),  # binary road
    ):
        from segsweep.evaluation.predict import mode_models, stacked_model

        super().__init__()
        self.modes = list(mode_models(model))
        self.scored = stacked_model(mode_models(model))
        self.images, self.labels, self.valids = validation.images, validation.roads, validation.valids
        self.input_size = input_size
        self.threshold = threshold
        self.batch_size = batch_size
        self.task = task

    def pooled_counts(self) -> tuple[Counts, np.ndarray | None]:
        """Road counts of each mode (shape (modes,)) and, with several classes, each mode's confusion
        matrix (modes, K, K), pooled over the validation images."""
        counts, confusion = [], 0
        for start in range(0, len(self.images), self.batch_size):
            batch = slice(start, start + self.batch_size)
            maps = self.task.predict(self.scored, self.images[batch], self.input_size, self.batch_size)
            for (focus, predicted_class), label, valid in zip(
                maps, self.labels[batch], self.valids[batch], strict=True
            ):
                if predicted_class is None:
                    counts.append(confusion_counts(road_mask(focus, self.threshold), label, valid))
                    continue
                counts.append(confusion_counts(predicted_class == self.task.focus, label == self.task.focus, valid))
                confusion = confusion + confusion_matrix(label, predicted_class, valid, self.task.channels)
        return Counts.stack(counts).pooled(axis=0), (None if self.task.classes is None else confusion)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        counts, confusion = self.pooled_counts()
        scores = iou(counts)
        logs["val_road_iou"] = float(np.max(scores))
        if confusion is not None:
            logs["val_miou"] = float(np.nanmax(mean_iou(class_iou(class_counts(confusion)))))
        if len(self.modes) > 1:
            logs.update({f"val_road_iou_{mode}": float(score) for mode, score in zip(self.modes, scores)})


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


class EpochSummaries(keras.callbacks.Callback):
    """TensorBoard event files of every committed epoch, in ``RUN_DIR/tensorboard/{train,validation}``.

    Tags and layout are those of `keras.callbacks.TensorBoard` (``epoch_loss`` in ``train`` and
    ``validation``, ``epoch_road_iou``, ``epoch_learning_rate``, ...), so both losses share a chart;
    the step is the 1-based epoch of history.csv. Keras' callback is not used: it hooks
    ``on_train_batch_end`` (a host sync per step, see this module's docstring) and writes before an
    epoch is committed, so a resumed run would write the uncommitted epoch again. This one comes after
    `CommitEpoch`; on (re)start it first writes the committed epochs the files lack, from the run's
    history rows (an attempt killed between its commit and its summary), so each epoch appears once.
    Events are flushed at every epoch: the curves can be watched while the run trains.
    """

    def __init__(self, directory: Path, committed_rows: list[dict[str, float]]):
        super().__init__()
        self.directory = Path(directory)
        self.committed_rows = committed_rows
        self._writers: dict = {}

    def _writer(self, name: str):
        import tensorflow as tf

        if name not in self._writers:
            self._writers[name] = tf.summary.create_file_writer(str(self.directory / name))
        return self._writers[name]

    def _write(self, epoch: int, logs: dict) -> None:
        """Scalars of one epoch (1-based): ``val_x`` as ``epoch_x`` in validation, the rest in train."""
        import tensorflow as tf

        for key, value in logs.items():
            validation = key.startswith("val_")
            writer = self._writer("validation" if validation else "train")
            with writer.as_default():
                tf.summary.scalar("epoch_" + key.removeprefix("val_"), float(value), step=epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_begin(self, logs: dict | None = None) -> None:
        written = {step for step, _ in summary_scalars(self.directory, "train", "epoch_loss")}
        for row in self.committed_rows:
            epoch = int(row["epoch"]) + 1
            if epoch not in written:
                self._write(epoch, {key: value for key, value in row.items() if key != "epoch"})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._write(epoch + 1, logs or {})

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.close()


def summary_scalars(directory: Path, writer: str, tag: str) -> list[tuple[int, float]]:
    """(step, value) of every `tag` event in ``directory/writer``, in file order (a repeat shows twice)."""
    import tensorflow as tf

    found = []
    for path in sorted((Path(directory) / writer).glob("events.out.tfevents.*")):
        try:
            for record in tf.data.TFRecordDataset(str(path)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                found += [
                    (event.step, float(tf.make_ndarray(value.tensor)))
                    for value in event.summary.value
                    if value.tag == tag
                ]
        except tf.errors.DataLossError:  # a record cut short by a kill: TensorBoard skips it too
            continue
    return found


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
