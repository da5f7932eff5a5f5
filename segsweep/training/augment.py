"""Augmentation presets as albumentations 2 pipelines that move image, road mask and valid mask together.

A preset is data (`segsweep.config.presets`): a list of ``{"transform": ClassName, **arguments}``.
`build_transform` turns it into an ``A.Compose`` ending with the resize to ``train.input_size``
(and, with ``train.patch_size``, a random crop of that size from the resized frame);
masks are resampled with nearest-neighbour interpolation so they stay 0/1, and pixels that a
transform brings in from outside the image (rotation, padding) come in as road 0, valid 0.

`Augmenter` fixes the randomness of every call by (run seed, epoch, sample index). albumentations
2 ignores global seeds, and one seeded ``Compose(seed=...)`` would hand out its random stream in
whatever order tf.data's worker threads reach it; seeding each call instead makes a run
reproducible whatever the thread count, and lets a resumed run draw exactly what the uninterrupted
run would have drawn.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from segsweep.config.checks import largest_crop
from segsweep.data.formats import Sample
from segsweep.errors import ConfigError

# Crops that end in a resize need an output size; without one they get the network's input size.
_SIZED_CROPS = ("RandomSizedCrop", "RandomResizedCrop")


def _tuples(value: Any) -> Any:
    """JSON and YAML have no tuples, but albumentations' range arguments (``(300, 370)``) want them."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


def _one_line(error: Exception) -> str:
    """pydantic's multi-line validation messages, on one line for the CLI's one-line errors."""
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _transform(step: dict, preset: str, position: int, input_size: tuple[int, int]):
    import albumentations as A

    arguments = dict(step)
    name = arguments.pop("transform", None)
    where = f"augmentation preset {preset!r}, step {position} (transform {name!r})"
    cls = getattr(A, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, A.BasicTransform)):
        raise ConfigError(f"{where}: not an albumentations {A.__version__} transform class")
    arguments = {key: _tuples(value) for key, value in arguments.items()}
    if name in _SIZED_CROPS:
        arguments.setdefault("size", input_size)
    if name == "RandomResizedCrop":  # its `scale` is an area fraction; this aspect makes it height fraction squared
        aspect = input_size[1] / input_size[0]
        arguments.setdefault("ratio", (aspect, aspect))
    try:
        # strict: an unknown argument is an error, not a warning that lets a typo train silently.
        return cls(**{**arguments, "strict": True})
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: bad arguments: {_one_line(error)}") from None


def build_transform(
    steps: Sequence[dict], preset: str, input_size: Sequence[int], patch_size: Sequence[int] | None = None
):
    """The preset's transforms, then the resize to `input_size` (height, width), then with
    `patch_size` a crop of that size at a random place, as one ``A.Compose``.

    The patch is cut after the resize, so that objects keep the scale the network meets in
    evaluation, where it sees the whole frame at `input_size`. Call it with ``image=`` (uint8
    HxWx3), ``mask=`` (road, uint8 0/1) and ``valid=`` (uint8 0/1). Raises `ConfigError` naming
    the preset and the transform for an unknown name or bad arguments.
    """
    import albumentations as A
    import cv2

    size = (int(input_size[0]), int(input_size[1]))
    transforms = [_transform(step, preset, position, size) for position, step in enumerate(steps, start=1)]
    transforms.append(A.Resize(*size))
    if patch_size is not None:
        transforms.append(A.RandomCrop(int(patch_size[0]), int(patch_size[1])))
    return A.Compose(
        transforms,
        additional_targets={"valid": "mask"},
        mask_interpolation=cv2.INTER_NEAREST,
        strict=True,
    )


class Augmenter:
    """Applies one preset to a sample with randomness fixed by (seed, epoch, index); thread-safe.

    Transforms keep per-call state, so each thread gets its own ``Compose``.
    """

    def __init__(
        self,
        steps: Sequence[dict],
        preset: str,
        input_size: Sequence[int],
        seed: int,
        patch_size: Sequence[int] | None = None,
    ):
        self.steps = list(steps)
        self.preset = preset
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.patch_size = None if patch_size is None else (int(patch_size[0]), int(patch_size[1]))
        self.seed = int(seed)
        self._local = threading.local()
        self._local.compose = self._build()  # bad presets fail here

    @property
    def output_size(self) -> tuple[int, int]:
        """Height and width of what a call returns: the patch, or the whole resized frame."""
        return self.patch_size or self.input_size

    def _build(self):
        return build_transform(self.steps, self.preset, self.input_size, self.patch_size)

    def check_frames(self, samples: Sequence[Sample]) -> None:
        """Refuse a RandomSizedCrop taller (or, at its w2h_ratio, wider) than a training frame.

        albumentations clips such a crop to the frame without a word, which silently makes it
        another augmentation: flip_crop's 300-370-pixel strips, sized for KITTI's 375-pixel frames,
        become full-height strips of a third of a 128x416 frame. Reads only the images' headers.
        """
        from PIL import Image

        for position, step in enumerate(self.steps, start=1):
            crop = largest_crop(step)
            if crop is None:
                continue
            tallest, widest = crop
            for sample in samples:
                with Image.open(sample.image) as image:
                    width, height = image.size
                if tallest > height or widest > width:
                    raise ConfigError(
                        f"augmentation preset {self.preset!r}, step {position} (transform 'RandomSizedCrop'): "
                        f"crops up to {tallest}x{widest} pixels, larger than training frame {sample.image} "
                        f"({height}x{width}); albumentations would clip them to the frame, another augmentation "
                        "than the one named. Use crops that fit the frames, or 'scale_crop', whose crops are "
                        "fractions of each frame"
                    )

    def _compose(self):
        compose = getattr(self._local, "compose", None)
        if compose is None:
            compose = self._local.compose = self._build()
        return compose

    def __call__(
        self, image: np.ndarray, road: np.ndarray, valid: np.ndarray, epoch: int, index: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(image, road, valid) at `output_size`, all uint8; the same call always gives the same result."""
        compose = self._compose()
        sequence = np.random.SeedSequence((self.seed, int(epoch), int(index)))
        # One generator pair shared by all transforms: albumentations' own per-transform seeding
        # gives every transform the same first draw, so "flip p=0.5" and "crop p=0.5" would always
        # happen together.
        compose.set_random_state(np.random.default_rng(sequence), random.Random(int(sequence.generate_state(1)[0])))
        out = compose(image=image, mask=road, valid=valid.view(np.uint8))
        return out["image"], out["mask"], out["valid"]
