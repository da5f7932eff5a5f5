"""`segsweep evaluate` end to end: a tiny KITTI-layout dataset and tiny saved models, run as the CLI.

The models' heads are set to constant outputs (zero kernel, bias b), so the expected metrics
follow from the labels by hand: a head with bias +10 predicts road everywhere at 0.5, so tp = road
pixels, fp = valid non-road pixels, fn = 0; bias -10 predicts nothing. U-Net++ gets head_1 off
and heads 2..4 on, so "accurate" (mean 0.75) is all road and L1 is empty: that checks that each
mode reads its own head, and the choice on val (accurate, L2, L3, L4 tie; the cheapest, L2, wins).
A third model outputs 0.3 everywhere: nothing at threshold 0.5, all road at the threshold chosen
on val. Test image "f" has no road: an empty reference.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import REPO

ROAD, VOID, OTHER = 7, 0, 8  # Cityscapes IDs: road, unlabeled (void), sidewalk
# Original image sizes (height, width) of the split; the network sees 16 x 32.
SPLIT = {
    "a": ("train", (40, 100)),
    "b": ("val", (40, 100)),
    "c": ("test", (40, 100)),
    "d": ("test", (37, 90)),
    "e": ("test", (24, 63)),
    "f": ("test", (30, 60)),
    "g": ("val", (32, 48)),
}
TEST_STEMS = ["c", "d", "e", "f"]
VAL_STEMS = ["b", "g"]
NO_ROAD = {"f"}
CONFIG = {
    "dataset": {"name": "tiny", "format": "kitti_semantics", "root": "data"},
    "models": ["unet", "unetpp"],
    "augmentations": ["none"],
    "seeds": [3],
    "network": {"filters": [2, 2, 2, 2, 2]},  # depth 5: U-Net++ has heads 1..4
    "train": {"input_size": [16, 32]},
    "evaluate": {"batch_size": 2, "speed_repeats": 2},
}
LOW = math.log(0.3 / 0.7)  # the bias of a head that outputs 0.3


def label_ids(stem: str) -> np.ndarray:
    """Road in the bottom third (none for NO_ROAD), a void block top left, everything else another class."""
    height, width = SPLIT[stem][1]
    ids = np.full((height, width), OTHER, np.uint8)
    if stem not in NO_ROAD:
        ids[2 * height // 3 :, :] = ROAD
    ids[: height // 4, : width // 5] = VOID
    return ids


def write_dataset(root: Path) -> None:
    rng = np.random.default_rng(0)
    for folder in ("image_2", "semantic"):
        (root / "data" / "training" / folder).mkdir(parents=True)
    rows = []
    for stem, (split, (height, width)) in SPLIT.items():
        image = f"data/training/image_2/{stem}.png"
        label = f"data/training/semantic/{stem}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(root / image)
        Image.fromarray(label_ids(stem)).save(root / label)
        rows.append({"stem": stem, "split": split, "image": image, "label": label})
    pd.DataFrame(rows).to_csv(root / "split.csv", index=False)


def save_model(settings: dict, path: Path, head_bias: dict[str, float]) -> None:
    """A model whose heads output the constant sigmoid(bias), whatever the image."""
    from segsweep.models import build_model

    model = build_model(settings["model"], (*settings["train"]["input_size"], 3))
    for name, bias in head_bias.items():
        kernel, _ = model.get_layer(name).get_weights()
        model.get_layer(name).set_weights([np.zeros_like(kernel), np.full((1,), bias, "float32")])
    path.parent.mkdir(parents=True)
    model.save(path)


def evaluate(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "segsweep", "evaluate", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def evaluate_unet(sweep: Path, manifest: str, model_file: str, out_dir: Path) -> subprocess.CompletedProcess:
    """`segsweep evaluate` of the config's U-Net run, with the given manifest and model file."""
    return evaluate(
        sweep,
        *("--config", "config.yaml", "--model", "unet", "--aug", "none", "--threads", "1"),
        *("--manifest", manifest, "--model-file", model_file, "--out-dir", str(out_dir)),
    )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """Dataset, config, both models saved, and both evaluated: U-Net by --settings, U-Net++ by --config."""
    from segsweep.config import job_settings, load_config

    root = tmp_path_factory.mktemp("evaluate")
    write_dataset(root)
    (root / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    cwd = os.getcwd()
    os.chdir(root)  # the config's dataset root is relative, as in the real workflow
    try:
        config = load_config("config.yaml")
    finally:
        os.chdir(cwd)
    unet, unetpp = (job_settings(config, name, "none") for name in ("unet", "unetpp"))
    save_model(unet, root / "runs/unet/model.keras", {"head": 10.0})
    save_model(unet, root / "runs/low/model.keras", {"head": LOW})
    save_model(
        unetpp, root / "runs/unetpp/model.keras", {"head_1": -10.0, "head_2": 10.0, "head_3": 10.0, "head_4": 10.0}
    )
    run = {"dataset": "tiny", "model": "unetpp", "augmentation": "none", "seed": 3}
    (root / "runs/unetpp/run.json").write_text(json.dumps(run))
    on_val = {**unet, "evaluate": {**unet["evaluate"], "threshold": "val"}}
    common = ["--manifest", "split.csv", "--threads", "1"]
    runs = [
        evaluate(
            root,
            "--settings",
            json.dumps(unet),
            "--model-file",
            "runs/unet/model.keras",
            "--out-dir",
            "eval/unet",
            *common,
        ),
        evaluate(
            root,
            "--config",
            "config.yaml",
            "--model",
            "unetpp",
            "--aug",
            "none",
            "--model-file",
            "runs/unetpp/model.keras",
            "--out-dir",
            "eval/unetpp",
            *common,
        ),
        evaluate(
            root,
            "--settings",
            json.dumps(unet),
            "--model-file",
            "runs/low/model.keras",
            "--out-dir",
            "eval/low_fixed",
            *common,
        ),
        evaluate(
            root,
            "--settings",
            json.dumps(on_val),
            "--model-file",
            "runs/low/model.keras",
            "--out-dir",
            "eval/low_val",
            *common,
        ),
    ]
    for result in runs:
        assert result.returncode == 0, result.stderr
    return root


def metrics_of(sweep: Path, run: str) -> dict:
    return json.loads((sweep / "eval" / run / "metrics.json").read_text())


def all_road_counts(stem: str) -> tuple[int, int, int]:
    """tp, fp, fn of a road-everywhere prediction: void pixels count nowhere."""
    ids = label_ids(stem)
    return int((ids == ROAD).sum()), int((ids == OTHER).sum()), 0


def all_road_boundary_iou(stem: str) -> float:
    from segsweep.evaluation.metrics import boundary_iou

    ids = label_ids(stem)
    return boundary_iou(np.ones(ids.shape, bool), ids == ROAD, ids != VOID)


ALL_ROAD_RUNS = ["unet", "unetpp", "low_val"]  # runs whose headline predicts road everywhere


@pytest.mark.parametrize("run", ALL_ROAD_RUNS)
def test_outputs_are_exactly_the_documented_files(sweep, run):
    out = sweep / "eval" / run
    assert sorted(p.name for p in out.iterdir()) == ["masks", "metrics.json", "per_image.csv", "per_image_val.csv"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"{stem}.png" for stem in TEST_STEMS]


@pytest.mark.parametrize("run", ALL_ROAD_RUNS)
def test_masks_are_0_255_at_the_original_size(sweep, run):
    for stem in TEST_STEMS:
        mask = np.asarray(Image.open(sweep / "eval" / run / "masks" / f"{stem}.png"))
        assert mask.shape == SPLIT[stem][1]
        assert mask.dtype == np.uint8
        assert set(np.unique(mask)) == {255}  # the headline mode predicts road everywhere


@pytest.mark.parametrize("run", ALL_ROAD_RUNS)
@pytest.mark.parametrize("table, stems", [("per_image.csv", TEST_STEMS), ("per_image_val.csv", VAL_STEMS)])
def test_per_image_rows_match_hand_counts(sweep, run, table, stems):
    table = pd.read_csv(sweep / "eval" / run / table)
    assert list(table.columns) == [
        "stem",
        "iou",
        "precision",
        "recall",
        "f1",
        "boundary_iou",
        "tp",
        "fp",
        "fn",
        "empty_reference",
    ]
    assert table["stem"].tolist() == stems
    for row in table.itertuples():
        tp, fp, fn = all_road_counts(row.stem)
        assert (row.tp, row.fp, row.fn) == (tp, fp, fn)
        assert row.empty_reference == (row.stem in NO_ROAD)
        if row.empty_reference:  # no road in truth: no IoU, recall, F1 or Boundary IoU; all predicted is wrong
            assert all(math.isnan(v) for v in (row.iou, row.recall, row.f1, row.boundary_iou))
            assert row.precision == 0.0
            continue
        assert row.iou == pytest.approx(tp / (tp + fp))
        assert row.precision == pytest.approx(tp / (tp + fp))
        assert row.recall == 1.0
        assert row.boundary_iou == pytest.approx(all_road_boundary_iou(row.stem))
        assert 0 < row.boundary_iou < row.iou  # the band around the road's contour is scored harder


def expected_all_road(stems: list[str]) -> dict:
    counts = np.array([all_road_counts(stem) for stem in stems])
    tp, fp, fn = counts.sum(axis=0)
    with_road = [i for i, stem in enumerate(stems) if stem not in NO_ROAD]
    per_image_iou = counts[with_road, 0] / (counts[with_road, 0] + counts[with_road, 1])
    return {
        "pooled": {
            "iou": tp / (tp + fp),
            "precision": tp / (tp + fp),
            "recall": 1.0,
            "f1": 2 * tp / (2 * tp + fp),
            "tp": tp,
            "fp": fp,
            "fn": fn,
        },
        "per_image_mean_iou": per_image_iou.mean(),
        "boundary_iou": np.mean([all_road_boundary_iou(stems[i]) for i in with_road]),
    }


@pytest.mark.parametrize("run", ALL_ROAD_RUNS)
def test_metrics_pooled_per_image_mean_and_threshold_free(sweep, run):
    metrics = metrics_of(sweep, run)
    expected = expected_all_road(TEST_STEMS)
    assert (metrics["n_images"], metrics["n_empty_reference"]) == (4, 1)
    assert (metrics["dataset"], metrics["augmentation"]) == ("tiny", "none")
    assert metrics["pooled"] == pytest.approx(expected["pooled"])  # the empty reference's fp count here
    assert metrics["per_image_mean"]["iou"] == pytest.approx(expected["per_image_mean_iou"])  # and not here
    assert metrics["per_image_mean"]["iou"] != pytest.approx(metrics["pooled"]["iou"])  # images differ in size
    assert metrics["per_image_mean"]["recall"] == 1.0
    # One probability everywhere: one operating point, all road, besides "nothing" (precision 0).
    assert metrics["max_f"] == pytest.approx(expected["pooled"]["f1"])
    assert metrics["average_precision"] == pytest.approx(expected["pooled"]["precision"])
    assert metrics["boundary_iou"] == pytest.approx(expected["boundary_iou"])
    val = expected_all_road(VAL_STEMS)
    assert metrics["val"]["pooled"] == pytest.approx(val["pooled"])
    assert metrics["val"]["boundary_iou"] == pytest.approx(val["boundary_iou"])
    assert (metrics["val"]["n_images"], metrics["val"]["n_empty_reference"]) == (2, 0)
    assert metrics["chosen_on"] == "val"
    assert metrics["speed"]["images_per_second"] > 0
    assert metrics["speed"] | {"images_per_second": None} == {
        "images_per_second": None,
        "batch_size": 2,
        "repeats": 2,
        "input_size": [16, 32],
    }


def test_parameters_widths_and_training_flops(sweep):
    from segsweep.models import load_model, parameter_count, training_flops

    for run in ("unet", "unetpp"):
        metrics = metrics_of(sweep, run)
        model = load_model(sweep / "runs" / run / "model.keras")
        assert metrics["trained_parameters"] == parameter_count(model)
        assert metrics["training_flops_per_image"] == training_flops(model) > 0
        assert metrics["filters"] == [2, 2, 2, 2, 2]
    assert metrics_of(sweep, "unet")["parameters"] == metrics_of(sweep, "unet")["trained_parameters"]


def test_unet_has_one_mode_and_no_mode_table(sweep):
    metrics = metrics_of(sweep, "unet")
    assert (metrics["mode"], metrics["mode_chosen_on"]) == ("single", "single")
    assert (metrics["threshold"], metrics["threshold_chosen_on"]) == (0.5, "config")
    assert metrics["modes"] == []
    assert metrics["seed"] is None  # no run.json beside this model


def test_unetpp_mode_is_chosen_on_val_and_every_mode_reads_its_own_head(sweep):
    metrics = metrics_of(sweep, "unetpp")
    assert metrics["seed"] == 3
    modes = {entry["mode"]: entry for entry in metrics["modes"]}
    assert list(modes) == ["accurate", "L1", "L2", "L3", "L4"]
    assert modes["L1"]["pooled_iou"] == 0.0 and modes["L1"]["val_pooled_iou"] == 0.0  # head_1 is off
    assert modes["L1"]["per_image_mean_iou"] == 0.0
    for mode in ("accurate", "L2", "L3", "L4"):  # all road, on val as on test
        assert modes[mode]["pooled_iou"] == pytest.approx(metrics["pooled"]["iou"])
        assert modes[mode]["val_pooled_iou"] == pytest.approx(metrics["val"]["pooled"]["iou"])
    # Four modes tie on val: the one with the fewest parameters is the headline.
    assert (metrics["mode"], metrics["mode_chosen_on"], metrics["chosen_on"]) == ("L2", "val", "val")
    assert metrics["parameters"] == modes["L2"]["parameters"]
    assert metrics["trained_parameters"] == modes["accurate"]["parameters"]
    assert metrics["speed"]["images_per_second"] == modes["L2"]["images_per_second"]
    parameters = [modes[f"L{k}"]["parameters"] for k in range(1, 5)]
    assert parameters == sorted(set(parameters))  # each pruned level strictly smaller than the next
    assert parameters[-1] <= modes["accurate"]["parameters"]
    assert all(entry["images_per_second"] > 0 and entry["threshold"] == 0.5 for entry in modes.values())


def test_threshold_chosen_on_val_is_used_on_test(sweep):
    fixed, on_val = metrics_of(sweep, "low_fixed"), metrics_of(sweep, "low_val")
    # 0.3 everywhere: nothing is road above 0.5 ...
    assert (fixed["threshold"], fixed["threshold_chosen_on"]) == (0.5, "config")
    assert fixed["pooled"]["iou"] == 0.0 and fixed["pooled"]["tp"] == 0
    # ... every threshold k/255 up to 0.3 gives the same (all-road) F1 on val; ties go to the lowest.
    assert (on_val["threshold"], on_val["threshold_chosen_on"]) == (pytest.approx(1 / 255), "val")
    assert on_val["chosen_on"] == "val"
    assert on_val["pooled"]["iou"] == pytest.approx(expected_all_road(TEST_STEMS)["pooled"]["iou"])
    # MaxF and AP do not depend on the threshold.
    assert fixed["max_f"] == on_val["max_f"] and fixed["average_precision"] == on_val["average_precision"]


@pytest.mark.parametrize(
    "threshold, error", [("val", None), (0.3, None), ("best", "is not valid"), (1.0, "is not valid")]
)
def test_config_threshold_is_a_number_or_val(tmp_path, threshold, error):
    from segsweep.config import job_settings, load_config
    from segsweep.errors import ConfigError

    (tmp_path / "data").mkdir()
    config = {
        **CONFIG,
        "dataset": {**CONFIG["dataset"], "root": str(tmp_path / "data")},
        "models": ["unet_wide", "unetpp_nods"],
        "report": {"baseline": "unet_wide", "candidate": "unetpp_nods"},
        "evaluate": {"threshold": threshold},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    if error:
        with pytest.raises(ConfigError, match=f"key 'evaluate.threshold': .*{error}"):
            load_config(tmp_path / "config.yaml")
        return
    settings = job_settings(load_config(tmp_path / "config.yaml"), "unet_wide", "none")
    assert settings["evaluate"]["threshold"] == threshold
    assert settings["model"]["match_unetpp_parameters"] is True


def test_choice_rules():
    from segsweep.config.choice import checkpoint_threshold
    from segsweep.evaluation.choice import headline_mode, thresholds_on_val
    from segsweep.evaluation.metrics import probability_histograms

    assert headline_mode([0.7, 0.2, 0.7, 0.69], [100, 10, 50, 70]) == 2  # tie: fewer parameters
    assert headline_mode([0.7, float("nan"), 0.8], [3, 1, 2]) == 2
    with pytest.raises(ValueError, match="no road"):
        headline_mode([float("nan")] * 2, [1, 2])
    # Mode 0 separates road (0.6) from non-road (0.2): the best threshold is the lowest above 0.2's
    # level 51, i.e. 52/255. Mode 1 is the reverse: nothing beats all road, at the lowest threshold 1/255.
    truth = np.array([[True, True, False, False]])
    probability = np.array([[[0.6, 0.6, 0.2, 0.2]], [[0.2, 0.2, 0.6, 0.6]]], np.float32)
    thresholds = thresholds_on_val(probability_histograms(probability, truth))
    assert thresholds.tolist() == pytest.approx([52 / 255, 1 / 255])
    assert checkpoint_threshold({"threshold": "val"}) == 0.5 and checkpoint_threshold({"threshold": 0.3}) == 0.3


def test_a_bad_test_image_stops_the_job_naming_it_and_leaves_no_outputs(sweep, tmp_path):
    manifest = pd.read_csv(sweep / "split.csv")
    broken = tmp_path / "e.png"
    broken.write_bytes(b"not a png")
    manifest.loc[manifest["stem"] == "e", "label"] = str(broken)
    manifest.to_csv(sweep / "broken.csv", index=False)
    result = evaluate_unet(sweep, "broken.csv", "runs/unet/model.keras", tmp_path / "eval")
    assert result.returncode == 2
    assert str(broken) in result.stderr
    assert "Traceback" not in result.stderr
    assert list((tmp_path / "eval").iterdir()) == []  # not even a hidden partial


def test_a_model_file_from_another_run_is_refused(sweep, tmp_path):
    result = evaluate_unet(sweep, "split.csv", "runs/unetpp/model.keras", tmp_path / "eval")
    assert result.returncode == 2
    assert "runs/unetpp/run.json: the model was trained with model 'unetpp'" in result.stderr
    assert not (tmp_path / "eval").exists()


def test_help_describes_the_command():
    result = evaluate(REPO, "--help")
    assert result.returncode == 0
    for text in ("--manifest", "--model-file", "--threads", "--out-dir", "pooled", "per-image"):
        assert text in result.stdout


def _tiny_unetpp(classes: int = 1):
    """A deep-supervised U-Net++ of depth 3 (modes accurate, L1, L2) on 8x16 inputs, seeded."""
    import keras

    from segsweep.models import build_model

    keras.utils.set_random_seed(0)
    spec = {
        "name": "m",
        "architecture": "unetpp",
        "deep_supervision": True,
        "filters": [2, 2, 2],
        "batch_norm": False,
        "dropout": 0.0,
        "classes": classes,
    }
    return build_model(spec, (8, 16, 3))


def _full_maps(model, images, input_size):
    """The reference for predict_mode_maps: the whole (H_i, W_i, C) output of each image, resized
    back to the image's size, one image at a time."""
    import tensorflow as tf

    maps = []
    for image in images:
        x = tf.image.resize(image, input_size, method="bilinear")[None] / 255.0
        maps.append(tf.image.resize(model.predict_on_batch(x)[0], image.shape[:2], method="bilinear").numpy())
    return maps


def test_one_forward_pass_gives_each_modes_own_prediction_at_each_images_size():
    from segsweep.evaluation.predict import mode_models, stacked_model

    models = mode_models(_tiny_unetpp())
    assert list(models) == ["accurate", "L1", "L2"]
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((20, 30, 3), (9, 41, 3))]
    stacked = _full_maps(stacked_model(models), images, (8, 16))
    assert [p.shape for p in stacked] == [(20, 30, 3), (9, 41, 3)]
    for channel, model in enumerate(models.values()):
        own = _full_maps(model, images, (8, 16))
        for image_maps, own_map in zip(stacked, own):
            np.testing.assert_allclose(image_maps[..., channel], own_map[..., 0], rtol=0, atol=1e-6)
    assert not np.allclose(stacked[0][..., 1], stacked[0][..., 2])  # the heads do differ


@pytest.mark.parametrize("classes", [1, 4])
def test_mode_maps_are_the_full_maps_taken_apart_by_mode_and_class(classes):
    """predict_mode_maps splits and argmaxes inside TensorFlow, a batch at a time; numpy on each
    image's full maps is the reference: the focus class's probability of each mode, and each mode's argmax.

    Equal to float32 rounding, not to the bit: a batch of two and one image at a time may sum a
    convolution in another order (oneDNN picks its kernel by batch and ISA; on an AVX2-only EPYC
    6% of the probabilities differed in the last bit, on the AVX-512 EPYC none). So the argmax is
    compared wherever the reference's top two classes are further apart than that rounding."""

    from segsweep.evaluation.predict import mode_models, predict_mode_maps, stacked_model

    model = stacked_model(mode_models(_tiny_unetpp(classes)))
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((20, 30, 3), (9, 41, 3))]
    focus = classes - 1
    maps = predict_mode_maps(model, images, (8, 16), classes, focus)
    for full, (focus_map, class_map) in zip(_full_maps(model, images, (8, 16)), maps, strict=True):
        per_class = np.moveaxis(full.reshape(*full.shape[:2], 3, classes), 2, 0)  # (mode, H, W, K): accurate, L1, L2
        np.testing.assert_allclose(focus_map, per_class[..., focus], rtol=0, atol=1e-6)
        if classes == 1:
            assert class_map is None
        else:
            top_two = np.sort(per_class, axis=-1)[..., -2:]
            clear = top_two[..., 1] - top_two[..., 0] > 1e-6
            assert clear.mean() > 0.99  # the comparison covers (almost) every pixel
            np.testing.assert_array_equal(class_map[clear], np.argmax(per_class, axis=-1)[clear])
            assert class_map.dtype == np.uint8 and len(np.unique(class_map)) > 1


@pytest.mark.parametrize("classes", [1, 4])
def test_test_time_flip_averages_the_image_and_its_mirror(classes):
    """With flip, each probability is the mean of the image's and the mirrored image's (mirrored
    back), taken here at full resolution image by image; so the prediction of a mirrored image is
    the mirrored prediction, which one forward pass alone does not give."""
    from segsweep.evaluation.predict import mode_models, predict_mode_maps, stacked_model

    model = stacked_model(mode_models(_tiny_unetpp(classes)))
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((20, 30, 3), (9, 41, 3))]
    mirrored = [image[:, ::-1] for image in images]
    focus = classes - 1
    flipped = predict_mode_maps(model, images, (8, 16), classes, focus, flip=True)
    references = zip(_full_maps(model, images, (8, 16)), _full_maps(model, mirrored, (8, 16)), strict=True)
    for (own, other), (focus_map, class_map) in zip(references, flipped, strict=True):
        mean = np.moveaxis((own + other[:, ::-1]) / 2, -1, 0).reshape(3, classes, *own.shape[:2])
        np.testing.assert_allclose(focus_map, mean[:, focus], rtol=0, atol=1e-6)
        if classes > 1:
            top_two = np.sort(mean, axis=1)[:, -2:]
            clear = top_two[:, 1] - top_two[:, 0] > 1e-5  # ties may break either way in float32
            np.testing.assert_array_equal(class_map[clear], np.argmax(mean, axis=1)[clear])
    for (focus_map, _), (mirror_map, _) in zip(
        flipped, predict_mode_maps(model, mirrored, (8, 16), classes, focus, flip=True), strict=True
    ):
        np.testing.assert_allclose(mirror_map, focus_map[:, :, ::-1], rtol=0, atol=1e-6)
    plain = predict_mode_maps(model, mirrored, (8, 16), classes, focus)
    unflipped = predict_mode_maps(model, images, (8, 16), classes, focus)
    assert not np.allclose(plain[0][0], unflipped[0][0][:, :, ::-1], atol=1e-6)
