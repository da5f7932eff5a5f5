"""Inference modes of a deep-supervised U-Net++: "accurate" (mean of the heads) or pruned L_k.

A pruned model is a new functional model from the same input to head_k: Keras keeps only the
layers that head depends on (nodes X^{i,j} with i + j <= k), sharing their weights with the
trained model, so its parameter count and speed are those of U-Net++ L_k. Both modes are built
from layer names alone, so they work on a model loaded from a ``.keras`` file.
"""

from __future__ import annotations

import keras


def inference_modes(model: keras.Model) -> list[str]:
    """["accurate", "L1", ..] for a model with several heads; [] for single-output models."""
    heads = len(model.output_names)
    if heads == 1:
        return []
    return ["accurate", *(f"L{k}" for k in range(1, heads + 1))]


def inference_model(model: keras.Model, mode: str = "accurate") -> keras.Model:
    """The one-output model for `mode`; a single-output model is its own "accurate" model."""
    modes = inference_modes(model)
    if not modes and mode == "accurate":
        return model
    if mode not in modes:
        raise ValueError(
            f"inference mode {mode!r} is not available for model {model.name!r} "
            f"(available: {', '.join(modes or ['accurate'])})"
        )
    if mode == "accurate":
        mean = keras.layers.Average(dtype="float32", name="accurate")(model.outputs)
        return keras.Model(model.input, mean, name=f"{model.name}_accurate")
    k = int(mode[1:])
    return keras.Model(model.input, model.get_layer(f"head_{k}").output, name=f"{model.name}_L{k}")
