"""A user's model by dotted path: built, checked, pruned and costed as the built-in ones are."""

from __future__ import annotations

import hashlib
import math
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from segsweep.config.models import (
    add_pythonpath,
    builder_source_sha256,
    check_model_names,
    model_names,
    user_model_variants,
)
from segsweep.errors import ConfigError
from segsweep.models import build_model, forward_flops, inference_model, inference_modes, parameter_count
from segsweep.models.plugin import resolve_builder

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_model"
NETWORK = {"filters": [4, 8, 16], "batch_norm": True, "dropout": 0.0, "input_normalization": "none"}


def entry(builder: str, **args) -> dict:
    """A job's model dict, as `job_settings` makes it: the entry, then the config's network settings."""
    return {"name": "mine", "builder": builder, "args": args, "architecture": "custom", **NETWORK}


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    """A folder on sys.path where a test writes the user's module `name`.py."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> Path:
        sys.modules.pop(name, None)
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    return write


def test_the_example_builds_two_heads_that_prune_as_unetpp(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    model = build_model(entry("attention_unet:build", width=4), (16, 24, 3))
    assert model.output_names == ["head_1", "head_2"]
    assert inference_modes(model) == ["accurate", "L1", "L2"]
    l1, l2 = inference_model(model, "L1"), inference_model(model, "L2")
    assert (
        parameter_count(l1) < parameter_count(l2) == parameter_count(model) - model.get_layer("head_1").count_params()
    )
    assert forward_flops(l1) < forward_flops(l2)
    images = np.random.default_rng(0).random((2, 16, 24, 3)).astype("float32")
    heads = model(images, training=False)
    accurate = inference_model(model, "accurate")(images, training=False)
    np.testing.assert_allclose(np.asarray(accurate), (np.asarray(heads[0]) + np.asarray(heads[1])) / 2, rtol=1e-5)
    assert (
        build_model(entry("attention_unet:build", width=4, attention=False), (16, 24, 3)).count_params()
        < model.count_params()
    )


def test_builder_gets_input_shape_network_settings_and_args(user_modules):
    user_modules("seen", """
        import keras
        calls = []
        def build(input_shape, network, scale=1):
            calls.append((input_shape, network, scale))
            x = keras.Input(input_shape)
            return keras.Model(x, keras.layers.Conv2D(1, 1, activation="sigmoid")(x))
    """)  # fmt: skip
    model = build_model(entry("seen:build", scale=3), (8, 8, 3))
    assert inference_modes(model) == [] and inference_model(model) is model
    import seen

    assert seen.calls == [((8, 8, 3), NETWORK, 3)]


@pytest.mark.parametrize(
    ("builder", "source", "message"),
    [
        ("no_such_module:build", None, r"key 'models': cannot import module 'no_such_module' .*ModuleNotFoundError"),
        ("broken:build", "import keras\ndef build(:\n", r"key 'models': cannot import module 'broken' .*SyntaxError"),
        ("raising:build", "raise RuntimeError('no GPU here')\n", r"cannot import module 'raising' .*RuntimeError: no GPU here"),
        ("lacking:build", "def make(s, n): pass\n", r"key 'models': 'build' in module 'lacking' .* is nothing, not a function"),
        ("constant:build", "build = 3\n", r"'build' in module 'constant' .* is a int, not a function"),
        ("nomodel:build", "def build(s, n): return 'model'\n", r"builder 'nomodel:build' of model 'mine' returned a str, not a keras.Model"),
        ("failing:build", "def build(s, n): raise ValueError('needs 4 channels')\n",
         r"builder 'failing:build' of model 'mine' failed: ValueError: needs 4 channels"),
        ("not a path", None, r"'not a path' is not a builder path of the form 'package.module:function'"),
    ],
)  # fmt: skip
def test_bad_builders_are_refused_naming_the_key_and_the_error(user_modules, builder, source, message):
    if source is not None:
        user_modules(builder.split(":")[0], source)
    with pytest.raises(ConfigError, match=message):
        build_model(entry(builder), (8, 8, 3))


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ("[keras.layers.Conv2D(1, 2, strides=2, activation='sigmoid')(x)]",
         r"model 'mine': output \(4, 4, 1\) does not match the input \(8, 8, 3\)"),
        ("[keras.layers.Conv2D(2, 1, activation='sigmoid')(x)]", r"output \(8, 8, 2\) does not match the input \(8, 8, 3\)"),
        ("[keras.layers.Conv2D(1, 1, name=n)(x) for n in ('a', 'b')]",
         r"model 'mine': its 2 outputs are named \['a', 'b'\]; .* named \['head_1', 'head_2'\]"),
        ("[keras.layers.Conv2D(1, 1, name=n)(x) for n in ('head_2', 'head_1')]", r"outputs are named \['head_2', 'head_1'\]"),
    ],
)  # fmt: skip
def test_outputs_breaking_the_contract_are_refused_naming_model_and_shapes(user_modules, outputs, message):
    user_modules("shaped", f"""
        import keras
        def build(input_shape, network):
            x = keras.Input(input_shape)
            return keras.Model(x, {outputs})
    """)  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        build_model(entry("shaped:build"), (8, 8, 3))


def test_source_hash_follows_the_file_not_the_import(user_modules):
    path = user_modules("hashed", "def build(s, n): pass\n")
    before = builder_source_sha256("hashed:build", "models")
    resolve_builder("hashed:build", "models")
    path.write_text(path.read_text() + "# tuned\n")
    assert builder_source_sha256("hashed:build", "models") != before
    with pytest.raises(ConfigError, match=r"key 'models\[1\]': cannot find module 'absent'"):
        builder_source_sha256("absent:build", "models[1]")


def test_flops_count_nested_models_and_separable_convolutions():
    encoder_input = keras.Input((4, 4, 2))
    encoder = keras.Model(encoder_input, keras.layers.Conv2D(3, 3, padding="same")(encoder_input), name="encoder")
    x = keras.Input((4, 4, 2))
    y = keras.layers.SeparableConv2D(5, 3, padding="same", depth_multiplier=2)(encoder(x))
    y = keras.layers.DepthwiseConv2D(3, padding="same")(y)
    macs_per_pixel = [
        3 * 3 * 2 * 3,
        3 * 3 * 3 * 2 + 3 * 2 * 5,
        3 * 3 * 5,
    ]  # conv, separable (depthwise + pointwise), depthwise
    assert forward_flops(keras.Model(x, y)) == 2 * 16 * math.fsum(macs_per_pixel)


def config_with(*models) -> dict:
    return {"models": list(models), "pythonpath": []}


def test_model_entries_name_the_sweep_and_refuse_clashes():
    mine = {"name": "mine", "builder": "attention_unet:build"}
    defined = ["unet", "unetpp"]
    assert model_names(config_with("unet", mine)) == ["unet", "mine"]
    check_model_names(config_with("unet", mine), defined)
    with pytest.raises(ConfigError, match=r"key 'models': models\[1\] and models\[2\] are both named 'mine'"):
        check_model_names(config_with("unet", mine, {**mine, "args": {"width": 2}}), defined)
    with pytest.raises(ConfigError, match=r"key 'models\[1\].name': 'unetpp' is the name of a built-in model"):
        check_model_names(config_with("unet", {**mine, "name": "unetpp"}), defined)
    with pytest.raises(ConfigError, match=r"key 'models': 'unet3' is not defined"):
        check_model_names(config_with("unet3", mine), defined)


def test_user_variants_carry_builder_args_and_source_hash(user_modules, tmp_path):
    path = user_modules("tuned", "def build(s, n): pass\n")
    config = {
        "models": ["unet", {"name": "mine", "builder": "tuned:build", "args": {"k": 1}}],
        "pythonpath": [str(tmp_path)],
    }
    (variant,) = user_model_variants(config).values()
    assert variant == {
        "architecture": "custom",
        "builder": "tuned:build",
        "args": {"k": 1},
        "builder_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    path.write_text("def build(s, n): return None\n")
    assert user_model_variants(config)["mine"]["builder_sha256"] != variant["builder_sha256"]
    config["models"][1]["builder"] = "absent:build"
    with pytest.raises(ConfigError, match=r"key 'models\[1\].builder': cannot find module 'absent'"):
        user_model_variants(config)


def test_pythonpath_folders_are_made_absolute_under_the_repository(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    folders = add_pythonpath({"pythonpath": ["examples/own_model", "/abs/elsewhere"]})
    assert folders == [str(EXAMPLE), "/abs/elsewhere"] and sys.path[:2] == folders
