"""Finding, pairing, decoding and checking the three dataset formats."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segsweep.data.formats import (
    Sample,
    default_group_pattern,
    default_positive_ids,
    default_void_ids,
    find_samples,
    load_pair,
    resolve_positive_ids,
    resolve_void_ids,
)
from segsweep.errors import DataError, UserError
from segsweep.evaluation.metrics import confusion_counts

H, W = 16, 24
MAGENTA, RED, BLACK = (255, 0, 255), (255, 0, 0), (0, 0, 0)


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def raw_png(path: Path, array: np.ndarray, colour_type: int) -> Path:
    """A PNG written by hand, for pixel formats Pillow cannot save (16-bit RGB)."""
    depth = array.dtype.itemsize * 8
    height, width = array.shape[:2]
    rows = b"".join(b"\x00" + row.astype(array.dtype.newbyteorder(">")).tobytes() for row in array)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


def photo(index: int) -> np.ndarray:
    """A noisy image whose first pixel says which pair it belongs to."""
    image = np.random.default_rng(index).integers(0, 256, (H, W, 3), dtype=np.uint8)
    image[0, 0] = index
    return image


def class_ids(index: int, road: int, other: int, void: int | None = None) -> np.ndarray:
    """Labels with `index + 1` road rows at the bottom, so each pair is recognisable."""
    label = np.full((H, W), other, np.uint8)
    label[H - 1 - index :] = road
    if void is not None:
        label[0, :3] = void
    return label


def kitti_semantics(root: Path, stems: list[str]) -> Path:
    for index, stem in enumerate(stems):
        write_png(root / "training" / "image_2" / f"{stem}.png", photo(index))
        write_png(root / "training" / "semantic" / f"{stem}.png", class_ids(index, 7, 8, void=0))
    return root


def kitti_road(root: Path, stems: list[str]) -> Path:
    for index, stem in enumerate(stems):
        category, number = stem.rsplit("_", 1)
        write_png(root / "training" / "image_2" / f"{stem}.png", photo(index))
        gt = np.array([RED, MAGENTA, BLACK], np.uint8)[class_ids(index, 1, 0, void=2)]
        write_png(root / "training" / "gt_image_2" / f"{category}_road_{number}.png", gt)
        write_png(root / "training" / "gt_image_2" / f"{category}_lane_{number}.png", gt)
    return root


def camvid(root: Path, subsets: dict[str, list[str]]) -> Path:
    index = 0
    for subset, stems in subsets.items():
        for stem in stems:
            write_png(root / subset / f"{stem}.png", photo(index))
            write_png(root / f"{subset}annot" / f"{stem}.png", class_ids(index, 3, 1, void=11))
            index += 1
    return root


def check_pairing(fmt: str, samples: list[Sample], expected_stems: list[str]) -> None:
    """Each image came with its own label: the photo's index equals the label's road rows - 1."""
    assert [s.stem for s in samples] == expected_stems
    for sample in samples:
        image, road, _ = load_pair(fmt, sample)
        assert int(image[0, 0, 0]) == int(road[:, -1].sum()) - 1, sample


def test_kitti_semantics_road_is_id_7_and_unlabelled_is_void(tmp_path: Path) -> None:
    root = kitti_semantics(tmp_path, ["000000_10", "000001_10"])
    samples = find_samples("kitti_semantics", root)
    check_pairing("kitti_semantics", samples, ["000000_10", "000001_10"])
    image, road, valid = load_pair("kitti_semantics", samples[1], None)
    label = np.asarray(Image.open(samples[1].label))
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    assert road.dtype == np.uint8 and valid.dtype == bool
    np.testing.assert_array_equal(road, label == 7)
    np.testing.assert_array_equal(valid, label != 0)
    assert samples[0].subset is None


def test_kitti_road_decodes_colours_and_ignores_lane_masks(tmp_path: Path) -> None:
    root = kitti_road(tmp_path, ["um_000000", "uu_000001"])
    samples = find_samples("kitti_road", root)
    check_pairing("kitti_road", samples, ["um_000000", "uu_000001"])
    assert samples[0].label.name == "um_road_000000.png"
    _, road, valid = load_pair("kitti_road", samples[0], None)
    gt = np.asarray(Image.open(samples[0].label))
    np.testing.assert_array_equal(road, (gt == MAGENTA).all(-1))
    np.testing.assert_array_equal(valid, ~(gt == BLACK).all(-1))


def test_camvid_keeps_its_folders_and_class_11_is_void(tmp_path: Path) -> None:
    root = camvid(tmp_path, {"train": ["b", "c"], "val": ["a"], "test": ["d"]})
    samples = find_samples("camvid", root)
    assert [(s.stem, s.subset) for s in samples] == [("a", "val"), ("b", "train"), ("c", "train"), ("d", "test")]
    check_pairing("camvid", samples, ["a", "b", "c", "d"])
    _, road, valid = load_pair("camvid", samples[0], None)
    label = np.asarray(Image.open(samples[0].label))
    np.testing.assert_array_equal(road, label == 3)
    np.testing.assert_array_equal(valid, label != 11)


def test_pairs_by_stem_when_image_and_label_sort_orders_differ(tmp_path: Path) -> None:
    # Images sort um_000000 < um_a_000000, but their labels sort um_a_road_... < um_road_...
    stems = ["um_000000", "um_a_000000"]
    root = kitti_road(tmp_path, stems)
    labels = sorted(p.name for p in (root / "training" / "gt_image_2").glob("*_road_*"))
    assert labels == ["um_a_road_000000.png", "um_road_000000.png"]
    check_pairing("kitti_road", find_samples("kitti_road", root), stems)


def test_a_missing_label_is_named_and_does_not_shift_the_pairs(tmp_path: Path) -> None:
    root = kitti_semantics(tmp_path, ["a", "b", "c"])
    (root / "training" / "semantic" / "b.png").unlink()
    with pytest.raises(DataError, match=r"image .*image_2/b\.png has no label"):
        find_samples("kitti_semantics", root)


def test_a_label_without_image_is_named(tmp_path: Path) -> None:
    root = camvid(tmp_path, {"train": ["a", "b"], "val": ["c"]})
    (root / "val" / "c.png").unlink()
    with pytest.raises(DataError, match=r"label .*valannot/c\.png has no image"):
        find_samples("camvid", root)


def test_camvid_refuses_a_name_in_two_folders(tmp_path: Path) -> None:
    root = camvid(tmp_path, {"train": ["a", "b"], "val": ["b"]})
    with pytest.raises(DataError, match="same name"):
        find_samples("camvid", root)


@pytest.mark.parametrize(
    ("fmt", "prepare", "message"),
    [
        ("kitti_semantics", lambda root: root.mkdir(), "missing folder .*training/image_2"),
        ("kitti_semantics", lambda root: None, "does not exist"),
        ("camvid", lambda root: (root / "somewhere").mkdir(parents=True), "no CamVid folders"),
        ("kitti_road", lambda root: [(root / "training" / d).mkdir(parents=True) for d in ("image_2", "gt_image_2")],
         "no .png images"),
        ("camvid", lambda root: (root / "train").mkdir(parents=True), "missing folder .*trainannot"),
    ],
)  # fmt: skip
def test_missing_or_empty_folders_are_refused(tmp_path: Path, fmt: str, prepare: Callable, message: str) -> None:
    root = tmp_path / "data"
    prepare(root)
    with pytest.raises(DataError, match=message):
        find_samples(fmt, root)


def _zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[60:] = bytes(len(data) - 60)
    path.write_bytes(bytes(data))


def _jpeg(path: Path) -> None:
    Image.open(path).convert("RGB").save(path, format="JPEG")


def _gray(path: Path) -> None:
    Image.open(path).convert("L").save(path)


def _rgba(path: Path) -> None:
    Image.open(path).convert("RGBA").save(path)


def _deep_rgb(path: Path) -> None:
    raw_png(path, np.asarray(Image.open(path)).astype(np.uint16) * 257, colour_type=2)


def _deep_label(path: Path) -> None:
    Image.fromarray(np.asarray(Image.open(path)).astype(np.uint16) * 256).save(path)


def _colour_label(path: Path) -> None:
    Image.open(path).convert("RGB").save(path)


def _set_pixel(value) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        array = np.array(Image.open(path))
        array[3, 5] = value
        Image.fromarray(array).save(path)

    return change


def _resize(path: Path) -> None:
    Image.open(path).resize((W + 2, H)).save(path)


@pytest.mark.parametrize(
    ("fmt", "which", "damage", "message"),
    [
        ("kitti_semantics", "image", _zero_bytes, r"empty \(0 bytes\)"),
        ("kitti_semantics", "label", _zero_bytes, r"empty \(0 bytes\)"),
        ("kitti_semantics", "image", _truncate, "truncated or corrupt"),
        ("camvid", "label", _truncate, "truncated or corrupt"),
        ("kitti_road", "label", _truncate, "truncated or corrupt"),
        ("kitti_semantics", "image", _garble, "truncated or corrupt"),
        ("kitti_semantics", "image", _jpeg, "is a JPEG"),
        ("camvid", "label", _jpeg, "is a JPEG"),
        ("kitti_semantics", "image", _gray, "8-bit grayscale pixels; expected 8-bit RGB"),
        ("camvid", "image", _rgba, "8-bit RGBA pixels; expected 8-bit RGB"),
        ("kitti_road", "image", _deep_rgb, "16-bit RGB pixels; expected 8-bit RGB"),
        ("kitti_semantics", "label", _deep_label, "16-bit grayscale pixels; expected 8-bit single-channel"),
        ("kitti_semantics", "label", _colour_label, "8-bit RGB pixels; expected 8-bit single-channel"),
        ("kitti_semantics", "label", _set_pixel(34), r"label values \[34\] are outside 0..33"),
        ("kitti_semantics", "label", _set_pixel(255), r"label values \[255\] are outside 0..33"),
        ("camvid", "label", _set_pixel(12), r"label values \[12\] are outside 0..11"),
        ("kitti_road", "label", _set_pixel((0, 255, 0)), r"\(0, 255, 0\) at row 3, column 5"),
        ("kitti_road", "label", _set_pixel((254, 0, 255)), "colours other than road magenta"),
        ("kitti_semantics", "label", _resize, rf"label is {W + 2}x{H} pixels but its image .* is {W}x{H}"),
        ("camvid", "image", _resize, rf"label is {W}x{H} pixels but its image .* is {W + 2}x{H}"),
    ],
)
def test_bad_files_are_refused_naming_the_file(
    tmp_path: Path, fmt: str, which: str, damage: Callable[[Path], None], message: str
) -> None:
    make = {"kitti_semantics": kitti_semantics, "kitti_road": kitti_road}.get(fmt)
    root = make(tmp_path, ["um_000000", "um_000001"]) if make else camvid(tmp_path, {"train": ["x", "y"]})
    good, bad = find_samples(fmt, root)
    damage(getattr(bad, which))
    load_pair(fmt, good, None)
    with pytest.raises(DataError, match=message) as error:
        load_pair(fmt, bad, None)
    assert str(getattr(bad, which)) in str(error.value)


def test_palette_pngs_are_read_as_what_they_encode(tmp_path: Path) -> None:
    root = camvid(tmp_path, {"train": ["a"]})
    (sample,) = find_samples("camvid", root)
    expected_image, expected_road, _ = load_pair("camvid", sample, None)
    ids = np.asarray(Image.open(sample.label))
    indexed = Image.frombytes("P", (W, H), ids.tobytes())
    indexed.putpalette(np.random.default_rng(0).integers(0, 256, 768, dtype=np.uint8).tobytes())
    indexed.save(sample.label)
    Image.open(sample.image).quantize(256).save(sample.image)
    quantised = np.asarray(Image.open(sample.image).convert("RGB"))
    image, road, _ = load_pair("camvid", sample, None)
    np.testing.assert_array_equal(image, quantised)
    np.testing.assert_array_equal(road, expected_road)
    assert image.shape == expected_image.shape


def test_folder_names_with_spaces_and_non_ascii_work(tmp_path: Path) -> None:
    root = kitti_semantics(tmp_path / "mes données" / "KITTI 2015 – Straße", ["000000_10"])
    (sample,) = find_samples("kitti_semantics", root)
    _, road, _ = load_pair("kitti_semantics", sample, None)
    assert road.sum() == W


def test_positive_ids_choose_the_road_and_are_checked(tmp_path: Path) -> None:
    root = kitti_semantics(tmp_path, ["a"])
    (sample,) = find_samples("kitti_semantics", root)
    label = np.asarray(Image.open(sample.label))
    _, sidewalk, _ = load_pair("kitti_semantics", sample, [8])
    _, both, _ = load_pair("kitti_semantics", sample, [7, 8])
    np.testing.assert_array_equal(sidewalk, label == 8)
    np.testing.assert_array_equal(both, np.isin(label, [7, 8]))
    assert resolve_positive_ids("camvid", []) == default_positive_ids("camvid") == [3]
    with pytest.raises(UserError, match=r"positive ids \[12\] cannot be road in format camvid"):
        resolve_positive_ids("camvid", [3, 12])
    with pytest.raises(UserError, match=r"\[11\] cannot be road .* \[11\] are void"):
        resolve_positive_ids("camvid", [11])
    with pytest.raises(UserError, match="unknown dataset format 'cityscapes'"):
        find_samples("cityscapes", root)


CITYSCAPES_IGNORE_IN_EVAL = [0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30]  # labels.py, by hand


@pytest.mark.parametrize(
    ("fmt", "road", "void", "group_pattern"),
    [
        ("kitti_semantics", [7], CITYSCAPES_IGNORE_IN_EVAL, None),
        ("kitti_road", [1], [2], None),
        ("camvid", [3], [11], r"^([^_]+)_"),
    ],
)
def test_format_ids(fmt: str, road: list[int], void: list[int], group_pattern: str | None) -> None:
    assert default_positive_ids(fmt) == road
    assert default_void_ids(fmt) == resolve_void_ids(fmt, None) == resolve_void_ids(fmt, []) == void
    assert default_group_pattern(fmt) == group_pattern


def test_parking_predicted_as_road_is_not_a_false_positive(tmp_path: Path) -> None:
    # rows 0-3 parking (9), rows 4-7 sidewalk (8), rows 8-15 road (7); the prediction calls
    # parking and road "road": by Cityscapes' rules 0 false positives, by "only 0 is void" 4*W.
    label = np.full((H, W), 7, np.uint8)
    label[:4], label[4:8] = 9, 8
    write_png(tmp_path / "training" / "image_2" / "a.png", photo(0))
    write_png(tmp_path / "training" / "semantic" / "a.png", label)
    (sample,) = find_samples("kitti_semantics", tmp_path)
    predicted = np.isin(label, [7, 9])
    _, road, valid = load_pair("kitti_semantics", sample)
    assert not valid[:4].any() and valid[4:].all()
    counts = confusion_counts(predicted, road.astype(bool), valid)
    assert (int(counts.tp), int(counts.fp), int(counts.fn)) == (8 * W, 0, 0)
    _, road, valid = load_pair("kitti_semantics", sample, None, [0])  # dataset.void_ids: [0]
    counts = confusion_counts(predicted, road.astype(bool), valid)
    assert (int(counts.tp), int(counts.fp), int(counts.fn)) == (8 * W, 4 * W, 0)


def test_void_ids_are_checked_and_never_road(tmp_path: Path) -> None:
    root = camvid(tmp_path, {"train": ["a"]})
    (sample,) = find_samples("camvid", root)
    label = np.asarray(Image.open(sample.label))
    _, road, valid = load_pair("camvid", sample, None, [1])  # class 1 void instead of 11
    np.testing.assert_array_equal(valid, label != 1)
    assert road.any() and not road[~valid].any()
    assert resolve_void_ids("camvid", [11, 0, 11]) == [0, 11]
    with pytest.raises(UserError, match=r"void ids \[12\] are not label IDs of format camvid \(0\.\.11\)"):
        resolve_void_ids("camvid", [11, 12])
    with pytest.raises(UserError, match=r"positive ids \[3\] cannot be road .* \[3\] are void"):
        load_pair("camvid", sample, None, [3])


# --- the real samples in ../shared/data ----------------------------------------------------


def test_real_kitti_semantics_sample(kitti_semantics_sample: Path) -> None:
    samples = find_samples("kitti_semantics", kitti_semantics_sample)
    assert [s.stem for s in samples] == [f"{i:06d}_10" for i in range(5)]
    for sample in samples:
        image, road, valid = load_pair("kitti_semantics", sample, None)
        assert image.shape == (370, 1224, 3) and road.shape == valid.shape == (370, 1224)
        assert 0.1 < road.mean() < 0.3  # the sample's road fractions are 0.13-0.26
        assert road[:100].mean() < 0.05 < road[-100:].mean()  # road is at the bottom, not in the sky


def test_real_kitti_road_sample(kitti_road_sample: Path) -> None:
    samples = find_samples("kitti_road", kitti_road_sample)
    assert [(s.stem, s.label.name) for s in samples] == [
        ("um_000000", "um_road_000000.png"),
        ("um_000001", "um_road_000001.png"),
    ]
    for sample in samples:
        image, road, valid = load_pair("kitti_road", sample, None)
        assert image.shape == (375, 1242, 3)
        assert 0.1 < road.mean() < 0.2
        assert 0 < (~valid).sum() < 0.05 * valid.size
        assert road[-10:].any() and not road[:150].any()


def test_real_camvid_sample(camvid_sample: Path) -> None:
    samples = find_samples("camvid", camvid_sample)
    subsets = [s.subset for s in samples]
    assert (subsets.count("train"), subsets.count("val"), len(samples)) == (367, 101, 468)
    for sample in samples[::50]:
        image, road, valid = load_pair("camvid", sample, None)
        assert image.shape == (360, 480, 3)
        assert 0.05 < road.mean() < 0.5
        assert not road[~valid].any()
