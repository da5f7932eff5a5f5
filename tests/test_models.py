"""U-Net and U-Net++: sizes against the official implementation, topology, heads, pruning, I/O."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from segsweep.config import BUILTIN_MODEL_VARIANTS
from segsweep.errors import ConfigError
from segsweep.models import (
    build_model,
    forward_flops,
    inference_model,
    inference_modes,
    level_widths,
    load_model,
    parameter_count,
    training_flops,
)
from segsweep.models.widths import scaled

# The original papers' setting: the official "standard unit" (two conv3x3-act-dropout, no BN).
PAPER = {"filters": [32, 64, 128, 256, 512], "batch_norm": False, "dropout": 0.5}
TINY = {"filters": [4, 8, 16], "batch_norm": True, "dropout": 0.2}
TINY5 = {"filters": [4, 8, 16, 32, 64], "batch_norm": False, "dropout": 0.0}


def settings(architecture: str, deep_supervision: bool = True, **network) -> dict:
    return {"name": architecture, "architecture": architecture, "deep_supervision": deep_supervision, **network}


def run(model: keras.Model, x: np.ndarray):
    """Inference-mode outputs as NumPy arrays (a list for several heads)."""
    return keras.tree.map_structure(keras.ops.convert_to_numpy, model(x, training=False))


def images(shape: tuple[int, int, int], n: int = 2) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, (n, *shape)).astype("float32")


@pytest.mark.parametrize(
    "architecture, channels, deep_supervision, expected",
    [
        # MrGiovanni/UNetPlusPlus model.py: U_Net and Nest_Net, 1-channel input, one head.
        ("unet", 1, False, 7_759_521),
        ("unetpp", 1, False, 9_041_601),
        # RGB input; U-Net++ with its four deep-supervision heads.
        ("unet", 3, True, 7_760_097),
        ("unetpp", 3, True, 9_042_276),
    ],
)
def test_parameter_counts_match_official_implementation(architecture, channels, deep_supervision, expected):
    model = build_model(settings(architecture, deep_supervision, **PAPER), (32, 32, channels))
    assert parameter_count(model) == expected


def node_output(model: keras.Model, i: int, j: int) -> keras.KerasTensor:
    """Output of X^{i,j} in a model built without dropout (the unit ends with its second ReLU)."""
    return model.get_layer(f"X{i}_{j}_relu2").output


def test_every_nested_node_concatenates_all_its_inputs():
    model = build_model(settings("unetpp", **TINY5), (32, 32, 3))
    D = len(TINY5["filters"])
    concats = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(concats) == D * (D - 1) // 2
    for j in range(1, D):
        for i in range(D - j):
            concat = model.get_layer(f"X{i}_{j}_concat")
            assert isinstance(concat, keras.layers.Concatenate)
            assert len(concat.input) == j + 1, f"X{i}_{j}"
            expected = [node_output(model, i, k) for k in range(j)] + [model.get_layer(f"X{i}_{j}_up").output]
            assert all(a is b for a, b in zip(concat.input, expected)), f"X{i}_{j}"
            assert model.get_layer(f"X{i}_{j}_up").input is node_output(model, i + 1, j - 1)


def test_unet_skips_only_from_its_own_encoder_level():
    model = build_model(settings("unet", **TINY5), (32, 32, 3))
    D = len(TINY5["filters"])
    concats = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(concats) == D - 1
    for i in range(D - 1):
        concat = model.get_layer(f"X{i}_{D - 1 - i}_concat")
        assert concat.input[0] is node_output(model, i, 0)
        assert len(concat.input) == 2


@pytest.mark.parametrize("filters", [TINY5["filters"], [4, 8, 16]])
def test_deep_supervision_heads_sit_on_the_top_row_in_order(filters):
    model = build_model(settings("unetpp", **{**TINY5, "filters": filters}), (32, 32, 3))
    D = len(filters)
    assert model.output_names == [f"head_{j}" for j in range(1, D)]
    for j in range(1, D):
        assert model.get_layer(f"head_{j}").input is node_output(model, 0, j)
    assert inference_modes(model) == ["accurate", *(f"L{k}" for k in range(1, D))]


@pytest.mark.parametrize("architecture", ["unet", "unetpp"])
def test_single_head_models_have_no_inference_modes(architecture):
    model = build_model(settings(architecture, deep_supervision=False, **TINY5), (32, 32, 3))
    assert model.output_names == ["head"]
    assert model.get_layer("head").input is node_output(model, 0, len(TINY5["filters"]) - 1)
    assert inference_modes(model) == []
    assert inference_model(model) is model
    with pytest.raises(ValueError, match="L1"):
        inference_model(model, "L1")


def test_pruned_models_keep_only_their_subnetwork_and_match_the_full_heads():
    model = build_model(settings("unetpp", **TINY5), (32, 32, 3))
    x = images((32, 32, 3))
    heads = run(model, x)
    D = len(TINY5["filters"])
    sizes, flops = [], []
    for k in range(1, D):
        pruned = inference_model(model, f"L{k}")
        nodes = {tuple(map(int, layer.name[1:].split("_")[:2])) for layer in pruned.layers if layer.name[0] == "X"}
        assert nodes == {(i, j) for i in range(D) for j in range(D) if i + j <= k}
        np.testing.assert_allclose(run(pruned, x), heads[k - 1], rtol=1e-6)
        sizes.append(parameter_count(pruned))
        flops.append(forward_flops(pruned))
    for cost in (sizes, flops):
        assert all(a < b for a, b in zip(cost, cost[1:])), cost
    unused_heads = sum(model.get_layer(f"head_{k}").count_params() for k in range(1, D - 1))
    assert sizes[-1] == parameter_count(model) - unused_heads
    with pytest.raises(ValueError, match="accurate, L1, L2, L3, L4"):
        inference_model(model, f"L{D}")


def test_accurate_mode_is_the_mean_of_the_heads():
    model = build_model(settings("unetpp", **TINY), (32, 32, 3))
    x = images((32, 32, 3))
    accurate = inference_model(model, "accurate")
    assert parameter_count(accurate) == parameter_count(model)
    np.testing.assert_allclose(run(accurate, x), np.mean(run(model, x), axis=0), rtol=1e-6)


def test_saved_model_loads_and_prunes(tmp_path):
    model = build_model(settings("unetpp", **TINY), (32, 32, 3))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.output_names == model.output_names
    x = images((32, 32, 3))
    for mode in inference_modes(loaded):
        np.testing.assert_allclose(
            run(inference_model(loaded, mode), x), run(inference_model(model, mode), x), rtol=1e-6
        )
    assert parameter_count(inference_model(loaded, "L1")) < parameter_count(loaded)


@pytest.mark.parametrize("architecture, deep_supervision", [("unet", False), ("unetpp", True), ("unetpp", False)])
def test_forward_pass_shapes_and_probabilities(architecture, deep_supervision):
    shape = (16, 24, 3)  # not square, to catch height/width mix-ups
    model = build_model(settings(architecture, deep_supervision, **TINY), shape)
    outputs = run(model, images(shape, n=3))
    outputs = outputs if isinstance(outputs, list) else [outputs]
    assert len(outputs) == (2 if deep_supervision else 1)
    for y in outputs:
        assert y.shape == (3, 16, 24, 1)
        assert y.min() >= 0 and y.max() <= 1


def test_input_size_must_fit_the_depth():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*\\(depth-1\\) = 4"):
        build_model(settings("unet", **TINY), (18, 24, 3))


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_mixed_precision_keeps_heads_in_float32(mixed_bfloat16):
    model = build_model(settings("unetpp", **TINY), (16, 16, 3))
    assert model.get_layer("X0_0_conv1").compute_dtype == "bfloat16"
    outputs = model(images((16, 16, 3)), training=False)
    assert [keras.backend.standardize_dtype(y.dtype) for y in outputs] == ["float32", "float32"]
    accurate = inference_model(model)(images((16, 16, 3)), training=False)
    assert keras.backend.standardize_dtype(accurate.dtype) == "float32"


def test_forward_flops_by_hand():
    # U-Net, filters [2, 4], 4x4x1 input. Multiply-adds per layer:
    macs = (
        4 * 4 * 3 * 3 * 1 * 2  # X0_0 conv1: 4x4 outputs, 3x3x1 kernel, 2 filters
        + 4 * 4 * 3 * 3 * 2 * 2  # X0_0 conv2
        + 2 * 2 * 3 * 3 * 2 * 4  # X1_0 conv1 after the 2x2 pool
        + 2 * 2 * 3 * 3 * 4 * 4  # X1_0 conv2
        + 2 * 2 * 2 * 2 * 4 * 2  # X0_1 up: each of 2x2 input pixels spreads a 2x2x4->2 kernel
        + 4 * 4 * 3 * 3 * 4 * 2  # X0_1 conv1 on the 2+2 concatenated channels
        + 4 * 4 * 3 * 3 * 2 * 2  # X0_1 conv2
        + 4 * 4 * 1 * 1 * 2 * 1  # head
    )
    model = build_model(settings("unet", filters=[2, 4], batch_norm=True, dropout=0.0), (4, 4, 1))
    assert forward_flops(model) == 2 * macs == 7232


def test_training_flops_are_three_forward_passes():
    model = build_model(settings("unet", filters=[2, 4], batch_norm=True, dropout=0.0), (4, 4, 1))
    assert training_flops(model) == 3 * 7232


def builtin(name: str, **network) -> dict:
    return {"name": name, "deep_supervision": True, **BUILTIN_MODEL_VARIANTS[name], **network}


DEFAULT = {"filters": [8, 16, 32, 64, 128], "batch_norm": True, "dropout": 0.0}


@pytest.mark.parametrize("network", [DEFAULT, PAPER], ids=["default widths", "paper widths"])
def test_unet_wide_has_the_parameters_of_unetpp_at_the_same_widths(network):
    shape = (32, 32, 3)
    unetpp = parameter_count(build_model(builtin("unetpp", **network), shape))
    wide = build_model(builtin("unet_wide", **network), shape)
    assert abs(parameter_count(wide) - unetpp) <= 0.02 * unetpp
    assert parameter_count(build_model(builtin("unet", **network), shape)) < 0.9 * unetpp  # it did widen
    widths = level_widths(wide)
    assert len(widths) == len(network["filters"])
    # One factor for every level: the factors that round each width to its value overlap.
    low = max((w - 0.5) / f for w, f in zip(widths, network["filters"]))
    high = min((w + 0.5) / f for w, f in zip(widths, network["filters"]))
    assert 1 < low < high
    assert tuple(widths) == scaled(network["filters"], (low + high) / 2)
    assert wide.output_names == ["head"] and inference_modes(wide) == []


def test_unet_wide_refuses_widths_too_narrow_for_one_factor():
    # [2, 2, 2, 2, 2]: U-Net has 1,029 parameters at width 2 and 2,158 at width 3; U-Net++ 2,250.
    with pytest.raises(ConfigError, match=r"network.filters.*\[2, 2, 2, 2, 2\].*2,250.*\[3, 3, 3, 3, 3\]"):
        build_model(builtin("unet_wide", filters=[2] * 5, batch_norm=True, dropout=0.0), (16, 16, 3))


def test_unetpp_nods_is_unetpp_with_one_head():
    shape = (16, 16, 3)
    nods = build_model(builtin("unetpp_nods", **TINY5), shape)
    full = build_model(builtin("unetpp", **TINY5), shape)
    assert nods.output_names == ["head"] and inference_modes(nods) == []
    assert len(full.output_names) == 4
    heads = TINY5["filters"][0] + 1  # each extra head: a 1x1 conv from width 4, with bias
    assert parameter_count(full) - parameter_count(nods) == 3 * heads
    assert level_widths(nods) == TINY5["filters"]


def _batch_norm_pair(x: np.ndarray):
    """segsweep's fused batch norm and Keras' own, built alike with the same (non-trivial) weights."""
    from segsweep.models.batch_norm import FusedBatchNormalization

    ours, keras_bn = FusedBatchNormalization(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9)
    rng = np.random.default_rng(1)
    gamma, beta = rng.uniform(0.5, 2, x.shape[-1]), rng.normal(0, 1, x.shape[-1])
    for layer in (ours, keras_bn):
        layer.build(x.shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    return ours, keras_bn


def test_fused_batch_norm_computes_what_keras_batch_norm_does():
    x = np.random.default_rng(0).normal(2.0, 3.0, (4, 8, 8, 5)).astype("float32")
    ours, keras_bn = _batch_norm_pair(x)
    np.testing.assert_allclose(ours(x, training=True), keras_bn(x, training=True), atol=1e-4)
    # Same moving-average rule; the fused kernel keeps the variance divided by n - 1, Keras by n.
    n = 4 * 8 * 8
    np.testing.assert_allclose(ours.moving_mean, keras_bn.moving_mean, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(ours.moving_variance) - 0.9, (np.asarray(keras_bn.moving_variance) - 0.9) * n / (n - 1), rtol=1e-4
    )
    ours.moving_variance.assign(keras_bn.moving_variance)
    np.testing.assert_allclose(ours(x, training=False), keras_bn(x, training=False), atol=1e-4)


def test_fused_batch_norm_runs_the_fused_kernel_in_training_and_under_bfloat16(mixed_bfloat16):
    import tensorflow as tf

    x = np.random.default_rng(0).normal(0, 1, (2, 4, 4, 3)).astype("float32")
    ours, keras_bn = _batch_norm_pair(x)
    graph = tf.function(lambda v: ours(v, training=True)).get_concrete_function(tf.TensorSpec(x.shape)).graph
    assert any(op.type.startswith("FusedBatchNorm") for op in graph.get_operations())
    y = ours(tf.cast(x, tf.bfloat16), training=True)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    np.testing.assert_allclose(np.asarray(y, "float32"), keras_bn(x, training=True), atol=0.05)


def test_per_image_normalization_matches_tensorflow_and_removes_exposure(tmp_path) -> None:
    import tensorflow as tf

    model = build_model(settings("unetpp", input_normalization="per_image", **TINY), (16, 16, 3))
    x = images((16, 16, 3))
    standardized = keras.ops.convert_to_numpy(model.get_layer("image_standardization")(x))
    # TensorFlow's own per-image standardization, applied to one channel at a time (nnU-Net's z-score per channel).
    expected = np.concatenate([tf.image.per_image_standardization(x[..., c : c + 1]).numpy() for c in range(3)], -1)
    np.testing.assert_allclose(standardized, expected, atol=1e-5)
    # A dusk frame: every channel darker and flatter, each by its own factor (white balance too).
    dusk = x * np.float32([0.25, 0.3, 0.35]) + np.float32([0.02, 0.01, 0.0])
    np.testing.assert_allclose(run(model, dusk), run(model, x), atol=1e-4)
    black = np.zeros((1, 16, 16, 3), "float32")
    assert np.isfinite(keras.ops.convert_to_numpy(model.get_layer("image_standardization")(black))).all()
    model.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(run(load_model(tmp_path / "m.keras"), x), run(model, x))
    with pytest.raises(ConfigError, match=r"key 'network.input_normalization': 'minmax' is not one of"):
        build_model(settings("unet", input_normalization="minmax", **TINY), (16, 16, 3))
