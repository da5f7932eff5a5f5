"""``format: folder``: a user's own image and mask folders, described in ``dataset.folder``.

Most road data is in no benchmark's layout, so this format asks only for where the images and
the masks are and how a mask's name follows from its image's:

``images``, ``masks``
    A folder or a glob, relative to ``dataset.root`` (or absolute). Images are PNG or JPEG (most
    user data is JPEG; a lossy photo is still a photo), masks are PNG: JPEG compression smears
    label values across edges, so a JPEG mask is refused, not decoded. Other files are ignored.
``mask_suffix``
    The mask of ``{stem}.jpg`` is ``{stem}{mask_suffix}.png`` (e.g. ``_mask``, ``_label``; default
    none). Pairing is by that stem, with the built-in formats' checks: an unpaired file, a size
    mismatch, a bad pixel mode or an unknown label value each stop the split step naming the file.
``classes``
    Single-channel masks hold IDs ``0 .. classes-1`` (default 256: any 8-bit value); a value
    outside is refused. Road is ``dataset.positive_ids``, by default 1 and 255 (both binary mask
    conventions, 0/1 and 0/255); ``dataset.void_ids`` default none.
``colours``
    For RGB masks instead: a list of ``[r, g, b]``; a pixel's ID is its colour's position in the
    list, and any other colour is refused. Road then defaults to ID 1, the second colour.
``group_pattern``
    A regex on the stem whose first capture group names the frame's sequence, for group-aware
    splits (``split.group_pattern``, when set, wins); default: every frame its own group.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

from segsweep.data.classes import ClassSpec
from segsweep.data.formats import Format, Sample, classes_of, pair_files
from segsweep.data.image_files import JPEG_SUFFIXES, decode_colour_label, decode_index_label
from segsweep.errors import ConfigError, DataError

_IMAGE_SUFFIXES = (".png", *JPEG_SUFFIXES)


def folder_format(settings: dict | None) -> Format:
    """The `Format` for ``dataset.folder`` settings; bad settings are refused naming their key."""
    if not settings:
        raise ConfigError("key 'dataset.folder': format folder needs its settings (images, masks)")
    for key in ("images", "masks"):
        if not settings.get(key):
            raise ConfigError(f"key 'dataset.folder.{key}': format folder needs a folder or glob of {key}")
    images, masks, suffix = settings["images"], settings["masks"], settings.get("mask_suffix") or ""
    colours = settings.get("colours")
    layout = f"images {images} + masks {masks}, the mask of {{stem}}.jpg|png named {{stem}}{suffix}.png"
    if colours:
        table = _colour_table(colours)
        known = ", ".join(f"{tuple(c)} (ID {i})" for i, c in enumerate(colours))
        decode, n_ids, positive = (
            decode_colour_label(table, f"the colours of dataset.folder.colours: {known}"),
            len(table),
            (1,),
        )
    else:
        n_ids = int(settings.get("classes") or 256)
        if not 2 <= n_ids <= 256:
            raise ConfigError(f"key 'dataset.folder.classes': {n_ids} is not in 2..256 (8-bit masks)")
        decode, positive = decode_index_label(n_ids, "folder"), ((1, 255) if n_ids == 256 else (1,))

    def find(root: Path) -> list[Sample]:
        image_files = [p for p in _listed(root, images, "images") if p.suffix.lower() in _IMAGE_SUFFIXES]
        mask_files = [p for p in _listed(root, masks, "masks") if p.suffix.lower() in _IMAGE_SUFFIXES]
        lossy = [p for p in mask_files if p.suffix.lower() in JPEG_SUFFIXES]
        if lossy:
            raise DataError(
                f"mask {lossy[0]} is a JPEG{f' (and {len(lossy) - 1} more)' if len(lossy) > 1 else ''}: masks must "
                "be lossless, since JPEG compression changes label values along every edge; save them as PNG"
            )
        return pair_files(image_files, mask_files, root / images, root / masks, layout, _mask_stem(suffix))

    return Format("folder", layout, find, decode, positive, (), n_ids, settings.get("group_pattern") or None)


def _listed(root: Path, where: str, role: str) -> list[Path]:
    """The files of a folder, or the matches of a glob; hidden names are skipped, as elsewhere."""
    path = root / where
    if path.is_dir():
        found = [p for p in path.iterdir() if p.is_file()]
    else:
        found = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
    found = sorted(p for p in found if not p.name.startswith("."))
    if not found:
        raise DataError(f"key 'dataset.folder.{role}': no files in or matching {path}")
    return found


def _mask_stem(suffix: str):
    """A mask's name to its image's stem; a name without the suffix stays, to be reported unpaired."""

    def image_stem(stem: str) -> str:
        return stem[: -len(suffix)] if suffix and stem.endswith(suffix) else stem

    return image_stem


def _colour_table(colours: list) -> dict[tuple[int, int, int], int]:
    table: dict[tuple[int, int, int], int] = {}
    for i, colour in enumerate(colours):
        if len(colour) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in colour):
            raise ConfigError(f"key 'dataset.folder.colours': item {i} {colour} is not [r, g, b] of 0..255")
        if tuple(colour) in table:
            raise ConfigError(
                f"key 'dataset.folder.colours': {colour} is listed twice (IDs {table[tuple(colour)]} and {i})"
            )
        table[tuple(colour)] = i
    if not 2 <= len(table) <= 255:
        raise ConfigError(f"key 'dataset.folder.colours': {len(table)} colours; give 2..255")
    return table


def add_folder_argument(parser) -> None:
    """``--folder JSON``: with ``--format folder``, the ``dataset.folder`` settings (what the rules pass)."""
    parser.add_argument("--folder", default="", metavar="JSON", help="with --format folder: dataset.folder as JSON")


def dataset_format(dataset: dict) -> str | Format:
    """What every function of `segsweep.data.formats` takes as `fmt` for the config's `dataset`: a
    built-in format's name, or the `Format` that ``format: folder`` builds from ``dataset.folder``.
    It lives here, not in formats.py, so that formats.py never imports this module back."""
    if dataset["format"] != "folder":
        return dataset["format"]
    return folder_format(dataset.get("folder"))


def format_from_args(name: str, folder_json: str) -> str | Format:
    """The `fmt` of ``--format NAME [--folder JSON]``: a built-in name, or the folder's `Format`."""
    if name != "folder":
        return name
    try:
        settings = json.loads(folder_json) if folder_json else None
    except json.JSONDecodeError as error:
        raise ConfigError(f"--folder is not valid JSON: {error}") from None
    return folder_format(settings)


def dataset_classes(dataset: dict) -> tuple[ClassSpec, ...] | None:
    """The checked classes of the config's `dataset` (None: binary road), for `load_pair`."""
    return classes_of(dataset_format(dataset), dataset.get("classes"), dataset.get("void_ids"))
