"""`segsweep evaluate` end to end: a tiny KITTI-layout dataset and tiny saved models, run as the CLI.

The models' heads are set to constant outputs (zero kernel, bias +-10), so the expected metrics
follow from the labels by hand: a head with bias +10 predicts road everywhere, so tp = road
pixels, fp = valid non-road pixels, fn = 0; bias -10 predicts nothing. U-Net++ gets head_1 off
and heads 2..4 on, so "accurate" (mean 0.75) is all road and L1 is empty: that checks that each
mode reads its own head.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
ROAD, VOID, OTHER = 7, 0, 1  # Cityscapes IDs as kitti_semantics stores them
# Original image sizes (height, width) of the split; the network sees 16 x 32.
SPLIT = {"a": ("train", (40, 100)), "b": ("val", (40, 100)), "c": ("test", (40, 100)), "d": ("test", (37, 90)),
         "e": ("test", (24, 63))}
TEST_STEMS = ["c", "d", "e"]
CONFIG = {
    "dataset": {"name": "tiny", "format": "kitti_semantics", "root": "data"},
    "models": ["unet", "unetpp"],
    "augmentations": ["none"],
    "seeds": [3],
    "network": {"filters": [2, 2, 2, 2, 2]},  # depth 5: U-Net++ has heads 1..4
    "train": {"input_size": [16, 32]},
    "evaluate": {"batch_size": 2, "speed_repeats": 2},
}


def label_ids(height: int, width: int) -> np.ndarray:
    """Road in the bottom third, a void block top left, everything else another class."""
    ids = np.full((height, width), OTHER, np.uint8)
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
        Image.fromarray(label_ids(height, width)).save(root / label)
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
    save_model(unetpp, root / "runs/unetpp/model.keras", {"head_1": -10.0, "head_2": 10.0, "head_3": 10.0,
                                                          "head_4": 10.0})
    run = {"dataset": "tiny", "model": "unetpp", "augmentation": "none", "seed": 3}
    (root / "runs/unetpp/run.json").write_text(json.dumps(run))
    common = ["--manifest", "split.csv", "--threads", "1"]
    runs = [
        evaluate(root, "--settings", json.dumps(unet), "--model-file", "runs/unet/model.keras",
                 "--out-dir", "eval/unet", *common),
        evaluate(root, "--config", "config.yaml", "--model", "unetpp", "--aug", "none",
                 "--model-file", "runs/unetpp/model.keras", "--out-dir", "eval/unetpp", *common),
    ]
    for result in runs:
        assert result.returncode == 0, result.stderr
    return root


def all_road_counts(stem: str) -> tuple[int, int, int]:
    """tp, fp, fn of a road-everywhere prediction: void pixels count nowhere."""
    ids = label_ids(*SPLIT[stem][1])
    return int((ids == ROAD).sum()), int((ids == OTHER).sum()), 0


@pytest.mark.parametrize("model", ["unet", "unetpp"])
def test_outputs_are_exactly_the_documented_files(sweep, model):
    out = sweep / "eval" / model
    assert sorted(p.name for p in out.iterdir()) == ["masks", "metrics.json", "per_image.csv"]  # no partials left
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"{stem}.png" for stem in TEST_STEMS]


@pytest.mark.parametrize("model", ["unet", "unetpp"])
def test_masks_are_0_255_at_the_original_size(sweep, model):
    for stem in TEST_STEMS:
        mask = np.asarray(Image.open(sweep / "eval" / model / "masks" / f"{stem}.png"))
        assert mask.shape == SPLIT[stem][1]
        assert mask.dtype == np.uint8
        assert set(np.unique(mask)) == {255}  # the headline mode predicts road everywhere


@pytest.mark.parametrize("model", ["unet", "unetpp"])
def test_per_image_rows_match_hand_counts(sweep, model):
    table = pd.read_csv(sweep / "eval" / model / "per_image.csv")
    assert list(table.columns) == ["stem", "iou", "precision", "recall", "f1", "tp", "fp", "fn"]
    assert table["stem"].tolist() == TEST_STEMS
    for row in table.itertuples():
        tp, fp, fn = all_road_counts(row.stem)
        assert (row.tp, row.fp, row.fn) == (tp, fp, fn)
        assert row.iou == pytest.approx(tp / (tp + fp))
        assert row.precision == pytest.approx(tp / (tp + fp))
        assert row.recall == 1.0


@pytest.mark.parametrize("model", ["unet", "unetpp"])
def test_metrics_pooled_and_per_image_mean(sweep, model):
    metrics = json.loads((sweep / "eval" / model / "metrics.json").read_text())
    counts = np.array([all_road_counts(stem) for stem in TEST_STEMS])
    tp, fp, fn = counts.sum(axis=0)
    assert metrics["n_images"] == 3
    assert metrics["threshold"] == 0.5
    assert (metrics["dataset"], metrics["model"], metrics["augmentation"]) == ("tiny", model, "none")
    assert metrics["pooled"] == pytest.approx(
        {"iou": tp / (tp + fp), "precision": tp / (tp + fp), "recall": 1.0, "f1": 2 * tp / (2 * tp + fp),
         "tp": tp, "fp": fp, "fn": fn}
    )
    per_image_iou = counts[:, 0] / (counts[:, 0] + counts[:, 1])
    assert metrics["per_image_mean"]["iou"] == pytest.approx(per_image_iou.mean())
    assert metrics["per_image_mean"]["iou"] != pytest.approx(metrics["pooled"]["iou"])  # images differ in size
    for section in ("pooled", "per_image_mean"):
        assert all(0 <= metrics[section][name] <= 1 for name in ("iou", "precision", "recall", "f1"))
    assert metrics["speed"]["images_per_second"] > 0
    assert metrics["speed"] | {"images_per_second": None} == {
        "images_per_second": None, "batch_size": 2, "repeats": 2, "input_size": [16, 32]
    }


def test_unet_has_one_mode_and_no_mode_table(sweep):
    metrics = json.loads((sweep / "eval" / "unet" / "metrics.json").read_text())
    assert metrics["mode"] == "single"
    assert metrics["modes"] == []
    assert metrics["seed"] is None  # no run.json beside this model
    assert metrics["parameters"] > 0


def test_unetpp_lists_every_mode_each_from_its_own_head(sweep):
    metrics = json.loads((sweep / "eval" / "unetpp" / "metrics.json").read_text())
    assert metrics["mode"] == "accurate"
    assert metrics["seed"] == 3
    modes = {entry["mode"]: entry for entry in metrics["modes"]}
    assert list(modes) == ["accurate", "L1", "L2", "L3", "L4"]
    assert modes["accurate"]["pooled_iou"] == pytest.approx(metrics["pooled"]["iou"])
    assert modes["accurate"]["parameters"] == metrics["parameters"]
    assert modes["L1"]["pooled_iou"] == 0.0 and modes["L1"]["per_image_mean_iou"] == 0.0  # head_1 is off
    for mode in ("L2", "L3", "L4"):
        assert modes[mode]["pooled_iou"] == pytest.approx(metrics["pooled"]["iou"])
    parameters = [modes[f"L{k}"]["parameters"] for k in range(1, 5)]
    assert parameters == sorted(set(parameters))  # each pruned level strictly smaller than the next
    assert parameters[-1] <= metrics["parameters"]
    assert all(entry["images_per_second"] > 0 for entry in modes.values())


def test_a_bad_test_image_stops_the_job_naming_it_and_leaves_no_outputs(sweep, tmp_path):
    manifest = pd.read_csv(sweep / "split.csv")
    broken = tmp_path / "e.png"
    broken.write_bytes(b"not a png")
    manifest.loc[manifest["stem"] == "e", "label"] = str(broken)
    manifest.to_csv(sweep / "broken.csv", index=False)
    result = evaluate(sweep, "--config", "config.yaml", "--model", "unet", "--aug", "none", "--manifest",
                      "broken.csv", "--model-file", "runs/unet/model.keras", "--threads", "1", "--out-dir",
                      str(tmp_path / "eval"))
    assert result.returncode == 2
    assert str(broken) in result.stderr
    assert "Traceback" not in result.stderr
    assert list((tmp_path / "eval").iterdir()) == []  # not even a hidden partial


def test_a_model_file_from_another_run_is_refused(sweep, tmp_path):
    result = evaluate(sweep, "--config", "config.yaml", "--model", "unet", "--aug", "none", "--manifest", "split.csv",
                      "--model-file", "runs/unetpp/model.keras", "--threads", "1", "--out-dir", str(tmp_path / "eval"))
    assert result.returncode == 2
    assert "runs/unetpp/run.json: the model was trained with model 'unetpp'" in result.stderr
    assert not (tmp_path / "eval").exists()


def test_help_describes_the_command():
    result = evaluate(REPO, "--help")
    assert result.returncode == 0
    for text in ("--manifest", "--model-file", "--threads", "--out-dir", "pooled", "per-image"):
        assert text in result.stdout


def test_one_forward_pass_gives_each_modes_own_prediction_at_each_images_size():
    import keras

    from segsweep.evaluation.predict import mode_models, predict_probabilities, stacked_model
    from segsweep.models import build_model

    keras.utils.set_random_seed(0)
    spec = {"name": "m", "architecture": "unetpp", "deep_supervision": True, "filters": [2, 2, 2],
            "batch_norm": False, "dropout": 0.0}
    models = mode_models(build_model(spec, (8, 16, 3)))
    assert list(models) == ["accurate", "L1", "L2"]
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((20, 30, 3), (9, 41, 3))]
    stacked = predict_probabilities(stacked_model(models), images, (8, 16))
    assert [p.shape for p in stacked] == [(20, 30, 3), (9, 41, 3)]
    for channel, model in enumerate(models.values()):
        own = predict_probabilities(model, images, (8, 16))
        for image_maps, own_map in zip(stacked, own):
            np.testing.assert_allclose(image_maps[..., channel], own_map[..., 0], rtol=0, atol=1e-6)
    assert not np.allclose(stacked[0][..., 1], stacked[0][..., 2])  # the heads do differ
