"""One training run, from job settings to the run's outputs: what `segsweep train` does, in order.

Checks that need no TensorFlow come first, so a bad preset, input size or batch size fails in
a second. Then: threads/seeds/precision, the run's state (resume or start over), decoding,
fitting with the callbacks that keep the state resumable, and the outputs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from segsweep.config.checks import check_input_size, check_warmup, deep_supervision_weights
from segsweep.config.settings import network_input_shape
from segsweep.data.folder import dataset_format
from segsweep.data.formats import Sample
from segsweep.training import runtime
from segsweep.training.augment import Augmenter
from segsweep.training.budget import apply_budget, describe_budget
from segsweep.training.checks import check_splits
from segsweep.training.outputs import remove_outputs, spent, write_outputs
from segsweep.training.state import RunState, fingerprint, saved_epochs

if TYPE_CHECKING:
    import keras

    from segsweep.evaluation.scoring import Task
    from segsweep.training.pipeline import DecodedSplit

# Exit status after SIGTERM: 128 + 15, what a shell reports for a process SIGTERM ended.
EXIT_PREEMPTED = 143
TENSORBOARD = "tensorboard"  # RUN_DIR/tensorboard/{train,validation}: event files, see callbacks.EpochSummaries


def train_run(
    settings: dict, manifest: Path, seed: int, threads: int, run_dir: Path, log: Callable[[str], None] = print
) -> int:
    """Train (or resume) the run in `run_dir`; 0 when its outputs are written, EXIT_PREEMPTED on SIGTERM."""
    from segsweep.data.manifest import manifest_samples, read_manifest

    train, model_settings, augmentation = settings["train"], settings["model"], settings["augmentation"]
    input_size = (int(train["input_size"][0]), int(train["input_size"][1]))
    check_input_size(model_settings["filters"], input_size, train["patch_size"])
    check_warmup(train["warmup_epochs"], train["epochs"])
    loss_weights = deep_supervision_weights(train, model_settings)
    augmenter = Augmenter(augmentation["steps"], augmentation["name"], input_size, seed, train["patch_size"])
    table = read_manifest(manifest)
    samples = {split: manifest_samples(table, split) for split in ("train", "val")}
    check_splits(len(samples["train"]), len(samples["val"]), train["batch_size"], manifest)
    augmenter.check_frames(samples["train"])

    runtime.configure(threads, seed, train["deterministic"], train["precision"], log)
    from segsweep.models import build_model

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState.open(run_dir, fingerprint(settings, seed, manifest), log)
    if not state.completed_epochs:  # a fresh start: no curves of an earlier run
        shutil.rmtree(run_dir / TENSORBOARD, ignore_errors=True)
    remove_outputs(run_dir)
    model = build_model(model_settings, network_input_shape(train))
    settings, budget = apply_budget(settings, model)  # with train.budget: epochs matched to the reference
    train = settings["train"]
    if budget:
        log(describe_budget(budget))
    patches = "" if train["patch_size"] is None else ", trained on {}x{} patches".format(*train["patch_size"])
    log(
        f"run {run_dir}: model {model_settings['name']}, augmentation {augmentation['name']}, seed {seed}; "
        f"{len(samples['train'])} training and {len(samples['val'])} validation images at "
        f"{input_size[0]}x{input_size[1]}{patches}; "
        f"{threads} threads, precision {train['precision']}; attempt {state.attempts}"
    )
    from segsweep.training.callbacks import LossNotFinite, Preempted, stopped_early

    if state.completed_epochs >= train["epochs"] or stopped_early(
        state.scores(validation_monitor(settings["dataset"])), train["early_stopping_patience"]
    ):
        log(f"training ended in an earlier attempt, after epoch {state.completed_epochs}: writing the outputs")
    else:
        if state.completed_epochs:
            log(f"resuming after epoch {state.completed_epochs} from {state.directory}")
        try:
            _fit(model, state, Fit(settings, seed, threads, augmenter, samples, loss_weights, run_dir, log))
        except Preempted:
            log(
                f"run {run_dir}: stopped by SIGTERM; the state in {state.directory} holds epoch {saved_epochs(run_dir)}: "
                "run the same command again to resume"
            )
            return EXIT_PREEMPTED
        except LossNotFinite as error:
            error.spent = spent(state, threads)  # a diverged tuning trial records what it cost
            raise
    record = write_outputs(run_dir, state, settings, seed, threads, model, budget)
    state.remove()
    log(
        f"run {run_dir}: done, best epoch {record['best_epoch']} (val_road_iou {record['best_val_road_iou']:.4f}) "
        f"of {record['epochs_run']}, {record['train_seconds']:.0f} s over {record['attempts']} attempt(s)"
    )
    return 0


def validation_monitor(dataset: dict) -> str:
    """The logged validation score that keeps a run's best epoch and scores a tuning trial: road
    IoU (the focus class's, with several classes), or mIoU where ``dataset.choose_on`` says so
    (set from ``report.metric: miou``), so that every choice is made on the metric the verdict uses."""
    return "val_miou" if dataset.get("classes") and dataset.get("choose_on") == "miou" else "val_road_iou"


@dataclass(frozen=True)
class Fit:
    """What a training run's epochs need besides the model and its state: the job settings, the
    seed and threads, the augmentation, the manifest's train and val samples, the heads' loss
    weights (None: one head, or equal), where the run's files go, and where messages go."""

    settings: dict
    seed: int
    threads: int
    augmenter: Augmenter
    samples: dict[str, list[Sample]]
    loss_weights: list[float] | None
    run_dir: Path
    log: Callable[[str], None]


def _class_weights(weighting: str, train: DecodedSplit, task: Task, log: Callable[[str], None]) -> list[float] | None:
    """The cross-entropy's class weights from the training split's labels (None: unweighted)."""
    if weighting == "none":
        return None
    from segsweep.training.class_weights import median_frequency_weights

    weights = median_frequency_weights(train.roads, train.valids, task.channels).tolist()
    log(f"class weights ({weighting}): " + ", ".join(f"{c.name} {w:.2f}" for c, w in zip(task.classes, weights)))
    return weights


def _fit(model: keras.Model, state: RunState, fit: Fit) -> None:
    import keras

    from segsweep.config.choice import checkpoint_threshold
    from segsweep.evaluation.scoring import Task
    from segsweep.training.callbacks import (
        CommitEpoch,
        EpochReport,
        EpochSummaries,
        FailOnNonFiniteLoss,
        ResumedEarlyStopping,
        StopOnSigterm,
        ValidationRoadIoU,
    )
    from segsweep.training.compiling import compile_for_training
    from segsweep.training.pipeline import decode_samples, resize_split, train_dataset, validation_dataset
    from segsweep.training.schedule import learning_rate

    settings, seed, threads, augmenter, log = fit.settings, fit.seed, fit.threads, fit.augmenter, fit.log
    train, dataset = settings["train"], settings["dataset"]
    batch_size, epochs = train["batch_size"], train["epochs"]
    heads = len(model.output_names)
    task = Task.of(dataset)
    decoded = {
        split: decode_samples(
            dataset_format(dataset),
            split_samples,
            dataset.get("positive_ids"),
            threads,
            dataset.get("void_ids"),
            task.classes,
        )
        for split, split_samples in fit.samples.items()
    }
    class_weights = _class_weights(train["class_weights"], decoded["train"], task, log)
    train_data, steps = train_dataset(
        decoded["train"], augmenter, batch_size, seed, start_epoch=state.completed_epochs, heads=heads, threads=threads
    )
    val_images, val_targets = resize_split(decoded["val"], augmenter.input_size)
    val_data = validation_dataset(val_images, val_targets, batch_size, heads=heads, threads=threads)

    if train["jit_compile"] and train["deterministic"]:
        log(
            "note: Keras turns XLA off while op determinism is on: "
            "'train.jit_compile' has no effect unless 'train.deterministic' is false"
        )
    compile_for_training(
        model,
        learning_rate(train, steps),
        train_data.element_spec,
        loss_weights=fit.loss_weights,
        class_weights=class_weights,
        loss=train["loss"],
        jit_compile=train["jit_compile"],
    )
    monitor = {"monitor": validation_monitor(dataset), "mode": "max"}
    scores = state.scores(monitor["monitor"])
    patience = train["early_stopping_patience"]
    callbacks = [
        FailOnNonFiniteLoss(str(fit.run_dir)),  # first: nothing may save a NaN epoch
        ValidationRoadIoU(
            model, decoded["val"], augmenter.input_size, checkpoint_threshold(settings["evaluate"]), batch_size, task
        ),
        EpochReport(steps * batch_size, epochs, log),
        keras.callbacks.CSVLogger(str(state.history_path), append=True),
        keras.callbacks.ModelCheckpoint(
            state.best_pattern, save_best_only=True, initial_value_threshold=max(scores, default=None), **monitor
        ),
        *([ResumedEarlyStopping(scores, patience=patience, **monitor)] if patience else []),
        CommitEpoch(state),  # after the epoch's row and checkpoint are written
        EpochSummaries(fit.run_dir / TENSORBOARD, state.rows),  # committed epochs only
    ]
    log(f"training {epochs} epochs of {steps} steps of {batch_size} images")
    with StopOnSigterm() as sigterm:
        model.fit(
            train_data,
            epochs=epochs,
            initial_epoch=state.completed_epochs,
            steps_per_epoch=steps,
            validation_data=val_data,
            callbacks=[*callbacks, sigterm],
            shuffle=False,  # the dataset shuffles, by seed and epoch
            verbose=0,
        )
