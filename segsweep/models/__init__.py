"""U-Net and U-Net++ builders, their inference modes, and their size and cost.

`build_model` takes the job settings' model dict (see `segsweep.config.job_settings`) and
returns a Keras functional model whose heads are named as docs/formats.md says.
"""

from __future__ import annotations

import keras

from segsweep.errors import ConfigError
from segsweep.models.blocks import ConvUnit
from segsweep.models.flops import forward_flops
from segsweep.models.inference import inference_model, inference_modes
from segsweep.models.unet import unet
from segsweep.models.unetpp import unetpp

__all__ = ["build_model", "forward_flops", "inference_model", "inference_modes", "load_model", "parameter_count"]


def build_model(model: dict, input_shape: tuple[int, int, int]) -> keras.Model:
    """A fresh, uncompiled model for `model` = {"name", "architecture", "filters", ...}.

    Build it after setting any global mixed-precision policy: the layers take their dtype
    policy when created (the heads stay float32 regardless).
    """
    filters = list(model["filters"])
    factor = 2 ** (len(filters) - 1)
    if any(size % factor for size in input_shape[:2]):
        raise ValueError(f"input height and width {input_shape[:2]} must be divisible by 2**(depth-1) = {factor}")
    H = ConvUnit(batch_norm=model["batch_norm"], dropout=model["dropout"])
    image = keras.Input(shape=input_shape, name="image")
    architecture = model["architecture"]
    if architecture == "unet":
        outputs = unet(image, filters, H)
    elif architecture == "unetpp":
        outputs = unetpp(image, filters, H, model.get("deep_supervision", True))
        outputs = outputs if len(outputs) > 1 else outputs[0]
    else:
        raise ConfigError(f"key 'model_variants': unknown architecture {architecture!r} (use unet or unetpp)")
    return keras.Model(image, outputs, name=model["name"])


def parameter_count(model: keras.Model) -> int:
    """Trainable and non-trainable weights (batch-norm statistics included), as Keras reports."""
    return int(model.count_params())


def load_model(path) -> keras.Model:
    """A model saved by a training run, uncompiled (evaluation needs no loss or optimizer).

    Importing this module registers segsweep's batch-norm layer with Keras, which the file needs.
    """
    return keras.saving.load_model(path, compile=False)
