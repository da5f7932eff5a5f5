"""U-Net and U-Net++ builders, their inference modes, and their size and cost.

`build_model` takes the job settings' model dict (see `segsweep.config.job_settings`) and
returns a Keras functional model whose heads are named as docs/formats.md says.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import keras

from segsweep.errors import ConfigError
from segsweep.models.blocks import ConvUnit, node_name
from segsweep.models.flops import forward_flops, training_flops
from segsweep.models.inference import inference_model, inference_modes
from segsweep.models.normalization import NORMALIZATIONS, PerImageStandardization
from segsweep.models.unet import unet
from segsweep.models.unetpp import unetpp
from segsweep.models.widths import matched_unet_filters

__all__ = [
    "build_model",
    "forward_flops",
    "inference_model",
    "inference_modes",
    "level_widths",
    "load_model",
    "parameter_count",
    "training_flops",
    "training_flops_at",
]


def build_model(model: dict, input_shape: tuple[int, int, int]) -> keras.Model:
    """A fresh, uncompiled model for `model` = {"name", "architecture", "filters", ...}, or a
    user's model where `model` names a "builder" (`segsweep.models.plugin`).

    With ``match_unetpp_parameters`` (the built-in `unet_wide`) a U-Net's widths are scaled by
    the one factor that brings its parameter count within 2% of U-Net++'s at the same filters
    (`segsweep.models.widths`). Build it after setting any global mixed-precision policy: the
    layers take their dtype policy when created (the heads stay float32 regardless).
    """
    if model.get("builder"):
        from segsweep.models.plugin import build_plugin, network_settings

        return build_plugin(model, network_settings(model), input_shape)
    filters = list(model["filters"])
    factor = 2 ** (len(filters) - 1)
    if any(size % factor for size in input_shape[:2] if size is not None):  # None: any size, checked where known
        raise ValueError(f"input height and width {input_shape[:2]} must be divisible by 2**(depth-1) = {factor}")
    H = ConvUnit(batch_norm=model["batch_norm"], dropout=model["dropout"])
    if model.get("match_unetpp_parameters"):
        if model["architecture"] != "unet":
            raise ConfigError(f"key 'model_variants.{model['name']}': match_unetpp_parameters is for architecture unet")
        filters = list(_matched_unet_filters(tuple(filters), H, input_shape[-1]))
    normalization = model.get("input_normalization", "none")
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"key 'network.input_normalization': {normalization!r} is not one of {list(NORMALIZATIONS)}")
    return _network(
        model["architecture"],
        filters,
        H,
        model.get("deep_supervision", True),
        input_shape,
        model["name"],
        normalization,
        model.get("classes", 1),
    )


def _network(
    architecture: str,
    filters: list[int],
    H: ConvUnit,
    deep_supervision: bool,
    input_shape: tuple,
    name: str,
    normalization: str = "none",
    classes: int = 1,
) -> keras.Model:
    image = keras.Input(shape=input_shape, name="image")
    x = PerImageStandardization(name="image_standardization")(image) if normalization == "per_image" else image
    if architecture == "unet":
        outputs = unet(x, filters, H, classes)
    elif architecture == "unetpp":
        outputs = unetpp(x, filters, H, deep_supervision, classes)
        outputs = outputs if len(outputs) > 1 else outputs[0]
    else:
        raise ConfigError(f"key 'model_variants': unknown architecture {architecture!r} (use unet or unetpp)")
    return keras.Model(image, outputs, name=name)


@functools.cache
def _matched_unet_filters(filters: tuple[int, ...], H: ConvUnit, channels: int) -> tuple[int, ...]:
    """Against U-Net++ with deep supervision (the `unetpp` candidate); counted on the smallest input."""
    side = 2 ** (len(filters) - 1)

    def parameters(architecture: str, widths: Sequence[int]) -> int:
        return parameter_count(_network(architecture, list(widths), H, True, (side, side, channels), architecture))

    return matched_unet_filters(filters, parameters)


def level_widths(model: keras.Model) -> list[int]:
    """The encoder's filters per level as built (for unet_wide, the scaled widths)."""
    widths = []
    while True:
        try:
            widths.append(int(model.get_layer(f"{node_name(len(widths), 0)}_conv1").filters))
        except ValueError:
            return widths


def training_flops_at(model: keras.Model, settings: dict, size: Sequence[int]) -> int:
    """Training FLOPs per image of `model` at `size` (height, width): the model's own count where it
    was built at that size; a model built for any size (trained on patches) is counted on a copy
    built from its `settings` at `size`, since FLOPs need every layer's output size."""
    if list(model.input_shape[1:3]) == list(size):
        return training_flops(model)
    return training_flops(build_model(settings, (*size, model.input_shape[-1])))


def parameter_count(model: keras.Model) -> int:
    """Trainable and non-trainable weights (batch-norm statistics included), as Keras reports."""
    return int(model.count_params())


def load_model(path) -> keras.Model:
    """A model saved by a training run, uncompiled (evaluation needs no loss or optimizer).

    Importing this module registers segsweep's batch-norm layer with Keras, which the file needs.
    """
    return keras.saving.load_model(path, compile=False)
