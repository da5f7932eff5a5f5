"""A user's own model, built by a function named by dotted path: ``"package.module:function"``.

The contract, so that training, inference modes, pruning and the report treat the model as they
treat U-Net and U-Net++ (docs/formats.md, "Training run"):

- ``function(input_shape, network, **args)`` returns a `keras.Model`; `input_shape` is
  ``(height, width, 3)`` at ``train.input_size``, or ``(None, None, 3)`` where the run trains on
  patches (``train.patch_size``) and is evaluated on whole frames; `network` the config's ``network`` settings
  (filters, batch_norm, dropout, input_normalization: the builder may use them or not), `args`
  the model entry's ``args``.
- Each output is a probability map (float32 under mixed precision) of the input's height and
  width with ``network["classes"]`` channels: 1 for the binary road task (a sigmoid: road), K for
  K trained classes (``dataset.classes``; a softmax over them, in the classes' order).
- One output: any name. Several outputs are deep-supervision heads, named ``head_1`` ..
  ``head_n`` in that order, shallow to deep, as U-Net++'s are: each head is trained with its own
  loss, and evaluation chooses on val between their mean ("accurate") and each head alone
  (``L1`` .. ``Ln``, the network pruned to what that head needs: `segsweep.models.inference`).
- Layers of the user's own classes must be registered with
  ``keras.saving.register_keras_serializable`` so that evaluation can load the saved model; the
  module is imported before loading (`import_builder_module`).

The module is found on ``PYTHONPATH``, which the workflow extends by the config's ``pythonpath``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from segsweep.config.models import module_and_name, user_entries
from segsweep.errors import ConfigError

# Keys of a job's model dict that describe the model entry, not the config's `network` settings.
ENTRY_KEYS = ("name", "builder", "args", "builder_sha256", "architecture", "deep_supervision")


def network_settings(model: dict) -> dict:
    """The config's `network` settings, which a job's model dict holds beside the entry's own keys."""
    return {key: value for key, value in model.items() if key not in ENTRY_KEYS}


def import_builder_module(path: str, key: str):
    """Import the builder's module; an import that fails is refused naming `key` and the error."""
    module, _ = module_and_name(path, key)
    try:
        return importlib.import_module(module)
    except Exception as error:  # noqa: BLE001 - whatever the user's module raises on import, report it
        raise ConfigError(
            f"key '{key}': cannot import module {module!r} of builder {path!r}: {type(error).__name__}: {error} "
            "(is its folder on PYTHONPATH or in 'pythonpath'?)"
        ) from None


def resolve_builder(path: str, key: str) -> Callable:
    """The callable ``path`` names, refused naming `key` when missing or not callable."""
    module = import_builder_module(path, key)
    name = path.split(":")[1]
    builder = getattr(module, name, None)
    if not callable(builder):
        found = "nothing" if builder is None else f"a {type(builder).__name__}"
        raise ConfigError(
            f"key '{key}': {name!r} in module {module.__name__!r} ({module.__file__}) is {found}, not a function"
        )
    return builder


def build_plugin(model: dict, network: dict, input_shape: tuple[int, int, int], key: str = "models"):
    """Call the builder of `model` = {"name", "builder", "args"} and check what it returns."""
    import keras

    name, path = model["name"], model["builder"]
    builder = resolve_builder(path, key)
    try:
        built = builder(tuple(input_shape), dict(network), **model.get("args", {}))
    except Exception as error:  # noqa: BLE001 - whatever the user's function raises, name it with the key
        raise ConfigError(
            f"key '{key}': builder {path!r} of model {name!r} failed: {type(error).__name__}: {error}"
        ) from None
    if not isinstance(built, keras.Model):
        raise ConfigError(
            f"key '{key}': builder {path!r} of model {name!r} returned a {type(built).__name__}, not a keras.Model"
        )
    check_outputs(built, name, tuple(input_shape), int(network.get("classes", 1)))
    return built


def check_outputs(model, name: str, input_shape: tuple[int, int, int], classes: int = 1) -> None:
    """Each output one probability map of `classes` channels at the input's height and width;
    several outputs are the heads ``head_1`` .. ``head_n`` (the module docstring's contract)."""
    for output in model.outputs:
        if tuple(output.shape[1:3]) != tuple(input_shape[:2]) or output.shape[-1] != classes:
            what = "one probability channel" if classes == 1 else f"{classes} class-probability channels"
            raise ConfigError(
                f"model {name!r}: output {tuple(output.shape[1:])} does not match the input {tuple(input_shape)}: "
                f"each output must be {what} at the input's height and width"
            )
    names = list(model.output_names)
    expected = [f"head_{k}" for k in range(1, len(names) + 1)]
    if len(names) > 1 and names != expected:
        raise ConfigError(
            f"model {name!r}: its {len(names)} outputs are named {names}; deep-supervision heads must be "
            f"named {expected}, shallow to deep (name each output layer so)"
        )


def check_user_models(config: dict) -> None:
    """Build each user model of a checked config once, as its training job will (at its
    ``train.input_size``, or for any size with ``train.patch_size``), so that a bad builder is
    refused naming its config key before any job is queued rather than after the split, in the
    first training job."""
    from segsweep.config import job_settings
    from segsweep.config.settings import network_input_shape

    for i, entry in user_entries(config):
        job = job_settings(config, entry["name"], config["augmentations"][0])
        model = job["model"]
        build_plugin(model, network_settings(model), network_input_shape(job["train"]), key=f"models[{i}].builder")
