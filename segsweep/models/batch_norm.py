"""Batch normalization computed by TensorFlow's fused kernel.

Keras 3 builds batch norm out of `tf.nn.moments` and `tf.nn.batch_normalization`: about ten
elementwise passes over the activations forward and as many backward. TensorFlow's
``FusedBatchNormV3`` (what tf.keras 2 used by default) does it in one pass each way. At the
default sizes, where the convolutions are cheap, those passes were a large part of a training
step (see docs/performance.md for the figures and the command that measures them).

The layer is Keras' `BatchNormalization` with the same weights, arguments and momentum rule, so
it saves and loads like it; it only swaps the arithmetic, and only where the fused kernel applies
(TensorFlow backend, 4-D channels-last input, no mask, no renorm). One difference: the fused
kernel keeps the moving variance Bessel-corrected (divided by n - 1, n = batch x height x width
pixels), Keras by n; at the >= 8 x 8 x 8 pixels of any batch here that is below 0.2%.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="segsweep")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    def _fused_applies(self, inputs, mask) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and self.scale
            and self.center
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        # bfloat16 activations are cast to float32 first: the kernel's native bfloat16 path was
        # 1.76x faster at base 16 @224 but 0.64x at base 8, the default. The weights and
        # statistics are float32 (autocast=False in Keras' layer).
        x = inputs if inputs.dtype == tf.float32 else tf.cast(inputs, tf.float32)
        updating = bool(training) and self.trainable
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x,
            tf.convert_to_tensor(self.gamma),
            tf.convert_to_tensor(self.beta),
            mean=tf.convert_to_tensor(self.moving_mean),
            variance=tf.convert_to_tensor(self.moving_variance),
            epsilon=self.epsilon,
            is_training=updating,
            # The kernel's moving average: new = (1 - factor) * old + factor * batch statistic.
            exponential_avg_factor=1.0 - self.momentum if updating else 1.0,
        )
        if updating:
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
        return tf.cast(y, self.compute_dtype)
