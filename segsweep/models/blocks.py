"""The building blocks both networks are made of, in the papers' notation.

U-Net and U-Net++ differ only in which decoder nodes exist and which same-level nodes each one
concatenates; everything else (the conv unit H, the 2x2 max-pool down-sampling, the 2x2
transposed-conv up-sampling U, the encoder and the output head) is defined once here so that
a parameter-count difference between the two can only come from the topology.

Layer names follow the node they belong to (``X{i}_{j}_...``), so tests, pruning and FLOP counts
can find a node's layers in a model loaded from a ``.keras`` file. Apart from batch norm, which
runs TensorFlow's fused kernel (`segsweep.models.batch_norm`, registered with Keras, so a file
loads once `segsweep.models` is imported), only built-in Keras layers are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from segsweep.models.batch_norm import FusedBatchNormalization


def node_name(i: int, j: int) -> str:
    """Prefix of the layers of node X^{i,j} (level i from the top, column j from the encoder)."""
    return f"X{i}_{j}"


BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class ConvUnit:
    """The conv unit H: twice conv3x3 -> [batch norm] -> ReLU -> [dropout].

    With batch norm the convolutions have no bias: BN's shift replaces it, and a bias would
    only add parameters that BN cancels. BN's moving averages use momentum 0.9 rather than
    Keras' 0.99: a CPU-sized run has only a few hundred steps, and with 0.99 the inference-time
    statistics still lagged the weights after 130 steps (validation loss far above training loss
    while training loss fell steadily), so validation IoU understated what the model had learnt.
    """

    batch_norm: bool
    dropout: float

    def __call__(self, x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
        for k in (1, 2):
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=not self.batch_norm,
                kernel_initializer="he_normal",
                name=f"{name}_conv{k}",
            )(x)
            if self.batch_norm:
                x = FusedBatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn{k}")(x)
            x = keras.layers.ReLU(name=f"{name}_relu{k}")(x)
            if self.dropout > 0:
                x = keras.layers.Dropout(self.dropout, name=f"{name}_drop{k}")(x)
        return x


def down(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
    """2x2 max-pool, stride 2: one level deeper."""
    return keras.layers.MaxPooling2D(2, strides=2, name=name)(x)


def up(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    """U: 2x2 transposed conv, stride 2, to the width of the level above (as the official code)."""
    return keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=name)(x)


def encoder(image: keras.KerasTensor, filters: list[int], H: ConvUnit) -> list[keras.KerasTensor]:
    """The backbone column X^{i,0}, i = 0..D-1: X^{0,0} = H(image), X^{i,0} = H(down(X^{i-1,0}))."""
    column = [H(image, filters[0], node_name(0, 0))]
    for i in range(1, len(filters)):
        column.append(H(down(column[i - 1], f"{node_name(i, 0)}_down"), filters[i], node_name(i, 0)))
    return column


def decoder_node(
    same_level: list[keras.KerasTensor], below: keras.KerasTensor, filters: int, H: ConvUnit, i: int, j: int
) -> keras.KerasTensor:
    """X^{i,j} = H([same_level..., U(below)]), with below = X^{i+1,j-1}.

    `same_level` is X^{i,0..j-1} for U-Net++ and only X^{i,0} for U-Net.
    """
    name = node_name(i, j)
    inputs = [*same_level, up(below, filters, f"{name}_up")]
    return H(keras.layers.Concatenate(name=f"{name}_concat")(inputs), filters, name)


def output_head(x: keras.KerasTensor, name: str, classes: int = 1) -> keras.KerasTensor:
    """1x1 conv + sigmoid (one channel: binary road) or softmax over `classes` > 1 channels,
    computed in float32 so that mixed precision cannot saturate the output."""
    activation = "sigmoid" if classes == 1 else "softmax"
    return keras.layers.Conv2D(classes, 1, activation=activation, dtype="float32", name=name)(x)
