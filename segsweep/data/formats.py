"""Three built-in dataset layouts behind one interface (and `format: folder`, segsweep/data/folder.py): find
image/label pairs and decode them to road masks.

Every check raises `DataError` naming the file, so that a bad file stops the workflow at the split
step, before any training, rather than surfacing as a shape error inside TensorFlow.

Layouts (only ``*.png`` files count; names starting with ``.`` are skipped):

``kitti_semantics``
    ``training/image_2/{stem}.png`` + ``training/semantic/{stem}.png``: 8-bit Cityscapes label IDs
    0..33 (what the KITTI files hold; 255 and other values are refused). Road = 7. Void by
    default: Cityscapes' ``ignoreInEval`` IDs (``cityscapesscripts/helpers/labels.py``: 0-6
    unlabeled .. ground, 9 parking, 10 rail track, 14-16 guard rail, bridge, tunnel, 18 polegroup,
    29 caravan, 30 trailer; license plate is -1 and never in a uint8 label), because the
    benchmark's road IoU leaves them out: parking predicted as road is no false positive there.
    Each frame is its own group (its stem carries no drive).
``kitti_road``
    ``training/image_2/{cat}_{n}.png`` + ``training/gt_image_2/{cat}_road_{n}.png`` (``*_lane_*``,
    the ego-lane ground truth, is ignored). RGB ground truth, decoded to IDs so that positive and
    void IDs work as for the other formats: 0 = non-road red (255,0,0), 1 = road magenta
    (255,0,255), 2 = black (0,0,0), which the KITTI devkit treats as outside the evaluated area
    (void). Any other colour is refused. Each frame is its own group (``um``/``umm``/``uu`` name
    road types, not drives).
``camvid``
    SegNet layout ``{train,val,test}/`` + ``{train,val,test}annot/``, whichever exist; 8-bit class
    indices 0..11, road = 3, 11 = void. `Sample.subset` keeps the folder for ``split --source format``.
    The group is the sequence prefix before the first ``_`` (``0016E5_07959`` -> ``0016E5``,
    ``Seq05VD_f00000`` -> ``Seq05VD``).

Void IDs (``dataset.void_ids``, default the format's own) are left out of the training loss and of
every evaluation count, through the ``valid`` mask `load_pair` returns.

Images must be 8-bit RGB PNGs (palette PNGs are expanded); grayscale, RGBA and 16-bit images are
refused rather than converted, because which conversion is right is the user's call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segsweep.data.classes import ClassSpec, class_tables, resolve_classes
from segsweep.data.image_files import decode_colour_label, decode_index_label, read_image
from segsweep.errors import DataError, UserError


@dataclass(frozen=True)
class Sample:
    """One image/label pair; `subset` is the format's own split folder (CamVid), else None."""

    stem: str
    image: Path
    label: Path
    subset: str | None = None


@dataclass(frozen=True)
class Format:
    """A layout: how to find its pairs under a root and decode a label to IDs. The built-in ones
    are named by a string; ``format: folder`` (`segsweep.data.folder`) builds one from its settings."""

    name: str
    layout: str
    find: Callable[[Path], list[Sample]]
    decode_label: Callable[[Path], np.ndarray]
    positive: tuple[int, ...]
    void: tuple[int, ...]
    n_ids: int
    group_pattern: str | None  # regex on the stem; None: every frame its own group

    def __str__(self) -> str:
        return self.name


_decode_kitti_road = decode_colour_label(
    {(255, 0, 0): 0, (255, 0, 255): 1, (0, 0, 0): 2},
    "road magenta (255,0,255), non-road red (255,0,0) and unlabelled black (0,0,0)",
)


# --- pairing -------------------------------------------------------------------------------


def _pngs(folder: Path, layout: str) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"missing folder {folder} (expected layout: {layout})")
    return sorted(p for p in folder.glob("*.png") if not p.name.startswith("."))


def _first_and_count(paths: list[Path]) -> str:
    more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
    return f"{paths[0]}{more}"


def _pair(
    images: Path, labels: Path, layout: str, label_stem: Callable[[str], str | None], subset: str | None = None
) -> list[Sample]:
    """Pair by stem, never by listing order: a missing file must not shift every later pair."""
    image_files, label_files = _pngs(images, layout), _pngs(labels, layout)
    if not image_files and not label_files:
        raise DataError(f"no .png images in {images} nor labels in {labels} (expected layout: {layout})")
    return pair_files(image_files, label_files, images, labels, layout, label_stem, subset)


def pair_files(
    image_files: list[Path],
    label_files: list[Path],
    images: Path | str,
    labels: Path | str,
    layout: str,
    label_stem: Callable[[str], str | None],
    subset: str | None = None,
) -> list[Sample]:
    """`_pair` on listed files; `images` and `labels` name where they were found, for the messages."""
    by_stem: dict[str, Path] = {}
    for path in image_files:
        if path.stem in by_stem:
            raise DataError(f"image {path}: the same name is also in {by_stem[path.stem]}")
        by_stem[path.stem] = path
    label_by_stem: dict[str, Path] = {}
    for path in label_files:
        stem = label_stem(path.stem)
        if stem in label_by_stem:
            raise DataError(f"label {path}: pairs with the same image stem {stem!r} as {label_by_stem[stem]}")
        if stem is not None:
            label_by_stem[stem] = path
    lonely_images = [by_stem[s] for s in sorted(by_stem.keys() - label_by_stem.keys())]
    if lonely_images:
        raise DataError(f"image {_first_and_count(lonely_images)} has no label in {labels}")
    lonely_labels = [label_by_stem[s] for s in sorted(label_by_stem.keys() - by_stem.keys())]
    if lonely_labels:
        raise DataError(f"label {_first_and_count(lonely_labels)} has no image in {images}")
    return [Sample(stem, by_stem[stem], label_by_stem[stem], subset) for stem in sorted(by_stem)]


def _same_stem(stem: str) -> str:
    return stem


_KITTI_SEMANTICS_LAYOUT = "training/image_2/{stem}.png + training/semantic/{stem}.png"
_KITTI_ROAD_LAYOUT = "training/image_2/{cat}_{n}.png + training/gt_image_2/{cat}_road_{n}.png"
_CAMVID_LAYOUT = "train/ + trainannot/, val/ + valannot/, test/ + testannot/ (whichever exist)"
_CAMVID_SUBSETS = ("train", "val", "test")


def _find_kitti_semantics(root: Path) -> list[Sample]:
    training = root / "training"
    return _pair(training / "image_2", training / "semantic", _KITTI_SEMANTICS_LAYOUT, _same_stem)


def _kitti_road_label_stem(stem: str) -> str | None:
    """``um_road_000000`` -> ``um_000000``; lane masks -> None; other names stay, to be reported."""
    match = re.fullmatch(r"(.+)_(road|lane)_(\d+)", stem)
    if match is None:
        return stem
    return f"{match[1]}_{match[3]}" if match[2] == "road" else None


def _find_kitti_road(root: Path) -> list[Sample]:
    training = root / "training"
    return _pair(training / "image_2", training / "gt_image_2", _KITTI_ROAD_LAYOUT, _kitti_road_label_stem)


def _find_camvid(root: Path) -> list[Sample]:
    subsets = [s for s in _CAMVID_SUBSETS if (root / s).is_dir() or (root / f"{s}annot").is_dir()]
    if not subsets:
        raise DataError(f"{root}: no CamVid folders (expected layout: {_CAMVID_LAYOUT})")
    samples = [
        sample
        for subset in subsets
        for sample in _pair(root / subset, root / f"{subset}annot", _CAMVID_LAYOUT, _same_stem, subset)
    ]
    seen: dict[str, Sample] = {}
    for sample in samples:
        if sample.stem in seen:
            raise DataError(f"image {sample.image}: the same name is also in {seen[sample.stem].image}")
        seen[sample.stem] = sample
    return sorted(samples, key=lambda s: s.stem)


# Cityscapes' labels with ignoreInEval (cityscapesscripts/helpers/labels.py), license plate (-1) aside.
_CITYSCAPES_IGNORE_IN_EVAL = (0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30)

_FORMATS: dict[str, Format] = {
    "kitti_semantics": Format(
        "kitti_semantics",
        _KITTI_SEMANTICS_LAYOUT,
        _find_kitti_semantics,
        decode_index_label(34, "kitti_semantics"),
        (7,),
        _CITYSCAPES_IGNORE_IN_EVAL,
        34,
        None,
    ),
    "kitti_road": Format("kitti_road", _KITTI_ROAD_LAYOUT, _find_kitti_road, _decode_kitti_road, (1,), (2,), 3, None),
    "camvid": Format(
        "camvid", _CAMVID_LAYOUT, _find_camvid, decode_index_label(12, "camvid"), (3,), (11,), 12, r"^([^_]+)_"
    ),
}
FORMAT_NAMES: tuple[str, ...] = tuple(_FORMATS)


def _format(fmt: str | Format) -> Format:
    if isinstance(fmt, Format):
        return fmt
    try:
        return _FORMATS[fmt]
    except KeyError:
        raise UserError(f"unknown dataset format {fmt!r}; choose one of: {', '.join(FORMAT_NAMES)}") from None


# --- public API ----------------------------------------------------------------------------


def default_positive_ids(fmt: str | Format) -> list[int]:
    """Label IDs that mean road when the config leaves `dataset.positive_ids` null."""
    return list(_format(fmt).positive)


def default_void_ids(fmt: str | Format) -> list[int]:
    """Label IDs that are void when the config leaves `dataset.void_ids` null: excluded from the
    loss and from every metric, never counted as road or as not road."""
    return list(_format(fmt).void)


def default_group_pattern(fmt: str | Format) -> str | None:
    """The format's regex for a stem's group (sequence); None: every frame is its own group."""
    return _format(fmt).group_pattern


def resolve_void_ids(fmt: str | Format, void_ids: list[int] | None) -> list[int]:
    """The void IDs to use: the format's own for None or an empty list (what the CLI passes for a
    null config key), else the given ones, refused where the format cannot hold them."""
    spec = _format(fmt)
    if not void_ids:
        return list(spec.void)
    bad = sorted({i for i in void_ids if not 0 <= i < spec.n_ids})
    if bad:
        raise UserError(f"void ids {bad} are not label IDs of format {fmt} (0..{spec.n_ids - 1})")
    return sorted(set(void_ids))


def resolve_positive_ids(
    fmt: str | Format, positive_ids: list[int] | None, void_ids: list[int] | None = None
) -> list[int]:
    """The road IDs to use: the format's own for None or an empty list (what the CLI passes for a
    null config key), else the given ones; refused if the format cannot hold them or they are void
    (`void_ids` resolved as `resolve_void_ids` does)."""
    spec = _format(fmt)
    void = resolve_void_ids(fmt, void_ids)
    positive = sorted(set(positive_ids or spec.positive))
    bad = sorted({i for i in positive if not 0 <= i < spec.n_ids or i in void})
    if bad:
        raise UserError(
            f"positive ids {bad} cannot be road in format {fmt}: its label IDs are 0..{spec.n_ids - 1}, "
            f"of which {void} are void"
        )
    return positive


def find_samples(fmt: str | Format, root: Path) -> list[Sample]:
    """Every image/label pair under `root`, sorted by stem; paths keep `root` as given (relative
    stays relative), because the manifest records them as found."""
    spec = _format(fmt)
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist (format {fmt}, expected layout: {spec.layout})")
    return spec.find(root)


def _id_lookup(ids: list[int] | tuple[int, ...]) -> np.ndarray:
    table = np.zeros(256, bool)
    table[list(ids)] = True
    return table


def classes_of(
    fmt: str | Format, classes: str | list | None, void_ids: list[int] | None = None
) -> tuple[ClassSpec, ...] | None:
    """The checked `dataset.classes` of format `fmt` (None: the binary road task); see `segsweep.data.classes`."""
    spec = _format(fmt)
    return resolve_classes(spec.name, spec.n_ids, classes, resolve_void_ids(fmt, void_ids))


def load_pair(
    fmt: str | Format,
    sample: Sample,
    positive_ids: list[int] | None = None,
    void_ids: list[int] | None = None,
    classes: tuple[ClassSpec, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode and check one pair: ``(image uint8 HxWx3, label uint8 HxW, valid bool HxW)``.

    Without `classes` the label is road (0/1, road = `positive_ids`); with them (`classes_of`) it
    is each pixel's class index, and IDs in no class are void too. `valid` is False on void pixels
    (`void_ids`; None or empty: the format's own), where the label is 0.
    """
    spec = _format(fmt)
    void = resolve_void_ids(fmt, void_ids)
    image = read_image(Path(sample.image))
    ids = spec.decode_label(Path(sample.label))
    if image.shape[:2] != ids.shape:
        (ih, iw), (lh, lw) = image.shape[:2], ids.shape
        raise DataError(f"{sample.label}: label is {lw}x{lh} pixels but its image {sample.image} is {iw}x{ih}")
    if classes is not None:
        index, in_class = class_tables(classes, void)
        valid = in_class[ids]
        return image, np.where(valid, index[ids], 0).astype(np.uint8), valid
    positive = resolve_positive_ids(fmt, positive_ids, void)
    road = _id_lookup(positive)[ids].view(np.uint8)
    valid = ~_id_lookup(void)[ids]
    return image, road, valid
