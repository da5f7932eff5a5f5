"""Per-image intensity normalization, the first layer of a network built with
``network.input_normalization: per_image``.

A network trained on daylight drives saw a dusk drive's road at a quarter of the brightness it
learnt (CamVid road pixels: mean value 108 on 0006R0, 66 on 0016E5, 27 on 0001TP, of 255), and
missed it. nnU-Net's answer for images whose intensities have no fixed physical meaning (all but
CT) is to z-score every image on its own, each channel separately: a global change of exposure,
contrast or white balance then no longer reaches the first convolution. As a layer of the model
it travels in the saved ``.keras`` file, so that training, validation and evaluation (and anyone
who loads the model) normalize the same way without being told.
"""

from __future__ import annotations

import keras
from keras import ops

NORMALIZATIONS = ("none", "per_image")


@keras.saving.register_keras_serializable(package="segsweep")
class PerImageStandardization(keras.layers.Layer):
    """(x - mean) / std per image and channel, over height and width.

    The standard deviation is floored at 1/sqrt(pixels) as ``tf.image.per_image_standardization``
    floors it, so that a flat channel (a black frame) comes out as zeros rather than NaN.
    """

    def call(self, x):
        x = ops.cast(x, "float32")
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        std = ops.std(x, axis=(1, 2), keepdims=True)
        pixels = ops.cast(ops.shape(x)[1] * ops.shape(x)[2], "float32")
        return (x - mean) / ops.maximum(std, ops.rsqrt(pixels))
