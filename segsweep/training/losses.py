"""The U-Net++ paper's loss: half binary cross-entropy plus Dice loss, with void pixels left out.

Zhou et al. (2018) train every deep-supervision head with
``L = -1/N sum_b (1/2 Y_b log P_b + 2 Y_b P_b / (Y_b + P_b))``: per image b, half the mean
cross-entropy minus the Dice coefficient. Here the Dice term is written ``1 - Dice``, which has
the same gradient and keeps the loss non-negative (0 for a perfect prediction). The Dice
coefficient is smoothed by 1, as in the paper's code, so an image without road that is predicted
without road has Dice 1 rather than 0/0.

Void pixels (``valid`` False, e.g. CamVid's class 11) must not pull the prediction either way.
A per-pixel Keras ``sample_weight`` cannot express that for Dice, which is a ratio over the whole
image, so the target carries the mask: ``y_true[..., 0]`` is road (0/1) and ``y_true[..., 1]``
is valid (0/1). The same loss is given to every head; Keras sums the heads' losses.

With K > 1 trained classes (``dataset.classes``) the heads are softmaxes and ``y_true[..., 0]``
holds each pixel's class index. `CeDiceLoss` is the same loss written for K classes, as nnU-Net
trains (Isensee et al. 2021: cross-entropy plus soft Dice, the Dice averaged over the classes):
half the mean cross-entropy over valid pixels plus one minus the mean over the classes of each
class's smoothed soft Dice, per image. For K = 2 with a sigmoid it would be the binary loss above
plus the not-road class's Dice; the binary task keeps its own loss, so its runs stay as they were.

``train.class_weights`` (`segsweep.training.class_weights`) weights the cross-entropy term only,
each valid pixel by its true class's weight, averaged per image over the weights it carries (the
weighted mean of PyTorch's ``CrossEntropyLoss(weight=...)``), so that equal weights give the
unweighted loss. The Dice term is a mean over classes already, every class counting alike.

``train.loss: ce`` drops the Dice term (``dice=False``): the cross-entropy alone weighs each class
by its pixels, as a pooled IoU or pixel accuracy does. With K classes the class-averaged Dice gives
a pole the pull of the road, which is what median-frequency weighting does to the cross-entropy,
and on CamVid that weighting cost road IoU (docs/results.md).
"""

from __future__ import annotations

import keras
from keras import ops

# The paper's code smooths Dice by 1 (pixels), numerator and denominator alike.
DICE_SMOOTHING = 1.0


@keras.saving.register_keras_serializable(package="segsweep")
class BceDiceLoss(keras.losses.Loss):
    """``0.5 * BCE + (1 - Dice)`` per image over valid pixels, or the BCE alone without `dice`;
    `y_true` stacks road and valid."""

    def __init__(self, dice: bool = True, name: str = "bce_dice", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dice = bool(dice)

    def call(self, y_true, y_pred):
        road = ops.cast(y_true[..., 0], "float32")
        valid = ops.cast(y_true[..., 1], "float32")
        epsilon = keras.config.epsilon()
        p = ops.cast(y_pred[..., 0], "float32")
        # road is 0 or 1, so the cross-entropy -(r log p + (1 - r) log(1 - p)) needs one log per
        # pixel, of the probability given to the true class: half the elementwise work of the
        # textbook form, which at the default sizes is a visible part of a training step.
        pixel_bce = -ops.log(ops.clip(ops.where(road > 0.5, p, 1.0 - p), epsilon, 1.0))
        axes = (1, 2)
        n_valid = ops.sum(valid, axis=axes)
        # An image with no valid pixel has no cross-entropy to average: 0, not 0/0.
        bce = ops.sum(valid * pixel_bce, axis=axes) / ops.maximum(n_valid, 1.0)
        if not self.dice:
            return bce
        p_valid = valid * p
        dice = (2.0 * ops.sum(road * p_valid, axis=axes) + DICE_SMOOTHING) / (
            ops.sum(valid * road, axis=axes) + ops.sum(p_valid, axis=axes) + DICE_SMOOTHING
        )
        return 0.5 * bce + (1.0 - dice)

    def get_config(self) -> dict:
        return {**super().get_config(), "dice": self.dice}


@keras.saving.register_keras_serializable(package="segsweep")
class CeDiceLoss(keras.losses.Loss):
    """``0.5 * CE + (1 - mean_k Dice_k)`` per image over valid pixels, or the CE alone without
    `dice`; `y_true` stacks class index and valid."""

    def __init__(
        self,
        classes: int,
        class_weights: list[float] | None = None,
        dice: bool = True,
        name: str = "ce_dice",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.classes = classes
        self.dice = bool(dice)
        self.class_weights = None if class_weights is None else [float(weight) for weight in class_weights]

    def call(self, y_true, y_pred):
        truth = ops.one_hot(ops.cast(y_true[..., 0], "int32"), self.classes)  # (B, H, W, K)
        valid = ops.cast(y_true[..., 1], "float32")[..., None]
        p = ops.cast(y_pred, "float32")
        epsilon = keras.config.epsilon()
        # The log of the probability given to the true class: one log per pixel, as the binary loss.
        pixel_ce = -ops.log(ops.clip(ops.sum(truth * p, axis=-1, keepdims=True), epsilon, 1.0))
        axes = (1, 2)
        weight = valid  # each valid pixel counts once, or by its true class's weight
        if self.class_weights is not None:
            weight = valid * ops.sum(
                truth * ops.convert_to_tensor(self.class_weights, "float32"), axis=-1, keepdims=True
            )
        total = ops.sum(weight, axis=(1, 2, 3))
        # An image with no valid pixel has no cross-entropy to average: 0, not 0/0.
        ce = ops.sum(weight * pixel_ce, axis=(1, 2, 3)) / ops.maximum(total, epsilon)
        if not self.dice:
            return ce
        p_valid = valid * p
        dice = (2.0 * ops.sum(truth * p_valid, axis=axes) + DICE_SMOOTHING) / (
            ops.sum(valid * truth, axis=axes) + ops.sum(p_valid, axis=axes) + DICE_SMOOTHING
        )  # (B, K)
        return 0.5 * ce + (1.0 - ops.mean(dice, axis=-1))

    def get_config(self) -> dict:
        return {**super().get_config(), "classes": self.classes, "class_weights": self.class_weights, "dice": self.dice}


def segmentation_loss(
    classes: int, class_weights: list[float] | None = None, loss: str = "ce_dice"
) -> keras.losses.Loss:
    """The loss `train.loss` names for a head of `classes` output channels: the binary form for one (a sigmoid)."""
    dice = loss == "ce_dice"
    return BceDiceLoss(dice) if classes == 1 else CeDiceLoss(classes, class_weights, dice)
