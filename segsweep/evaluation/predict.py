"""From images at their original resolution to road probabilities at that same resolution.

The network sees every image at ``train.input_size``, but the metrics are taken at each image's
own resolution, as the benchmarks do. Both resizes are bilinear without antialiasing, like the
albumentations ``Resize`` (OpenCV ``INTER_LINEAR``) that training applies; the probability map
is resized, not the mask, so the threshold is applied once, at full resolution.

With ``flip``, the network also sees each image mirrored left to right, and the two probability
maps (the second mirrored back) are averaged: nnU-Net's test-time mirroring, on the one axis
that street scenes are symmetric in and that training's HorizontalFlip already covers. It costs
a second forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from segsweep.models import inference_model, inference_modes

SINGLE = "single"  # the mode name of a model with one output


def mode_models(model: keras.Model) -> dict[str, keras.Model]:
    """Mode name -> one-output model, headline mode first.

    A deep-supervised U-Net++ gives "accurate" (the mean of its heads, the headline), then the
    pruned "L1".."L4"; any other model gives only "single", the model itself.
    """
    modes = inference_modes(model)
    if not modes:
        return {SINGLE: model}
    return {mode: inference_model(model, mode) for mode in modes}


def stacked_model(models: dict[str, keras.Model]) -> keras.Model:
    """One model whose output channels are those of `models` (all on the same input), in order.

    Mode L_k's pruned network computes exactly head_k of the full one, so one forward pass of
    this model scores every mode at the cost of one.
    """
    if len(models) == 1:
        return next(iter(models.values()))
    first = next(iter(models.values()))
    outputs = [m.output for m in models.values()]
    stacked = keras.layers.Concatenate(dtype="float32", name="modes")(outputs)
    return keras.Model(first.input, stacked, name=f"{first.name}_modes")


def _network_output(
    model: keras.Model,
    images: Sequence[np.ndarray],
    input_size: Sequence[int],
    batch_size: int | None,
    flip: bool = False,
) -> np.ndarray:
    """The network's (N, h, w, C) output at the input size for one batch of uint8 images; with
    `flip`, averaged with its output on the mirrored images, mirrored back.

    With `batch_size`, a shorter batch (a split's last) is padded with blank images to that size
    and their maps dropped: each new batch shape traces the model's predict function again, about
    2 s for a U-Net++.
    """
    import tensorflow as tf

    height, width = input_size
    x = tf.stack([tf.image.resize(image, (height, width), method="bilinear") for image in images]) / 255.0
    if batch_size is not None and len(images) < batch_size:
        x = tf.pad(x, [[0, batch_size - len(images)], [0, 0], [0, 0], [0, 0]])
    output = model.predict_on_batch(x)
    if flip:
        output = (output + model.predict_on_batch(tf.reverse(x, axis=[2]))[:, :, ::-1]) / 2
    return output[: len(images)]


def predict_mode_maps(
    model: keras.Model,
    images: Sequence[np.ndarray],
    input_size: Sequence[int],
    classes: int,
    focus: int,
    batch_size: int | None = None,
    flip: bool = False,
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """One batch -> per image, the `focus` class's probability (modes, H_i, W_i) and, with several
    `classes`, each mode's argmax class (modes, H_i, W_i) uint8; else None. The model's C output
    channels are modes x `classes`, mode-major (`stacked_model`).

    The network's output is resized to each image's size, then taken apart and argmaxed inside
    TensorFlow, so that only these maps reach numpy: with 11 classes and five U-Net++ modes the
    full maps are 55 floats a pixel (38 MB a CamVid frame), and copying and argmaxing them in numpy
    took twice as long as the forward pass (measured 2026-12-07; docs/results.md, Eleven classes).
    """
    import tensorflow as tf

    maps = []
    for p, image in zip(_network_output(model, images, input_size, batch_size, flip), images, strict=True):
        height, width = image.shape[:2]
        per_class = tf.reshape(tf.image.resize(p, (height, width), method="bilinear"), (height, width, -1, classes))
        focus_map = tf.transpose(per_class[..., focus], (2, 0, 1)).numpy()
        if classes == 1:
            maps.append((focus_map, None))
            continue
        argmax = tf.argmax(per_class, axis=-1, output_type=tf.int32)
        maps.append((focus_map, tf.transpose(tf.cast(argmax, tf.uint8), (2, 0, 1)).numpy()))
    return maps
