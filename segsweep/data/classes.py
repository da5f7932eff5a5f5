"""The trained classes: which label IDs each class is made of, and which IDs are void.

``dataset.classes`` chooses the task. Left out (null), the task is binary road, as segsweep has
always been: one sigmoid, road = ``dataset.positive_ids``. ``format`` takes the format's own class
list (below); a list of ``{name, ids}`` names the user's own. With classes, the network ends in a
softmax over K = len(classes) channels, and a pixel's target is the index of the class holding its
label ID. An ID in no class is void, as Cityscapes' trainId 255: left out of the loss and of
every count, exactly like ``dataset.void_ids`` (which, with classes, may name more void IDs).

The format lists follow the benchmarks the classes come from:

- ``camvid``: the 11 classes of the SegNet version of CamVid (Brostow et al. 2009; Badrinarayanan
  et al. 2017), IDs 0-10 in SegNet's order; 11 is void. Colours are the SegNet tutorial's.
- ``kitti_semantics``: Cityscapes' 19 evaluated classes (``cityscapesscripts/helpers/labels.py``,
  the labels with a trainId other than 255), each its own label ID; every other ID is void, so the
  ignoreInEval IDs are void as in the benchmark. Colours are Cityscapes'.
- ``kitti_road``: road (magenta) and not road (red); black stays void.

The "focus" class is the one the road columns of ``per_image.csv`` and the headline pooled IoU
describe in a multi-class run: the class of ``report.metric: iou:<name>``, else the class named
``road``, else the first class. So road IoU stays reported wherever the classes include road.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segsweep.errors import ConfigError

FORMAT_CLASSES = "format"  # the value of dataset.classes that takes the format's own list
ROAD = "road"


@dataclass(frozen=True)
class ClassSpec:
    """One trained class: its name, the label IDs it is made of, and its colour in mask grids."""

    name: str
    ids: tuple[int, ...]
    colour: tuple[int, int, int]


def _specs(rows: list[tuple[str, tuple[int, ...], tuple[int, int, int]]]) -> tuple[ClassSpec, ...]:
    return tuple(ClassSpec(name, ids, colour) for name, ids, colour in rows)


_CLASSES_OF_FORMAT: dict[str, tuple[ClassSpec, ...]] = {
    "camvid": _specs(
        [
            ("sky", (0,), (128, 128, 128)),
            ("building", (1,), (128, 0, 0)),
            ("pole", (2,), (192, 192, 128)),
            ("road", (3,), (128, 64, 128)),
            ("sidewalk", (4,), (0, 0, 192)),
            ("tree", (5,), (128, 128, 0)),
            ("sign", (6,), (192, 128, 128)),
            ("fence", (7,), (64, 64, 128)),
            ("car", (8,), (64, 0, 128)),
            ("pedestrian", (9,), (64, 64, 0)),
            ("bicyclist", (10,), (0, 128, 192)),
        ]
    ),
    "kitti_semantics": _specs(
        [
            ("road", (7,), (128, 64, 128)),
            ("sidewalk", (8,), (244, 35, 232)),
            ("building", (11,), (70, 70, 70)),
            ("wall", (12,), (102, 102, 156)),
            ("fence", (13,), (190, 153, 153)),
            ("pole", (17,), (153, 153, 153)),
            ("traffic light", (19,), (250, 170, 30)),
            ("traffic sign", (20,), (220, 220, 0)),
            ("vegetation", (21,), (107, 142, 35)),
            ("terrain", (22,), (152, 251, 152)),
            ("sky", (23,), (70, 130, 180)),
            ("person", (24,), (220, 20, 60)),
            ("rider", (25,), (255, 0, 0)),
            ("car", (26,), (0, 0, 142)),
            ("truck", (27,), (0, 0, 70)),
            ("bus", (28,), (0, 60, 100)),
            ("train", (31,), (0, 80, 100)),
            ("motorcycle", (32,), (0, 0, 230)),
            ("bicycle", (33,), (119, 11, 32)),
        ]
    ),
    "kitti_road": _specs([("not road", (0,), (255, 0, 0)), ("road", (1,), (255, 0, 255))]),
}


def _palette_colour(k: int) -> tuple[int, int, int]:
    """A distinct colour for the k-th class of a user's list that names none (seaborn's husl)."""
    import seaborn as sns

    return tuple(int(round(255 * c)) for c in sns.color_palette("husl", 20)[k % 20])


def resolve_classes(
    fmt_name: str, n_ids: int, setting: str | list | None, void_ids: list[int] | tuple[int, ...] = ()
) -> tuple[ClassSpec, ...] | None:
    """The classes of ``dataset.classes``, checked: None for the binary road task.

    Refused, naming the key: an unknown class list, a format without one, an empty or one-class
    list, duplicate names, IDs outside the format's 0..n_ids-1, IDs in two classes, void IDs in a class.
    """
    key = "dataset.classes"
    if setting is None:
        return None
    if setting == FORMAT_CLASSES:
        if fmt_name not in _CLASSES_OF_FORMAT:
            raise ConfigError(f"key '{key}': format {fmt_name} has no class list of its own; list your classes")
        specs = _CLASSES_OF_FORMAT[fmt_name]
    elif isinstance(setting, list):
        specs = tuple(
            ClassSpec(
                str(row["name"]), tuple(int(i) for i in row["ids"]), tuple(row.get("colour") or _palette_colour(k))
            )
            for k, row in enumerate(setting)
        )
    else:
        raise ConfigError(f"key '{key}': {setting!r} is neither {FORMAT_CLASSES!r} nor a list of {{name, ids}}")
    if len(specs) < 2:
        raise ConfigError(f"key '{key}': name at least two classes (one class is the binary task: leave it out)")
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"key '{key}': class names {twice} are used twice")
    owner: dict[int, str] = {}
    for k, spec in enumerate(specs):
        if not spec.ids:
            raise ConfigError(f"key '{key}[{k}].ids': class {spec.name!r} has no label ID")
        outside = sorted(i for i in spec.ids if not 0 <= i < n_ids)
        if outside:
            raise ConfigError(
                f"key '{key}[{k}].ids': IDs {outside} of class {spec.name!r} are not label IDs of format "
                f"{fmt_name} (0..{n_ids - 1})"
            )
        for i in spec.ids:
            if i in owner:
                raise ConfigError(f"key '{key}[{k}].ids': ID {i} of class {spec.name!r} is also in class {owner[i]!r}")
            owner[i] = spec.name
        void = sorted(set(spec.ids) & set(void_ids))
        if void:
            raise ConfigError(
                f"key '{key}[{k}].ids': IDs {void} of class {spec.name!r} are void (dataset.void_ids, or the format's own)"
            )
    return specs


def class_tables(
    classes: tuple[ClassSpec, ...], void_ids: list[int] | tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Per 8-bit label ID: its class index (uint8) and whether it is valid (in a class, not void)."""
    index = np.zeros(256, np.uint8)
    valid = np.zeros(256, bool)
    for k, spec in enumerate(classes):
        index[list(spec.ids)] = k
        valid[list(spec.ids)] = True
    valid[list(void_ids)] = False
    return index, valid


def focus_name(classes: tuple[ClassSpec, ...], metric: str) -> str:
    """The class the road columns describe (module docstring), for decision metric `metric`;
    an ``iou:<name>`` metric naming no class is refused, naming the key."""
    names = [s.name for s in classes]
    if metric.startswith("iou:"):
        if metric[4:] not in names:
            raise ConfigError(f"key 'report.metric': {metric!r} names no class of dataset.classes ({', '.join(names)})")
        return metric[4:]
    return ROAD if ROAD in names else names[0]


def class_rows(classes: tuple[ClassSpec, ...]) -> list[dict]:
    """The classes as the jobs' settings carry them: the resolved list, so no job needs the format's."""
    return [{"name": s.name, "ids": list(s.ids), "colour": list(s.colour)} for s in classes]
