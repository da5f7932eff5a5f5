"""`segsweep train` end to end on a tiny KITTI-size dataset: outputs, determinism, refusals, resume after a kill.

Runs in this process go through `segsweep.cli.main`, as the workflow's command line does; the
kill tests start real processes. Every run uses one thread so that runs in different processes
do the same arithmetic.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from segsweep.cli import main
from segsweep.config import job_settings, load_config
from segsweep.hardware import ONEDNN_ISA_NAMES
from segsweep.training.state import saved_epochs

HISTORY_COLUMNS = ["epoch", "loss", "val_loss", "val_road_iou", "epoch_seconds", "images_per_second", "learning_rate"]
RUN_KEYS = {
    "dataset", "model", "architecture", "deep_supervision", "augmentation", "seed", "settings", "parameters",
    "epochs_run", "budget", "best_epoch", "best_val_road_iou", "train_seconds", "resumed", "resumed_from_epoch", "attempts",
    "precision", "device", "threads", "floating_point", "devices", "host", "slurm_job_id", "slurm_job_ids", "versions",
    "finished_at",
}  # fmt: skip


@pytest.fixture(scope="module")
def dataset(make_synthetic_split) -> tuple[Path, Path]:
    """(dataset root, split manifest): 10 KITTI-size pairs, 6 of them for training and 2 for validation."""
    return make_synthetic_split(count=10, seed=1, height=375, width=1242)


def write_config(directory: Path, root: Path, **train) -> Path:
    config = {
        "dataset": {"name": "tiny", "format": "kitti_semantics", "root": str(root)},
        "models": ["unet", "unetpp"],
        "augmentations": ["none", "flip_crop"],
        "network": {"filters": [4, 8, 16]},
        "train": {"input_size": [32, 96], "epochs": 1, "batch_size": 2, "threads": 1, **train},
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train_args(
    config: Path, manifest: Path, out: Path, model: str = "unet", aug: str = "none", seed: int = 0
) -> list[str]:
    return [
        "train", "--config", str(config), "--model", model, "--aug", aug, "--manifest", str(manifest),
        "--seed", str(seed), "--threads", "1", "--out-dir", str(out),
    ]  # fmt: skip


def settings_args(settings: dict, manifest: Path, out: Path) -> list[str]:
    return [
        "train",
        "--settings",
        json.dumps(settings),
        "--manifest",
        str(manifest),
        "--seed",
        "0",
        "--out-dir",
        str(out),
    ]


def history(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "history.csv")


def curve(run: Path, writer: str, tag: str) -> tuple[list[int], list[float]]:
    """(steps, values) of a TensorBoard scalar of the run, in the order the events were written."""
    from segsweep.training.callbacks import summary_scalars

    found = summary_scalars(run / "tensorboard", writer, tag)
    return [step for step, _ in found], [value for _, value in found]


# --- outputs ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("model, heads", [("unet", ["head"]), ("unetpp", ["head_1", "head_2"])])
def test_one_epoch_writes_the_documented_outputs(dataset, tmp_path, capsys, monkeypatch, model, heads):
    from segsweep.models import load_model, parameter_count

    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    root, manifest = dataset
    run = tmp_path / "run"
    assert main(train_args(write_config(tmp_path, root), manifest, run, model=model)) == 0

    assert sorted(p.name for p in run.iterdir()) == [
        "history.csv",
        "model.keras",
        "run.json",
        "tensorboard",
    ]  # no state, no partials
    table = history(run)
    assert list(table.columns) == HISTORY_COLUMNS and table["epoch"].tolist() == [1]
    row = table.iloc[0]
    assert math.isfinite(row["loss"]) and math.isfinite(row["val_loss"]) and 0 <= row["val_road_iou"] <= 1
    assert row["learning_rate"] == pytest.approx(0.001) and row["images_per_second"] > 0

    record = json.loads((run / "run.json").read_text())
    assert set(record) == RUN_KEYS
    assert (record["model"], record["architecture"], record["deep_supervision"]) == (model, model, model == "unetpp")
    assert (record["augmentation"], record["seed"], record["precision"]) == ("none", 0, "float32")
    assert (record["epochs_run"], record["best_epoch"], record["best_val_road_iou"]) == (1, 1, row["val_road_iou"])
    assert (record["resumed"], record["resumed_from_epoch"], record["attempts"]) == (False, None, 1)
    assert record["slurm_job_id"] == "4242" and record["device"]["type"] == "CPU" and record["train_seconds"] > 0
    assert set(record["versions"]) == {"tensorflow", "keras", "albumentations", "numpy", "python", "segsweep"}
    assert record["settings"]["model"]["filters"] == [4, 8, 16] and record["budget"] is None
    # What decides the last bits (test_hardware checks the ISA against this CPU's flags).
    fp = record["floating_point"]
    assert (fp["tensorflow"], fp["gpu"]) == (record["versions"]["tensorflow"], None)
    assert fp["isa"] in ONEDNN_ISA_NAMES.values() and fp["onednn"]

    saved = load_model(run / "model.keras")
    assert saved.output_names == heads and record["parameters"] == parameter_count(saved)
    out = capsys.readouterr().out
    assert any(
        line.startswith("epoch 1/1 ") and "val_road_iou" in line and "images/s" in line for line in out.splitlines()
    )


@pytest.mark.slow
def test_a_run_on_patches_validates_and_is_evaluated_on_whole_frames(dataset, tmp_path, capsys):
    """train.patch_size: steps see 16x32 patches, validation and evaluation the whole 32x96 frame,
    through one network built for any size; its training FLOPs are counted at the patch."""
    from segsweep.models import build_model, load_model, training_flops

    root, manifest = dataset
    config = write_config(tmp_path, root, patch_size=[16, 32])
    run, out = tmp_path / "run", tmp_path / "eval"
    assert main(train_args(config, manifest, run, model="unetpp")) == 0
    assert "at 32x96, trained on 16x32 patches" in capsys.readouterr().out
    row = history(run).iloc[0]
    assert math.isfinite(row["val_loss"]) and 0 <= row["val_road_iou"] <= 1
    assert load_model(run / "model.keras").input_shape == (None, None, None, 3)

    evaluate = ["evaluate", "--config", str(config), "--model", "unetpp", "--aug", "none", "--threads", "1"]
    assert (
        main([*evaluate, "--manifest", str(manifest), "--model-file", str(run / "model.keras"), "--out-dir", str(out)])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    settings = job_settings(load_config(config), "unetpp", "none")
    at_patch = training_flops(build_model(settings["model"], (16, 32, 3)))
    assert metrics["training_flops_per_image"] == at_patch
    assert at_patch < training_flops(build_model(settings["model"], (32, 96, 3)))
    assert metrics["speed"]["input_size"] == [32, 96] and 0 <= metrics["pooled"]["iou"] <= 1


def test_train_loss_reaches_every_head_of_the_compiled_model(dataset, tmp_path, monkeypatch):
    import segsweep.training.compiling as compiling

    class Compiled(Exception):
        """Stops the job once compiled: the compiled model is all this test needs, no epoch is trained."""

    compiled = {}
    real = compiling.compile_for_training

    def compile_then_stop(model, *args, **kwargs):
        real(model, *args, **kwargs)
        compiled["losses"] = model.loss
        raise Compiled

    monkeypatch.setattr(compiling, "compile_for_training", compile_then_stop)
    root, manifest = dataset
    config = write_config(tmp_path, root, loss="ce")
    with pytest.raises(Compiled):
        main(train_args(config, manifest, tmp_path / "run", model="unetpp"))
    assert [loss.dice for loss in compiled["losses"]] == [False, False]  # U-Net++'s two heads at depth 3


# --- determinism ------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_same_losses_other_seed_other_losses(dataset, tmp_path):
    root, manifest = dataset
    config = write_config(tmp_path, root, epochs=2)
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        assert main(train_args(config, manifest, tmp_path / name, aug="flip_crop", seed=seed)) == 0
    a, b, c = (history(tmp_path / name)[["loss", "val_loss"]] for name in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.to_numpy(), c.to_numpy())
    # TensorBoard's event files hold the same curves, one event per epoch.
    assert curve(tmp_path / "a", "train", "epoch_loss") == ([1, 2], pytest.approx(a["loss"].tolist()))
    assert curve(tmp_path / "a", "validation", "epoch_loss") == ([1, 2], pytest.approx(a["val_loss"].tolist()))


# The gradients of one training step of a deep-supervised U-Net++ of the CamVid config's size
# (base 8, depth 5, 144x192), set up as a training job is; prints a hash of them. This size
# matters: U-Net++ sums the gradients of tensors that feed 3-4 layers, and without the fixed-order
# sum (segsweep.training.gradient_sum) the hashes of any two processes differed (8 of 8 processes
# at this size; the tests' usual 3-level models have no tensor that feeds more than two layers).
UNETPP_GRADIENTS = """
import hashlib
import numpy as np
from segsweep.training import runtime
runtime.configure(1, 0, True, "float32")
import tensorflow as tf
from segsweep.models import build_model
from segsweep.training.losses import BceDiceLoss
model = build_model({"name": "unetpp", "architecture": "unetpp", "filters": [8, 16, 32, 64, 128],
                     "batch_norm": True, "dropout": 0.0, "deep_supervision": True}, (144, 192, 3))
rng = np.random.default_rng(0)
x = tf.constant(rng.random((8, 144, 192, 3), dtype=np.float32))
road = (rng.random((8, 144, 192)) < 0.3).astype(np.float32)
y = tf.constant(np.stack([road, np.ones_like(road)], axis=-1))

@tf.function
def gradients():
    with tf.GradientTape() as tape:
        loss = tf.add_n([tf.reduce_mean(BceDiceLoss()(y, head)) for head in model(x, training=True)])
    return tape.gradient(loss, model.trainable_variables)

print("gradients", hashlib.sha256(b"".join(g.numpy().tobytes() for g in gradients())).hexdigest())
"""


@pytest.mark.slow
def test_same_seed_unetpp_at_camvid_size_gives_bitwise_identical_gradients_across_processes():
    # Three processes: the order varied between processes, not between calls in one process, and
    # without the fix one pair in three happened to agree.
    digests = set()
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-c", UNETPP_GRADIENTS], cwd=REPO, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stderr[-3000:]
        digests.add(result.stdout.split()[-1])
    assert len(digests) == 1


@pytest.mark.slow
def test_a_run_without_op_determinism_trains_with_xla(dataset, tmp_path):
    # Its own process: op determinism, once on, stays on in a process, and Keras then drops XLA.
    root, manifest = dataset
    config = write_config(tmp_path, root, deterministic=False, jit_compile=True)
    args = [sys.executable, "-m", "segsweep", *train_args(config, manifest, tmp_path / "run")]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "turns XLA off" not in result.stdout
    train = json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["train"]
    assert (train["deterministic"], train["jit_compile"]) == (False, True)
    assert math.isfinite(history(tmp_path / "run")["loss"].iloc[0])


# --- refused inputs ---------------------------------------------------------------------------


def test_help_is_plain_and_does_not_load_tensorflow():
    code = (
        "import sys\nfrom segsweep.cli import main\n"
        "try:\n    main(['train', '--help'])\nexcept SystemExit as exit:\n    assert exit.code == 0\n"
        "print('tensorflow loaded' if 'tensorflow' in sys.modules else 'tensorflow not loaded')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert "--manifest" in result.stdout and "--out-dir" in result.stdout and "resume" in result.stdout.lower()
    assert result.stdout.strip().endswith("tensorflow not loaded")


def refused(args: list[str], capsys) -> str:
    assert main(args) == 2
    return capsys.readouterr().err


def test_batch_larger_than_the_training_split_is_refused(dataset, tmp_path, capsys):
    root, manifest = dataset
    error = refused(train_args(write_config(tmp_path, root, batch_size=7), manifest, tmp_path / "run"), capsys)
    assert "'train.batch_size'" in error and "6 training images" in error and str(manifest) in error
    assert not (tmp_path / "run").exists()


def test_input_size_the_depth_cannot_divide_is_refused(dataset, tmp_path, capsys):
    root, manifest = dataset
    settings = job_settings(load_config(write_config(tmp_path, root)), "unet", "none")
    settings["train"]["input_size"] = [30, 96]  # depth 3: must divide by 4
    error = refused(settings_args(settings, manifest, tmp_path / "run"), capsys)
    assert "'train.input_size'" in error and "30" in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("patch", "words"), [([16, 30], "not divisible"), ([64, 32], "does not fit in train.input_size [32, 96]")]
)
def test_a_patch_the_depth_cannot_divide_or_the_frame_cannot_hold_is_refused(dataset, tmp_path, capsys, patch, words):
    root, manifest = dataset
    settings = job_settings(load_config(write_config(tmp_path, root)), "unet", "none")
    settings["train"]["patch_size"] = patch
    error = refused(settings_args(settings, manifest, tmp_path / "run"), capsys)
    assert "'train.patch_size'" in error and words in error
    assert not (tmp_path / "run").exists()


def test_unknown_transform_is_refused(dataset, tmp_path, capsys):
    root, manifest = dataset
    settings = job_settings(load_config(write_config(tmp_path, root)), "unet", "none")
    settings["augmentation"] = {"name": "mine", "steps": [{"transform": "HorizontalFlip"}, {"transform": "Twirl"}]}
    error = refused(settings_args(settings, manifest, tmp_path / "run"), capsys)
    assert "'mine'" in error and "'Twirl'" in error
    assert not (tmp_path / "run").exists()


def test_a_crop_larger_than_the_frames_is_refused(make_synthetic_split, tmp_path, capsys):
    """flip_crop's 300-370-pixel strips on 96-pixel frames: albumentations would clip them silently."""
    root, manifest = make_synthetic_split(count=10, seed=1, height=96, width=320)
    error = refused(train_args(write_config(tmp_path, root), manifest, tmp_path / "run", aug="flip_crop"), capsys)
    assert "'flip_crop', step 2 (transform 'RandomSizedCrop'): crops up to 370x110 pixels" in error
    assert f"{root}" in error and "(96x320)" in error and "'scale_crop'" in error
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_nan_loss_fails_the_job_and_a_rerun_with_other_settings_starts_over(dataset, tmp_path, capsys):
    root, manifest = dataset
    run = tmp_path / "run"
    error = refused(train_args(write_config(tmp_path, root, learning_rate=1e30, epochs=3), manifest, run), capsys)
    assert "loss became nan at epoch 1" in error and str(run) in error and "'train.learning_rate'" in error
    assert not any((run / name).exists() for name in ("model.keras", "history.csv", "run.json"))
    assert saved_epochs(run) == 0 and (run / "state").is_dir()  # the NaN epoch was not saved

    assert main(train_args(write_config(tmp_path, root, learning_rate=1e-3), manifest, run)) == 0
    out = capsys.readouterr().out
    assert "other settings" in out and "starting over" in out
    record = json.loads((run / "run.json").read_text())
    assert (record["resumed"], record["attempts"]) == (False, 1)


# --- resume after a kill ----------------------------------------------------------------------


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "segsweep", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def signal_after(process: subprocess.Popen, run: Path, epochs: int, signum: int) -> str:
    """Send `signum` as soon as `epochs` epochs are saved; the process must still be training then."""
    deadline = time.monotonic() + 300
    while saved_epochs(run) < epochs:
        assert process.poll() is None, f"the run ended before epoch {epochs} was saved:\n{process.communicate()[0]}"
        assert time.monotonic() < deadline, "no epoch saved in 5 minutes"
        time.sleep(0.01)
    process.send_signal(signum)
    return process.communicate(timeout=120)[0]


@pytest.mark.slow
def test_killed_run_resumes_where_it_stopped_and_matches_an_uninterrupted_one(dataset, tmp_path):
    root, manifest = dataset
    # The schedule is a function of the optimizer's step counter, which the backups hold.
    config = write_config(tmp_path, root, epochs=5, early_stopping_patience=0, lr_schedule="cosine", warmup_epochs=1)
    run, reference = tmp_path / "run", tmp_path / "reference"
    args = train_args(config, manifest, run, aug="flip_crop")
    uninterrupted = subprocess.Popen(  # meanwhile, for comparison
        [sys.executable, "-m", "segsweep", *train_args(config, manifest, reference, aug="flip_crop")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    first = start(args)
    output = signal_after(first, run, 1, signal.SIGTERM)
    assert first.returncode == 143, output
    stopped_at = saved_epochs(run)
    assert stopped_at >= 1 and "stopped by SIGTERM" in output
    assert not any((run / name).exists() for name in ("model.keras", "history.csv", "run.json"))

    second = start(args)
    signal_after(second, run, stopped_at + 1, signal.SIGKILL)
    assert second.returncode == -signal.SIGKILL
    killed_at = saved_epochs(run)
    assert stopped_at < killed_at < 5

    third = start(args)
    output = third.communicate(timeout=300)[0]
    assert third.returncode == 0, output
    assert f"resuming after epoch {killed_at}" in output
    record = json.loads((run / "run.json").read_text())
    assert (record["resumed"], record["resumed_from_epoch"], record["attempts"]) == (True, killed_at, 3)
    assert not (run / "state").exists()

    assert uninterrupted.wait(timeout=300) == 0
    resumed_history, reference_history = history(run), history(reference)
    assert resumed_history["epoch"].tolist() == [1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(
        resumed_history[["epoch", "loss", "val_loss", "val_road_iou", "learning_rate"]],
        reference_history[["epoch", "loss", "val_loss", "val_road_iou", "learning_rate"]],
    )
    rates = resumed_history["learning_rate"].tolist()  # 0.001 after the warm-up, then down the cosine
    assert rates[0] == pytest.approx(0.001) and rates[0] > rates[1] > rates[2] > rates[3] > rates[4] == pytest.approx(0)
    # Three attempts wrote the TensorBoard files: still one event per epoch, the resumed run's values.
    steps, road_iou = curve(run, "validation", "epoch_road_iou")
    assert steps == [1, 2, 3, 4, 5] and road_iou == pytest.approx(resumed_history["val_road_iou"].tolist())
    assert curve(run, "train", "epoch_loss")[0] == [1, 2, 3, 4, 5]
