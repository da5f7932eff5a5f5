"""The learning rate of each training step: constant, or a linear warm-up then a cosine decay to 0.

Built from Keras' `CosineDecay`, a function of the optimizer's step counter. That counter is part of
the optimizer state each epoch's backup holds (`segsweep.training.state`), so a run resumed at
epoch k continues the schedule exactly where the uninterrupted run would be.
"""

from __future__ import annotations

import keras

from segsweep.config.checks import check_warmup


def learning_rate(train: dict, steps_per_epoch: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """``train.learning_rate`` shaped by ``train.lr_schedule`` and ``train.warmup_epochs``.

    ``constant``: the rate itself, after a linear warm-up from 0 over ``warmup_epochs`` if > 0.
    ``cosine``: the warm-up, then half a cosine from the rate down to 0 at the end of the last epoch.
    """
    rate, schedule, warmup_epochs, epochs = (
        train["learning_rate"],
        train["lr_schedule"],
        train["warmup_epochs"],
        train["epochs"],
    )
    check_warmup(warmup_epochs, epochs)
    if schedule == "constant" and not warmup_epochs:
        return rate
    warmup_steps = warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        warmup_target=rate,
        warmup_steps=warmup_steps,
        decay_steps=max(1, (epochs - warmup_epochs) * steps_per_epoch),
        alpha=1.0 if schedule == "constant" else 0.0,  # alpha = 1: no decay at all
    )
