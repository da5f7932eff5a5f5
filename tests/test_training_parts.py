"""Training building blocks without a training run: loss, augmentation, input pipeline, resumable state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from segsweep.config.presets import BUILTIN_PRESETS
from segsweep.errors import ConfigError
from segsweep.training.augment import Augmenter, build_transform
from segsweep.training.state import RunState, fingerprint

KITTI = (375, 1242)
INPUT = (32, 96)
EPS = 1e-7  # keras.config.epsilon(), the loss's probability clip


# --- loss -----------------------------------------------------------------------------------


def bce_dice(road, probability, valid=None) -> np.ndarray:
    """The loss of a batch of images, through Keras (per-image values, not reduced)."""
    from segsweep.training.losses import BceDiceLoss

    road = np.asarray(road, "float32")
    valid = np.ones_like(road) if valid is None else np.asarray(valid, "float32")
    y_true = np.stack([road, valid], axis=-1)
    y_pred = np.asarray(probability, "float32")[..., None]
    return np.asarray(BceDiceLoss().call(y_true, y_pred))


def test_loss_of_an_all_background_mask():
    # BCE = ln 2 per pixel; Dice = (0 + 1) / (0 + 4 * 0.5 + 1) = 1/3.
    loss = bce_dice(np.zeros((1, 2, 2)), np.full((1, 2, 2), 0.5))
    np.testing.assert_allclose(loss, [0.5 * math.log(2) + 2 / 3], rtol=1e-6)


def test_loss_of_an_all_road_mask():
    # p = 0.5: Dice = (2 * 2 + 1) / (4 + 2 + 1) = 5/7. A perfect prediction costs (almost) nothing.
    half = bce_dice(np.ones((1, 2, 2)), np.full((1, 2, 2), 0.5))
    np.testing.assert_allclose(half, [0.5 * math.log(2) + 2 / 7], rtol=1e-6)
    perfect = bce_dice(np.ones((1, 2, 2)), np.ones((1, 2, 2)))
    np.testing.assert_allclose(perfect, [0.0], atol=1e-5)


def test_loss_leaves_void_pixels_out():
    road = [[[1, 0], [0, 0]]]
    valid = [[[1, 1], [0, 1]]]
    # Valid pixels: road p=0.8, background p=0.3 and p=0.1; the void pixel's p must not matter.
    bce = -(math.log(0.8) + math.log(0.7) + math.log(0.9)) / 3
    dice = (2 * 0.8 + 1) / (1 + (0.8 + 0.3 + 0.1) + 1)
    for void_p in (0.9, 0.01):
        loss = bce_dice(road, [[[0.8, 0.3], [void_p, 0.1]]], valid)
        np.testing.assert_allclose(loss, [0.5 * bce + 1 - dice], rtol=1e-5)


def test_loss_ce_is_the_binary_cross_entropy_alone_over_valid_pixels():
    from segsweep.training.losses import BceDiceLoss, segmentation_loss

    road = np.array([[[1, 0], [0, 0]]], "float32")
    valid = np.array([[[1, 1], [0, 1]]], "float32")
    bce = -(math.log(0.8) + math.log(0.7) + math.log(0.9)) / 3
    loss = segmentation_loss(1, loss="ce")
    for void_p in (0.9, 0.01):
        y_pred = np.array([[[0.8, 0.3], [void_p, 0.1]]], "float32")[..., None]
        np.testing.assert_allclose(loss.call(np.stack([road, valid], -1), y_pred), [bce], rtol=1e-5)
    assert BceDiceLoss.from_config(loss.get_config()).dice is False


def test_loss_is_per_image_and_keras_averages_the_batch():
    from segsweep.training.losses import BceDiceLoss

    road = np.stack([np.zeros((2, 2)), np.ones((2, 2))])
    probability = np.full((2, 2, 2), 0.5)
    per_image = bce_dice(road, probability)
    np.testing.assert_allclose(per_image, [0.5 * math.log(2) + 2 / 3, 0.5 * math.log(2) + 2 / 7], rtol=1e-6)
    y_true = np.stack([road, np.ones_like(road)], axis=-1).astype("float32")
    reduced = float(BceDiceLoss()(y_true, probability[..., None].astype("float32")))
    assert reduced == pytest.approx(per_image.mean(), rel=1e-6)


# --- augmentation ---------------------------------------------------------------------------


def blocks(seed: int, shape: tuple[int, int] = KITTI, grid: tuple[int, int] = (5, 9)) -> np.ndarray:
    """A random on/off pattern of large blocks: left-right asymmetric, so a flip shows."""
    cells = np.random.default_rng(seed).integers(0, 2, grid, dtype=np.uint8)
    rows = np.arange(shape[0]) * grid[0] // shape[0]
    cols = np.arange(shape[1]) * grid[1] // shape[1]
    return cells[rows][:, cols]


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def follows(image_channel: np.ndarray, mask: np.ndarray) -> bool:
    """The mask equals the thresholded image except next to an edge of the mask.

    Images are resampled bilinearly and masks by nearest neighbour, so they may differ by a pixel
    at an edge; a transform applied to one and not the other moves whole blocks.
    """
    padded = np.pad(mask, 1, mode="edge")
    neighbours = [
        padded[1 + dy : 1 + dy + mask.shape[0], 1 + dx : 1 + dx + mask.shape[1]]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    ]
    edge = np.max(neighbours, axis=0) != np.min(neighbours, axis=0)
    return bool(np.all(((image_channel > 127) == (mask == 1)) | edge)) and edge.mean() < 0.5


def test_augmentation_moves_image_road_and_valid_together():
    road, valid = blocks(1), blocks(2).astype(bool)
    # The image is drawn from the masks: red = road, green = valid. After any geometric transform
    # the masks must still be what the image shows (up to interpolation at block edges).
    image = np.stack([road * 255, valid * 255, np.zeros_like(road)], axis=-1).astype(np.uint8)
    augment = Augmenter(BUILTIN_PRESETS["flip_crop"], "flip_crop", INPUT, seed=0)
    resized = build_transform([], "none", INPUT)(image=image, mask=road, valid=valid.view(np.uint8))["mask"]
    changed = 0
    for index in range(12):
        out_image, out_road, out_valid = augment(image, road, valid, epoch=0, index=index)
        assert out_image.shape == (*INPUT, 3) and out_road.shape == out_valid.shape == INPUT
        assert set(np.unique(out_road)) <= {0, 1} and set(np.unique(out_valid)) <= {0, 1}
        assert follows(out_image[..., 0], out_road) and follows(out_image[..., 1], out_valid)
        changed += agreement(out_road, resized) < 0.9
    assert changed >= 3, "flip_crop changed the geometry of too few of 12 samples"


def test_a_patch_is_a_window_of_the_resized_frame_at_a_seeded_place():
    """train.patch_size cuts after the resize, so objects keep the scale evaluation shows them at:
    each patch, image and masks alike, is found whole in the resized frame; the places vary with the
    index and repeat with the seed."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*KITTI, 3), dtype=np.uint8)  # random pixels: a window matches in one place only
    road, valid = blocks(1), blocks(2).astype(bool)
    frame = build_transform([], "none", INPUT)(image=image, mask=road, valid=valid.view(np.uint8))
    patch = (16, 32)
    augment = Augmenter([], "none", INPUT, seed=3, patch_size=patch)
    assert augment.output_size == patch
    places = set()
    for index in range(8):
        out_image, out_road, out_valid = augment(image, road, valid, epoch=0, index=index)
        assert out_image.shape == (*patch, 3) and out_road.shape == out_valid.shape == patch
        found = [
            (top, left)
            for top in range(INPUT[0] - patch[0] + 1)
            for left in range(INPUT[1] - patch[1] + 1)
            if np.array_equal(frame["image"][top : top + patch[0], left : left + patch[1]], out_image)
        ]
        assert len(found) == 1, found
        (top, left), window = (
            found[0],
            np.s_[found[0][0] : found[0][0] + patch[0], found[0][1] : found[0][1] + patch[1]],
        )
        np.testing.assert_array_equal(out_road, frame["mask"][window])
        np.testing.assert_array_equal(out_valid, frame["valid"][window])
        places.add((top, left))
        again = Augmenter([], "none", INPUT, seed=3, patch_size=patch)(image, road, valid, epoch=0, index=index)
        np.testing.assert_array_equal(again[0], out_image)
    assert len(places) >= 4


def test_augmentation_depends_only_on_seed_epoch_and_index():
    image = np.random.default_rng(0).integers(0, 256, (*KITTI, 3), dtype=np.uint8)
    road, valid = blocks(3), np.ones(KITTI, bool)
    augment = Augmenter(BUILTIN_PRESETS["flip_crop"], "flip_crop", INPUT, seed=5)
    again = Augmenter(BUILTIN_PRESETS["flip_crop"], "flip_crop", INPUT, seed=5)
    other_seed = Augmenter(BUILTIN_PRESETS["flip_crop"], "flip_crop", INPUT, seed=6)
    calls = [(epoch, index) for epoch in range(3) for index in range(4)]
    first = [augment(image, road, valid, *call)[0] for call in calls]
    assert all(np.array_equal(a, again(image, road, valid, *call)[0]) for a, call in zip(first, calls))
    distinct = {a.tobytes() for a in first}
    assert len(distinct) > 3, "different epochs and samples should get different random transforms"
    assert any(not np.array_equal(a, other_seed(image, road, valid, *call)[0]) for a, call in zip(first, calls))


@pytest.mark.parametrize(
    "step, message",
    [
        ({"transform": "NoSuchFlip"}, "'NoSuchFlip'"),
        ({"transform": "Compose"}, "'Compose'"),
        ({"transform": "HorizontalFlip", "probability": 0.5}, "probability"),
        ({"transform": "RandomSizedCrop", "min_max_height": "tall"}, "min_max_height"),
    ],
)
def test_bad_preset_steps_are_refused_naming_preset_and_transform(step, message):
    with pytest.raises(ConfigError) as error:
        Augmenter([{"transform": "VerticalFlip"}, step], "my_preset", INPUT, seed=0)
    text = str(error.value)
    assert "'my_preset'" in text and "step 2" in text and step["transform"] in text and message in text
    assert "\n" not in text


def test_crops_are_checked_against_the_frames_they_would_cut(make_synthetic_split):
    """flip_crop fits KITTI-size frames (375x1242) and not 96x320 ones; scale_crop, in fractions of the
    frame, fits both. The refusal as a user sees it: test_training_runs."""
    from segsweep.config.presets import BUILTIN_PRESETS
    from segsweep.data.manifest import manifest_samples, read_manifest

    kitti, small = (
        manifest_samples(read_manifest(make_synthetic_split(height=h, width=w)[1]), "train")
        for h, w in ((375, 1242), (96, 320))
    )
    Augmenter(BUILTIN_PRESETS["flip_crop"], "flip_crop", INPUT, seed=0).check_frames(kitti)
    Augmenter(BUILTIN_PRESETS["scale_crop"], "scale_crop", INPUT, seed=0).check_frames(small)
    with pytest.raises(ConfigError, match=r"crops up to 370x110 pixels, larger than training frame .* \(96x320\)"):
        Augmenter(BUILTIN_PRESETS["flip_crop"], "flip_crop", INPUT, seed=0).check_frames(small)


# --- input pipeline -------------------------------------------------------------------------


def constant_split(n: int, shape: tuple[int, int] = (40, 128)):
    """Images whose pixels all equal 10 * (index + 1): a batch says which samples it holds."""
    from segsweep.training.pipeline import DecodedSplit

    return DecodedSplit(
        stems=[f"s{i}" for i in range(n)],
        images=[np.full((*shape, 3), 10 * (i + 1), np.uint8) for i in range(n)],
        roads=[np.full(shape, i % 2, np.uint8) for i in range(n)],
        valids=[np.ones(shape, bool) for i in range(n)],
    )


def sample_ids(x) -> list[int]:
    return [round(v * 255 / 10) - 1 for v in np.asarray(x)[:, 0, 0, 0]]


def test_training_stream_reshuffles_each_epoch_and_can_start_at_any_epoch():
    from segsweep.training.pipeline import train_dataset

    data = constant_split(7)
    augment = Augmenter([{"transform": "HorizontalFlip", "p": 0.5}], "flip", INPUT, seed=0)
    stream, steps = train_dataset(data, augment, batch_size=2, seed=3, heads=2, threads=1)
    assert steps == 3
    batches = list(stream.take(3 * steps).as_numpy_iterator())
    x, targets = batches[0]
    assert x.dtype == np.float32 and x.shape == (2, *INPUT, 3) and 0 <= x.min() and x.max() <= 1
    assert len(targets) == 2 and targets[0].shape == (2, *INPUT, 2)
    epochs = [sum((sample_ids(b[0]) for b in batches[e * steps : (e + 1) * steps]), []) for e in range(3)]
    for ids in epochs:
        assert len(set(ids)) == 6 and set(ids) <= set(range(7))  # 6 distinct of 7: the remainder is left out
    assert epochs[0] != epochs[1]
    for ids, x_road in ((sample_ids(b[0]), b[1][0][..., 0]) for b in batches):
        assert [int(r.max()) for r in x_road] == [i % 2 for i in ids]  # targets travel with their image

    resumed, _ = train_dataset(data, augment, batch_size=2, seed=3, start_epoch=2, heads=2, threads=1)
    for expected, got in zip(batches[2 * steps :], resumed.take(steps).as_numpy_iterator()):
        np.testing.assert_array_equal(expected[0], got[0])
        np.testing.assert_array_equal(expected[1][0], got[1][0])
    other, _ = train_dataset(data, augment, batch_size=2, seed=4, heads=2, threads=1)
    other_ids = [sample_ids(b[0]) for b in other.take(3 * steps).as_numpy_iterator()]
    assert sum(other_ids, []) != sum(epochs, [])


def test_validation_data_is_resized_only():
    from segsweep.training.pipeline import resize_split, validation_dataset

    data = constant_split(3)
    images, targets = resize_split(data, INPUT)
    assert images.shape == (3, *INPUT, 3) and targets.shape == (3, *INPUT, 2)
    assert [int(v) for v in images[:, 0, 0, 0]] == [10, 20, 30]
    np.testing.assert_array_equal(targets[..., 0].max(axis=(1, 2)), [0, 1, 0])
    batches = list(validation_dataset(images, targets, batch_size=2).as_numpy_iterator())
    assert [b[0].shape[0] for b in batches] == [2, 1]
    np.testing.assert_allclose(batches[0][0], images[:2] / 255, rtol=1e-6)


# --- resumable state ------------------------------------------------------------------------


def fake_state(run_dir, print_key: str, backup_epoch: int, history_rows: int, best_epochs: list[int]) -> None:
    """A state as a killed run leaves it: rows, checkpoints and a half-written backup may be ahead
    of the last complete backup, and the one before it may not be removed yet."""
    state = run_dir / "state"
    (state / "backup").mkdir(parents=True)
    for epoch in (backup_epoch - 1, backup_epoch):
        (state / "backup" / f"epoch{epoch:03d}.weights.h5").write_bytes(b"weights")
    (state / "backup" / f".epoch{backup_epoch + 1:03d}.partial-0123456789ab.weights.h5").write_bytes(b"half")
    rows = "".join(f"{e},0.5,{0.1 * e}\n" for e in range(history_rows))
    (state / "history.csv").write_text("epoch,loss,val_road_iou\n" + rows)
    for epoch in best_epochs:
        (state / f"best-epoch{epoch:03d}.keras").write_bytes(b"model")
    record = {"fingerprint": print_key, "attempts": 2, "seconds": 7.0, "resumed_from_epoch": 1}
    (state / "record.json").write_text(json.dumps(record))


def test_state_resumes_at_the_backup_and_drops_what_is_ahead_of_it(tmp_path):
    fake_state(tmp_path, "abc", backup_epoch=2, history_rows=3, best_epochs=[1, 3])
    logged = []
    state = RunState.open(tmp_path, "abc", logged.append)
    assert (state.completed_epochs, state.attempts, state.resumed_from_epoch) == (2, 3, 2)
    assert [row["val_road_iou"] for row in state.rows] == [0.0, 0.1]
    assert state.best_checkpoint() == (1, tmp_path / "state" / "best-epoch001.keras")
    assert not (tmp_path / "state" / "best-epoch003.keras").exists()
    assert [p.name for p in (tmp_path / "state" / "backup").iterdir() if p.name.startswith(".")] == []
    assert state.seconds >= 7.0 and logged == []
    assert len((tmp_path / "state" / "history.csv").read_text().splitlines()) == 3  # header + 2 rows


def test_backup_restores_weights_and_optimizer_and_a_half_written_one_is_ignored(tmp_path):
    import keras

    from segsweep.training.state import saved_epochs

    def compiled(seed: int) -> keras.Model:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
        return model

    trained = compiled(seed=0)
    trained.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=2, verbose=0)
    state = RunState.open(tmp_path, "abc")
    state.history_path.write_text("epoch,loss,val_road_iou\n0,1.0,0.1\n1,0.9,0.2\n")  # CSVLogger's rows
    state.commit_epoch(trained, 2)
    half = state.backup_dir / ".epoch003.partial-0123456789ab.weights.h5"
    half.write_bytes(b"\x89HDF\r\n")  # a kill in the middle of the next backup
    assert saved_epochs(tmp_path) == 2

    state = RunState.open(tmp_path, "abc")
    assert state.completed_epochs == 2 and not half.exists()
    restored = compiled(seed=1)
    assert not np.allclose(restored.get_weights()[0], trained.get_weights()[0])
    state.restore(restored)
    for mine, theirs in zip(restored.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert int(restored.optimizer.iterations) == int(trained.optimizer.iterations) == 2
    for mine, theirs in zip(restored.optimizer.variables, trained.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def test_state_of_other_settings_is_not_reused(tmp_path):
    fake_state(tmp_path, "abc", backup_epoch=2, history_rows=2, best_epochs=[2])
    logged = []
    state = RunState.open(tmp_path, "other", logged.append)
    assert (state.completed_epochs, state.attempts, state.resumed_from_epoch) == (0, 1, None)
    assert not (tmp_path / "state" / "backup").exists()
    assert len(logged) == 1 and "starting over" in logged[0] and "other settings" in logged[0]


def test_early_stopping_decision_before_fit_agrees_with_keras_replay():
    from types import SimpleNamespace

    from segsweep.training.callbacks import ResumedEarlyStopping, stopped_early

    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = [float(s) for s in rng.choice([0.0, 0.1, 0.2, 0.3], size=8)]  # ties happen
        patience = int(rng.integers(1, 4))
        for end in range(1, len(scores) + 1):
            replay = ResumedEarlyStopping(scores[:end], monitor="val_road_iou", mode="max", patience=patience)
            replay.set_model(SimpleNamespace(stop_training=False))
            replay.on_train_begin()
            assert stopped_early(scores[:end], patience) == replay.model.stop_training, (scores[:end], patience)
            if replay.model.stop_training:
                break  # a real run ends at its first stop
    assert not stopped_early([0.1, 0.0, 0.0], 0)  # patience 0: no early stopping


def test_fingerprint_covers_settings_seed_and_manifest(tmp_path):
    manifest = tmp_path / "split.csv"
    manifest.write_text("stem,split,image,label\n")
    base = fingerprint({"train": {"epochs": 2}}, 0, manifest)
    assert fingerprint({"train": {"epochs": 2}}, 0, manifest) == base
    assert fingerprint({"train": {"epochs": 3}}, 0, manifest) != base
    assert fingerprint({"train": {"epochs": 2}}, 1, manifest) != base
    manifest.write_text("stem,split,image,label\na,train,x,y\n")
    assert fingerprint({"train": {"epochs": 2}}, 0, manifest) != base


# --- TensorBoard ------------------------------------------------------------------------------


def epoch_row(epoch: int) -> dict[str, float]:
    """A history row as CSVLogger writes it (0-based epoch), with values that tell epochs apart."""
    return {
        "epoch": epoch - 1,
        "loss": 1.0 / epoch,
        "val_loss": 2.0 / epoch,
        "val_road_iou": 0.1 * epoch,
        "learning_rate": 0.001,
    }


def test_summaries_fill_in_committed_epochs_the_files_lack_and_never_repeat_one(tmp_path):
    from segsweep.training.callbacks import EpochSummaries, summary_scalars

    directory = tmp_path / "tensorboard"
    first = EpochSummaries(directory, [])  # attempt 1: epoch 1 committed and written, then
    first.on_train_begin()
    first.on_epoch_end(0, {key: value for key, value in epoch_row(1).items() if key != "epoch"})
    first.on_train_end()  # ... epoch 2 committed, killed before its summary was written
    resumed = EpochSummaries(directory, [epoch_row(1), epoch_row(2)])  # attempt 2 resumes after epoch 2
    resumed.on_train_begin()
    resumed.on_epoch_end(2, {key: value for key, value in epoch_row(3).items() if key != "epoch"})
    resumed.on_train_end()

    def curve(writer: str, tag: str) -> tuple[list[int], list[float]]:
        steps, values = zip(*summary_scalars(directory, writer, tag))
        return list(steps), list(values)

    assert curve("train", "epoch_loss") == ([1, 2, 3], pytest.approx([1.0, 0.5, 1 / 3]))  # each epoch once
    assert curve("validation", "epoch_loss") == ([1, 2, 3], pytest.approx([2.0, 1.0, 2 / 3]))
    assert curve("validation", "epoch_road_iou") == ([1, 2, 3], pytest.approx([0.1, 0.2, 0.3]))
    assert curve("train", "epoch_learning_rate")[0] == [1, 2, 3]
    # TensorBoard's own reader sees the same: one event per epoch.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(str(directory / "validation"))
    reader.Reload()
    assert [event.step for event in reader.Tensors("epoch_road_iou")] == [1, 2, 3]


def test_a_summary_record_cut_short_by_a_kill_is_skipped(tmp_path):
    from segsweep.training.callbacks import EpochSummaries, summary_scalars

    directory = tmp_path / "tensorboard"
    summaries = EpochSummaries(directory, [])
    summaries.on_epoch_end(0, {"loss": 1.0})
    summaries.on_epoch_end(1, {"loss": 0.5})
    summaries.on_train_end()
    (events,) = (directory / "train").glob("events.out.tfevents.*")
    events.write_bytes(events.read_bytes()[:-7])
    assert summary_scalars(directory, "train", "epoch_loss") == [(1, 1.0)]


# --- learning-rate schedule, head weights, the CamVid recipe's wiring --------------------------


def schedule_rates(steps: list[int], **train) -> list[float]:
    import keras

    from segsweep.training.schedule import learning_rate

    train = {"learning_rate": 0.002, "lr_schedule": "cosine", "warmup_epochs": 1, "epochs": 5, **train}
    rate = learning_rate(train, steps_per_epoch=10)
    return [float(keras.ops.convert_to_numpy(rate(step))) for step in steps]


def test_cosine_schedule_warms_up_linearly_then_falls_to_zero_by_the_last_epoch():
    # 10 steps an epoch: warm-up over steps 0..10, then half a cosine over the 40 steps of epochs 2-5.
    rates = schedule_rates([0, 5, 10, 30, 50])
    assert rates == pytest.approx([0.0, 0.001, 0.002, 0.002 * 0.5 * (1 + math.cos(math.pi * 20 / 40)), 0.0], abs=1e-9)


def test_constant_schedule_is_the_rate_itself_or_a_warm_up_then_the_rate():
    from segsweep.training.schedule import learning_rate

    assert (
        learning_rate({"learning_rate": 0.001, "lr_schedule": "constant", "warmup_epochs": 0, "epochs": 3}, 10) == 0.001
    )
    assert schedule_rates([0, 5, 10, 25, 49], lr_schedule="constant") == pytest.approx(
        [0.0, 0.001, 0.002, 0.002, 0.002]
    )


def test_warm_up_as_long_as_training_is_refused_naming_the_key():
    from segsweep.training.schedule import learning_rate

    with pytest.raises(ConfigError, match=r"train\.warmup_epochs.*5 warm-up epochs.*5 'train\.epochs'"):
        learning_rate({"learning_rate": 0.001, "lr_schedule": "cosine", "warmup_epochs": 5, "epochs": 5}, 10)


def test_head_weights_go_to_deep_supervised_unetpp_only_one_per_head():
    from segsweep.config.checks import deep_supervision_weights

    unetpp = {"architecture": "unetpp", "filters": [8, 16, 32, 64, 128], "deep_supervision": True}
    train = {"deep_supervision_weights": [0.25, 0.5, 0.75, 1]}
    assert deep_supervision_weights(train, unetpp) == [0.25, 0.5, 0.75, 1.0]
    assert deep_supervision_weights(train, {**unetpp, "architecture": "unet"}) is None
    assert deep_supervision_weights(train, {**unetpp, "deep_supervision": False}) is None
    assert deep_supervision_weights({"deep_supervision_weights": None}, unetpp) is None
    with pytest.raises(ConfigError, match=r"deep_supervision_weights': 4 weights for the 2 heads"):
        deep_supervision_weights(train, {**unetpp, "filters": [8, 16, 32]})


def test_random_resized_crop_keeps_the_input_aspect_so_crops_are_fractions_of_the_frame_height():
    import albumentations as A

    compose = build_transform([{"transform": "RandomResizedCrop", "scale": [0.36, 1.0]}], "p", (144, 192))
    (crop,) = [t for t in compose.transforms if isinstance(t, A.RandomResizedCrop)]
    assert crop.ratio == pytest.approx((192 / 144, 192 / 144)) and tuple(crop.size) == (144, 192)
    # On a 360x480 CamVid frame: the crop's height is 60-100% of the frame's, its width in proportion.
    frame = np.zeros((360, 480, 3), np.uint8)
    for index in range(40):
        params = crop.get_params_dependent_on_data({"shape": frame.shape}, {"image": frame})
        x_min, y_min, x_max, y_max = params["crop_coords"]
        height, width = y_max - y_min, x_max - x_min
        assert 0.6 * 360 - 1 <= height <= 360 and width == pytest.approx(height * 4 / 3, abs=2), (index, params)


def test_camvid_config_trains_with_the_cosine_schedule_scale_crops_and_weighted_heads(tmp_path):
    """The recipe's keys reach the job settings the trainer reads (no training: the IoU is docs/results.md's)."""
    import yaml

    from conftest import shipped_config
    from segsweep.config import job_settings, load_config
    from segsweep.config.checks import deep_supervision_weights

    config = shipped_config("camvid.yaml")
    config["dataset"]["root"] = str(tmp_path)  # the wiring, not the data
    (tmp_path / "camvid.yaml").write_text(yaml.safe_dump(config))
    config = load_config(tmp_path / "camvid.yaml")
    assert config["augmentations"] == ["scale_crop"]
    for model in config["models"]:
        settings = job_settings(config, model, "scale_crop")
        train = settings["train"]
        assert (train["lr_schedule"], train["warmup_epochs"]) == ("cosine", 1) and train["epochs"] > train[
            "warmup_epochs"
        ]
        assert settings["augmentation"]["steps"] == BUILTIN_PRESETS["scale_crop"]
        weights = deep_supervision_weights(train, settings["model"])
        assert weights == (None if model == "unet" else [0.25, 0.5, 0.75, 1.0])
    rates = schedule_rates([0, 10, 10 * train["epochs"]], epochs=train["epochs"], learning_rate=train["learning_rate"])
    assert rates == pytest.approx([0.0, train["learning_rate"], 0.0], abs=1e-9)


def test_validation_iou_is_pooled_at_each_image_own_resolution_without_void():
    """A model that calls everything road: pooled IoU = road pixels / valid pixels, summed over images."""
    import keras

    from segsweep.training.callbacks import ValidationRoadIoU
    from segsweep.training.pipeline import DecodedSplit

    image = keras.Input((16, 16, 3))
    everything_road = keras.layers.Conv2D(
        1, 1, activation="sigmoid", kernel_initializer="zeros", bias_initializer="ones"
    )
    model = keras.Model(image, everything_road(image))
    rng = np.random.default_rng(0)
    shapes = [(30, 40), (18, 50)]  # unlike each other and the input size
    roads = [rng.random(shape) < 0.4 for shape in shapes]
    valids = [rng.random(shape) < 0.8 for shape in shapes]
    validation = DecodedSplit(["a", "b"], [np.zeros((*shape, 3), np.uint8) for shape in shapes], roads, valids)
    logs = {}
    ValidationRoadIoU(model, validation, (16, 16), 0.5, batch_size=1).on_epoch_end(0, logs)
    expected = sum(np.sum(r & v) for r, v in zip(roads, valids)) / sum(np.sum(v) for v in valids)
    assert logs == {"val_road_iou": pytest.approx(expected)}
