"""How a model is compiled for training: by training runs and by the benchmark alike, so that
the benchmark times the step a run takes."""

from __future__ import annotations

from typing import Any

import keras

from segsweep.training.losses import segmentation_loss


def compile_for_training(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    batch: Any,
    *,
    loss_weights: list[float] | None = None,
    class_weights: list[float] | None = None,
    loss: str = "ce_dice",
    jit_compile: bool = False,
) -> None:
    """Adam, and the loss `train.loss` names (the paper's by default; its K-class form for K output
    channels) on every head; `batch` is one training batch or its spec (a tf.data element_spec);
    `class_weights` weight the K-class loss's cross-entropy (`segsweep.training.class_weights`).

    The optimizer's and the loss trackers' variables are made here, from the batch's shapes,
    rather than by the first training step: a tf.function that creates variables on its first
    call is traced twice, which cost a default U-Net++ run about 9 s of its start (measured
    2026-12-03). Keras does this itself only under a distribution strategy; the method is
    private, hence keras' exact pin in pyproject.toml.
    """
    heads = len(model.output_names)
    classes = int(model.outputs[0].shape[-1])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=[segmentation_loss(classes, class_weights, loss) for _ in range(heads)]
        if heads > 1
        else segmentation_loss(classes, class_weights, loss),
        loss_weights=loss_weights,
        jit_compile=jit_compile,
    )
    model._symbolic_build(data_batch=batch)
