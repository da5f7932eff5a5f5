"""Reading one image or label file, refusing what is not what its role needs, naming the file.

Images are 8-bit RGB (PNG, or JPEG where a format lists JPEGs); labels are lossless PNGs, either
single-channel class IDs or RGB colours decoded by an exact colour table. A bad file raises
`DataError` here, at the split step, rather than as a shape error inside TensorFlow.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from segsweep.errors import DataError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}
_RGB, _INDEX = "8-bit RGB", "8-bit single-channel class IDs"
_HINTS = {
    (_INDEX, 2, 8): " (a colour-coded label such as semantic_rgb?)",
    (_INDEX, 0, 16): " (the 16-bit instance image?)",
    (_RGB, 0, 8): " (a label in the image folder? convert it to RGB yourself if it is the photo)",
    (_RGB, 6, 8): " (drop the alpha channel yourself if it carries nothing)",
    (_RGB, 2, 16): " (reduce it to 8 bits per channel yourself)",
}


def read_png(path: Path, role: str, expected: str) -> np.ndarray:
    """Decode one PNG, refusing anything that is not what `expected` names."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read {role}: {error.strerror}") from None
    if not data:
        raise DataError(f"{path}: {role} file is empty (0 bytes)")
    if not data.startswith(_PNG_SIGNATURE):
        kind = "a JPEG" if data.startswith(b"\xff\xd8\xff") else "not a PNG"
        raise DataError(f"{path}: {role} is {kind} (no PNG signature) despite its .png name")
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise DataError(f"{path}: {role} PNG is truncated or corrupt (no IHDR header)")
    depth, colour_type = data[24], data[25]
    accepted = colour_type == 3 or (depth == 8 and colour_type == (2 if expected == _RGB else 0))
    if not accepted:
        found = f"{depth}-bit {_COLOUR_TYPES.get(colour_type, f'colour type {colour_type}')}"
        hint = _HINTS.get((expected, colour_type, depth), "")
        raise DataError(f"{path}: {role} PNG has {found} pixels; expected {expected}{hint}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if expected == _RGB and image.mode != "RGB":
                image = image.convert("RGB")
            image.load()
            return np.asarray(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: {role} PNG is truncated or corrupt: {error}") from None


JPEG_SUFFIXES = (".jpg", ".jpeg")


def read_image(path: Path) -> np.ndarray:
    """An 8-bit RGB image: a PNG checked as `read_png` does, or a JPEG (lossy is fine for a photo;
    only ``format: folder`` lists JPEGs). A JPEG must be colour: grayscale or CMYK is refused."""
    if path.suffix.lower() not in JPEG_SUFFIXES:
        return read_png(path, "image", _RGB)
    try:
        with Image.open(path) as image:
            if image.format != "JPEG":
                raise DataError(f"{path}: image is not a JPEG ({image.format}) despite its {path.suffix} name")
            if image.mode != "RGB":
                raise DataError(f"{path}: image JPEG has {image.mode} pixels; expected {_RGB} (convert it yourself)")
            image.load()
            return np.asarray(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: image JPEG is unreadable, truncated or corrupt: {error}") from None


def decode_index_label(n_ids: int, fmt: str) -> Callable[[Path], np.ndarray]:
    def decode(path: Path) -> np.ndarray:
        ids = read_png(path, "label", _INDEX)
        if ids.max(initial=0) >= n_ids:
            bad = ids >= n_ids
            values = np.unique(ids[bad])
            raise DataError(
                f"{path}: label values {values[:8].tolist()} are outside 0..{n_ids - 1} of format {fmt} "
                f"({int(bad.sum())} pixels)"
            )
        return ids

    return decode


def decode_colour_label(colours: dict[tuple[int, int, int], int], known: str) -> Callable[[Path], np.ndarray]:
    """Decode an RGB label to IDs by exact colour; any other colour is refused (`known` names the
    accepted ones in the message), since a near miss is an edited or lossy-compressed label."""

    def decode(path: Path) -> np.ndarray:
        rgb = read_png(path, "label", _RGB).astype(np.uint32)
        code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        ids = np.full(code.shape, 255, np.uint8)
        for (r, g, b), label_id in colours.items():
            ids[code == (r << 16) | (g << 8) | b] = label_id
        bad = ids == 255
        if bad.any():
            row, col = (int(i[0]) for i in np.nonzero(bad))
            raise DataError(
                f"{path}: {int(bad.sum())} pixels have colours other than {known}, "
                f"e.g. {tuple(rgb[row, col].tolist())} at row {row}, column {col}"
            )
        return ids

    return decode
