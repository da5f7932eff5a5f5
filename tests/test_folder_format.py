"""`format: folder`: a user's image and mask folders, paired by stem, checked as the built-in formats are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from segsweep.cli import main
from segsweep.data.folder import dataset_format, folder_format
from segsweep.data.formats import default_group_pattern, find_samples, load_pair, resolve_positive_ids
from segsweep.data.manifest import check_pairs
from segsweep.errors import ConfigError, DataError
from tests.test_data_formats import H, W, class_ids, photo, write_png

GREY, ROAD = (128, 128, 128), (255, 0, 255)


def write_jpeg(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95)
    return path


def flat_photo(index: int) -> np.ndarray:
    """One grey level per pair: JPEG keeps a flat image almost exactly, so the pair stays recognisable."""
    return np.full((H, W, 3), (20 + 40 * index) % 256, np.uint8)


def user_folders(root: Path, stems: list[str], suffix: str = "_mask", road: int = 255) -> Path:
    """JPEG photos in images/, 0/`road` PNG masks in masks/ named {stem}{suffix}.png."""
    for index, stem in enumerate(stems):
        write_jpeg(root / "images" / f"{stem}.jpg", flat_photo(index))
        write_png(root / "masks" / f"{stem}{suffix}.png", class_ids(index, road, 0))
    return root


SETTINGS = {"images": "images", "masks": "masks", "mask_suffix": "_mask"}


def test_jpeg_images_pair_with_suffixed_png_masks_by_stem(tmp_path):
    root = user_folders(tmp_path, ["b", "a", "c"])
    (root / "images" / "notes.txt").write_text("not an image")  # other files are ignored
    fmt = dataset_format({"format": "folder", "folder": SETTINGS})
    samples = find_samples(fmt, root)
    assert [s.stem for s in samples] == ["a", "b", "c"]
    for index, stem in enumerate(["b", "a", "c"]):
        sample = next(s for s in samples if s.stem == stem)
        image, road, valid = load_pair(fmt, sample)
        assert image.shape == (H, W, 3) and image.dtype == np.uint8
        assert np.abs(image.astype(int) - flat_photo(index)).max() <= 2  # a JPEG, close to its photo
        assert np.array_equal(road, (class_ids(index, 255, 0) == 255).astype(np.uint8)) and valid.all()


@pytest.mark.parametrize("road_value", [1, 255])
def test_binary_masks_either_convention_are_road_by_default(tmp_path, road_value):
    root = user_folders(tmp_path, ["a"], road=road_value)
    fmt = folder_format(SETTINGS)
    _, road, _ = load_pair(fmt, find_samples(fmt, root)[0])
    assert road.sum() == W  # class_ids(0, ...) has one road row


def test_globs_and_no_suffix(tmp_path):
    for index, stem in enumerate(["s1_000", "s1_001", "s2_000"]):
        write_png(tmp_path / "data" / f"{stem}.png", photo(index))
        write_png(tmp_path / "data" / f"{stem}.gt.png", class_ids(index, 1, 0))  # stem "{stem}.gt"
    fmt = folder_format(
        {
            "images": "data/s*_[0-9][0-9][0-9].png",
            "masks": "data/*.gt.png",
            "mask_suffix": ".gt",
            "group_pattern": r"^(s\d)_",
        }
    )
    assert [s.stem for s in find_samples(fmt, tmp_path)] == ["s1_000", "s1_001", "s2_000"]
    assert default_group_pattern(fmt) == r"^(s\d)_"


def test_rgb_masks_decode_by_the_colour_map(tmp_path):
    write_jpeg(tmp_path / "images" / "a.jpg", photo(0))
    mask = np.array([GREY, ROAD, (0, 0, 0)], np.uint8)[class_ids(0, 1, 0, void=2)]
    write_png(tmp_path / "masks" / "a.png", mask)
    fmt = folder_format({"images": "images", "masks": "masks", "colours": [list(GREY), list(ROAD), [0, 0, 0]]})
    (sample,) = find_samples(fmt, tmp_path)
    _, road, valid = load_pair(fmt, sample, None, [2])
    assert road.sum() == W and (~valid).sum() == 3
    mask[5, 5] = (254, 0, 255)
    write_png(tmp_path / "masks" / "a.png", mask)
    with pytest.raises(DataError, match=r"masks/a\.png: 1 pixels have colours other than .*\(254, 0, 255\) at row 5"):
        load_pair(fmt, sample)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda root: (root / "masks" / "b_mask.png").unlink(), r"image .*images/b\.jpg has no label"),
        (lambda root: write_png(root / "masks" / "c_mask.png", class_ids(0, 1, 0)), r"label .*masks/c_mask\.png has no image"),
        (lambda root: write_png(root / "masks" / "b.png", class_ids(0, 1, 0)), r"label .*masks/b(_mask)?\.png: pairs with the same image stem 'b' as"),
        (lambda root: write_png(root / "images" / "b.png", photo(0)), r"image .*images/b\.png: the same name is also in"),
        (lambda root: write_jpeg(root / "masks" / "b_mask.jpg", photo(0)), r"mask .*b_mask\.jpg is a JPEG: masks must be lossless.*PNG"),
        (lambda root: write_png(root / "masks" / "b_mask.png", class_ids(0, 1, 0)[:, :-2]),
         r"b_mask\.png: label is 22x16 pixels but its image .*images/b\.jpg is 24x16"),
        (lambda root: write_png(root / "masks" / "b_mask.png", np.zeros((H, W, 3), np.uint8)),
         r"b_mask\.png: label PNG has 8-bit RGB pixels; expected 8-bit single-channel"),
        (lambda root: write_jpeg(root / "images" / "b.jpg", photo(0)[..., 0]), r"images/b\.jpg: image JPEG has L pixels"),
        (lambda root: (root / "images" / "b.jpg").write_bytes(b"\xff\xd8\xff junk"), r"images/b\.jpg: image JPEG is unreadable"),
    ],
)  # fmt: skip
def test_each_bad_input_is_refused_naming_the_file(tmp_path, change, message):
    root = user_folders(tmp_path, ["a", "b"])
    change(root)
    fmt = folder_format(SETTINGS)
    with pytest.raises(DataError, match=message):
        check_pairs(fmt, find_samples(fmt, root), None)


def test_unknown_mask_values_are_refused_naming_the_file(tmp_path):
    root = user_folders(tmp_path, ["a"], road=1)
    fmt = folder_format({**SETTINGS, "classes": 2})
    assert resolve_positive_ids(fmt, None) == [1]
    write_png(root / "masks" / "a_mask.png", class_ids(0, 2, 0))
    with pytest.raises(DataError, match=r"a_mask\.png: label values \[2\] are outside 0\.\.1 of format folder"):
        load_pair(fmt, find_samples(fmt, root)[0])


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        (None, "dataset.folder"),
        ({"images": "images"}, "dataset.folder.masks"),
        ({**SETTINGS, "classes": 300}, "dataset.folder.classes"),
        ({**SETTINGS, "colours": [[0, 0, 0], [0, 0, 0]]}, "dataset.folder.colours"),
        ({**SETTINGS, "colours": [[0, 0], [1, 1, 1]]}, "dataset.folder.colours"),
    ],
)
def test_bad_settings_name_their_key(settings, key):
    with pytest.raises(ConfigError, match=rf"key '{key}'"):
        folder_format(settings)


def test_an_empty_folder_or_glob_is_named(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DataError, match=r"key 'dataset.folder.images': no files in or matching .*images"):
        find_samples(folder_format(SETTINGS), tmp_path)


def test_split_step_writes_a_group_aware_manifest_of_user_folders(tmp_path, capsys):
    stems = [f"{drive}_{n:03d}" for drive in ("d1", "d2", "d3", "d4") for n in range(3)]
    root = user_folders(tmp_path / "data", stems)
    dataset = {"format": "folder", "root": str(root), "folder": {**SETTINGS, "group_pattern": r"^(d\d)_"}}
    out = tmp_path / "split0.csv"
    assert 0 == main(["split", "--settings", json.dumps({"dataset": dataset, "split": {"gap": 0}}), "--out", str(out)])
    manifest = pd.read_csv(out, dtype=str)
    assert list(manifest["stem"]) == stems
    assert set(manifest["image"]) == {str(root / "images" / f"{s}.jpg") for s in stems}
    assert manifest.groupby("group")["split"].nunique().eq(1).all()  # no drive in two splits
    bad = {"dataset": {**dataset, "folder": {"images": "images"}}, "split": {}}
    assert 0 != main(["split", "--settings", json.dumps(bad), "--out", str(out)])
    assert "error: key 'dataset.folder.masks'" in capsys.readouterr().err
