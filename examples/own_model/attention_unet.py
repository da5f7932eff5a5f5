"""A tiny two-level U-Net with attention gates and two deep-supervision heads: a user's own model.

Attention gates after Oktay et al. 2018 ("Attention U-Net", arXiv:1804.03999): a skip connection
x is scaled by alpha = sigmoid(psi(relu(W_x x + W_g g))), where g is the coarser decoder feature
up-sampled to x's size (the paper strides x down to g's size instead; the gate is the same).

segsweep calls ``build(input_shape, network, **args)``, where ``network`` is the config's network
settings (this model uses only ``dropout``) and ``args`` the model entry's ``args``. The two
outputs are named ``head_1`` (shallow) and ``head_2`` (deep), so segsweep trains both and chooses
on val between their mean and each head alone, as for U-Net++.
"""

import keras
from keras import layers


def _conv(x, width: int, name: str):
    for i in (1, 2):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_conv{i}")(x)
    return x


def _gate(x, g, width: int, name: str):
    """x times the attention coefficients computed from x and the gating signal g (same size)."""
    theta = layers.Conv2D(width, 1, name=f"{name}_theta")(x)
    phi = layers.Conv2D(width, 1, name=f"{name}_phi")(g)
    joint = layers.Activation("relu", name=f"{name}_relu")(layers.Add(name=f"{name}_add")([theta, phi]))
    alpha = layers.Conv2D(1, 1, activation="sigmoid", name=f"{name}_alpha")(joint)
    return layers.Multiply(name=f"{name}_scaled")([x, alpha])


def _head(x, name: str):
    return layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name=name)(x)


def build(input_shape, network, width=8, attention=True):
    image = keras.Input(shape=input_shape, name="image")
    e1 = _conv(image, width, "e1")
    e2 = _conv(layers.MaxPooling2D(name="pool1")(e1), 2 * width, "e2")
    bottom = _conv(layers.MaxPooling2D(name="pool2")(e2), 4 * width, "bottom")
    bottom = layers.Dropout(network.get("dropout", 0.0), name="dropout")(bottom)

    up2 = layers.UpSampling2D(name="up2")(bottom)
    skip2 = _gate(e2, up2, width, "gate2") if attention else e2
    d2 = _conv(layers.Concatenate(name="cat2")([skip2, up2]), 2 * width, "d2")

    up1 = layers.UpSampling2D(name="up1")(d2)
    skip1 = _gate(e1, up1, width, "gate1") if attention else e1
    d1 = _conv(layers.Concatenate(name="cat1")([skip1, up1]), width, "d1")

    shallow = layers.UpSampling2D(interpolation="bilinear", name="up_head_1")(d2)
    return keras.Model(image, [_head(shallow, "head_1"), _head(d1, "head_2")], name="attention_unet")
