"""Make the embedded default dataset: procedural road scenes in the kitti_semantics layout.

Writes OUT/training/image_2/{stem}.png (8-bit RGB) and OUT/training/semantic/{stem}.png (8-bit
Cityscapes label IDs: road 7, sidewalk 8, parking 9, building 11, pole 17, vegetation 21,
terrain 22, sky 23, car 26) for stems 000000_10, 000001_10, ...

Each scene is a road in perspective (random width, curvature and camera offset) with lane
markings, then sidewalks, parking strips, buildings, trees, poles and cars, under varying light,
with shadows cast across the road, texture and sensor noise. Sidewalks and parking are often as
grey as the asphalt, façades can be concrete grey, and shadows darken the road, so colour alone
does not find the road: a model has to use shape and context.

Scene i depends only on (seed, i): the same seed gives the same bytes, and a larger count only
adds scenes. The folder is built beside OUT and renamed at the end, so a killed run never leaves
a dataset that looks complete.
"""

from __future__ import annotations

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from segsweep.data.staging import staged_dir
from segsweep.errors import UserError

# Material -> Cityscapes label ID. Materials sharing an ID differ only in how they are painted.
_MATERIAL_IDS = {
    "sky": 23, "building": 11, "window": 11, "vegetation": 21, "terrain": 22,
    "sidewalk": 8, "curb": 8, "road": 7, "marking": 7, "parking": 9, "parking_line": 9,
    "car_a": 26, "car_b": 26, "car_c": 26, "glass": 26, "wheel": 26, "light": 26, "pole": 17,
}  # fmt: skip
M = {name: index for index, name in enumerate(_MATERIAL_IDS)}
_LABEL_OF = np.array(list(_MATERIAL_IDS.values()), np.uint8)
_GROUND = ("terrain", "sidewalk", "curb", "road", "marking", "parking", "parking_line")
_IS_GROUND = np.isin(np.arange(len(M)), [M[n] for n in _GROUND])  # shadows fall on these
_IS_FACADE = np.isin(np.arange(len(M)), [M[n] for n in ("building", "window", "vegetation")])  # lit from one side
_CARS = ("car_a", "car_b", "car_c")
# Texture amplitude per material: coarse (stains, patches, clouds) and fine (grain, leaves).
_COARSE = np.full(len(M), 0.04, np.float32)
_FINE = np.full(len(M), 0.02, np.float32)
for _name, _coarse, _fine in [
    ("road", 0.08, 0.05), ("parking", 0.08, 0.05), ("sidewalk", 0.06, 0.04), ("terrain", 0.18, 0.12),
    ("vegetation", 0.25, 0.3), ("building", 0.06, 0.02), ("sky", 0.05, 0.0),
]:  # fmt: skip
    _COARSE[M[_name]], _FINE[M[_name]] = _coarse, _fine


@dataclass(frozen=True)
class _Geometry:
    """Screen geometry of the ground plane: rows below `horizon` map to depth along the road.

    ``t`` is 0 at the horizon and 1 at the bottom row; road width is linear in ``t`` (perspective)
    and ``u`` is the lateral position in road half-widths (road: |u| < 1); ``depth`` = 1/t.
    """

    height: int
    width: int
    horizon: float
    vanish: float
    bottom: float
    bend: float
    half_bottom: float
    rows: np.ndarray  # (H, 1)
    cols: np.ndarray  # (1, W)

    def centre(self, t: np.ndarray | float) -> np.ndarray | float:
        return self.vanish + (self.bottom - self.vanish) * t + self.bend * (1 - t) ** 3

    def row(self, t: np.ndarray | float) -> np.ndarray | float:
        return self.horizon + t * (self.height - self.horizon)

    @property
    def far_x(self) -> float:
        """Where the road meets the horizon; façade lines converge there too."""
        return self.vanish + self.bend

    @cached_property
    def ground(self) -> np.ndarray:
        return self.rows > self.horizon

    @cached_property
    def t(self) -> np.ndarray:
        return np.clip((self.rows - self.horizon) / (self.height - self.horizon), 1e-3, 1.0)

    @cached_property
    def u(self) -> np.ndarray:
        return (self.cols - self.centre(self.t)) / (self.half_bottom * self.t)


@dataclass(frozen=True)
class _Side:
    """One roadside: widths in road half-widths, what stands beyond, block heights in camera heights."""

    parking: float
    sidewalk: float
    material: str
    heights: np.ndarray
    block_length: float
    ragged: float

    @property
    def outer(self) -> float:
        return 1.0 + self.parking + self.sidewalk


def _geometry(rng: np.random.Generator, height: int, width: int) -> _Geometry:
    return _Geometry(
        height=height,
        width=width,
        horizon=height * rng.uniform(0.36, 0.47),
        vanish=width * rng.uniform(0.4, 0.6),
        bottom=width * rng.uniform(0.3, 0.7),
        bend=width * rng.uniform(-0.35, 0.35) * (rng.random() < 0.7),
        half_bottom=width * rng.uniform(0.25, 0.5),
        rows=np.arange(height, dtype=np.float32)[:, None] + 0.5,
        cols=np.arange(width, dtype=np.float32)[None, :] + 0.5,
    )


def _side(rng: np.random.Generator) -> _Side:
    kind = ("building", "vegetation", "terrain")[rng.choice(3, p=[0.5, 0.3, 0.2])]
    parking = rng.uniform(0.45, 0.75) if rng.random() < 0.35 else 0.0
    sidewalk = rng.uniform(0.25, 0.6) if rng.random() < 0.85 else 0.0
    blocks = 48
    low, high, gaps = {"building": (2.0, 9.0, 0.15), "vegetation": (2.0, 5.0, 0.3), "terrain": (0, 0, 1)}[kind]
    heights = rng.uniform(low, high, blocks) * (rng.random(blocks) > gaps)
    heights[rng.integers(4, blocks) :] = 0.0  # the row of buildings or trees ends somewhere
    return _Side(parking, sidewalk, kind, heights, rng.uniform(1.0, 3.0), 0.6 if kind == "vegetation" else 0.0)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Zero-mean noise varying over about `cell` pixels: a coarse random grid, resized smoothly."""
    grid = rng.standard_normal((max(2, round(height / cell) + 1), max(2, round(width / cell) + 1)))
    return np.asarray(Image.fromarray(grid.astype(np.float32)).resize((width, height), Image.BICUBIC))


def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """A soft step (tanh form: no overflow for the huge u of rows near the horizon)."""
    return 0.5 + 0.5 * np.tanh(x / 2)


def _layout(rng: np.random.Generator, g: _Geometry, sides: list[_Side]) -> np.ndarray:
    """The material of every pixel, before objects: sky, roadside, sidewalks, parking, road."""
    H, W = g.height, g.width
    material = np.full((H, W), M["sky"], np.uint8)
    band = np.interp(g.cols[0], np.linspace(0, W, 16), rng.uniform(0.01, 0.08, 16) * H)
    material[(g.rows > g.horizon - band) & ~g.ground] = M["vegetation" if rng.random() < 0.6 else "building"]
    material[np.broadcast_to(g.ground, (H, W))] = M["terrain"]

    u, ground = g.u, g.ground
    for sign, side in zip((-1, 1), sides):
        # Façade plane at lateral distance `outer`: the column gives its depth, the row its height.
        t_col = np.maximum(np.abs(g.cols - g.far_x) / (side.outer * g.half_bottom), 1e-3)
        above_ground = (g.row(t_col) - g.rows) / (t_col * (H - g.horizon))
        block = np.minimum((1 / t_col / side.block_length).astype(int), len(side.heights) - 1)
        top = side.heights[block]
        if side.ragged:
            top = np.where(top > 0, top + side.ragged * np.abs(_smooth_noise(rng, 1, W, W / 40)), 0)
        on_side = (g.cols - g.far_x) * sign > 0
        standing = ((~ground & on_side) | (ground & (u * sign >= side.outer))) & (above_ground < top)
        material[standing] = M[side.material]
        if side.material == "building":
            windows = (above_ground > 0.8) & (_frac(above_ground / 1.8) > 0.35) & (_frac(1 / t_col * 2.5) < 0.45)
            material[standing & windows] = M["window"]
        band_inner = 1 + side.parking
        lateral = u * sign
        material[ground & (lateral >= band_inner) & (lateral < side.outer)] = M["sidewalk"]
        material[ground & (lateral >= band_inner) & (lateral < min(side.outer, band_inner + 0.05))] = M["curb"]
        parking = ground & (lateral >= 1) & (lateral < band_inner)
        material[parking] = M["parking"]
        material[parking & (_frac(1 / g.t * 2) < 0.06)] = M["parking_line"]

    road = ground & (np.abs(u) < 1)
    material[road] = M["road"]
    material[road & _markings(rng, u, 1 / g.t)] = M["marking"]
    return material


def _markings(rng: np.random.Generator, u: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Lane lines: none (rural), a dashed or solid centre line, or four lanes; edge lines or not."""
    width = rng.uniform(0.025, 0.045)
    dashed = _frac(depth * rng.uniform(0.6, 1.4) + rng.random()) < rng.uniform(0.3, 0.6)
    style = rng.choice(4)
    lines = np.zeros(u.shape, bool)
    if style == 1:
        lines = (np.abs(u) < width) & dashed
    elif style == 2:
        lines = np.abs(u) < width
    elif style == 3:
        lines = (np.abs(u) < width) | ((np.abs(np.abs(u) - 0.5) < width) & dashed)
    if rng.random() < 0.6:
        lines |= np.abs(np.abs(u) - 0.93) < width
    return lines


def _shadows(rng: np.random.Generator, g: _Geometry, sunny: bool) -> np.ndarray:
    """A brightness factor for the ground: tree blobs and a building's shadow across the road.

    Drawn in ground coordinates, so they shrink with distance as the road does.
    """
    shade = np.ones((g.height, g.width), np.float32)
    if not sunny:
        return shade
    u, depth = g.u, np.minimum(1 / g.t, 40)
    field = sum(
        np.sin(u * rng.uniform(1.5, 5) * rng.choice([-1, 1]) + depth * rng.uniform(0.8, 3.5) + rng.uniform(0, 6.3))
        for _ in range(3)
    )
    blobs = _sigmoid((field - rng.uniform(0.5, 1.8)) * 5)
    edge = rng.uniform(-1.3, 0.7) + 0.25 * np.sin(depth * rng.uniform(0.5, 2) + rng.uniform(0, 6.3))
    building = _sigmoid((edge - u * rng.choice([-1, 1])) * 10) * (rng.random() < 0.6)
    fade = np.clip(g.t * 6, 0, 1) * g.ground
    shade -= rng.uniform(0.35, 0.6) * np.maximum(blobs * (rng.random() < 0.7), building) * fade
    return shade


def _box(top: float, bottom: float, left: float, right: float) -> tuple[slice, slice]:
    clip = lambda v: max(0, int(round(v)))  # noqa: E731
    return slice(clip(top), clip(bottom)), slice(clip(left), clip(right))


def _objects(
    rng: np.random.Generator, g: _Geometry, sides: list[_Side], material: np.ndarray, shade: np.ndarray
) -> None:
    """Poles on the sidewalks and cars in lanes and parking strips, drawn far to near."""
    lanes = [-0.5, 0.5] + [sign * (1 + s.parking / 2) for sign, s in zip((-1, 1), sides) if s.parking]
    items = [("pole", rng.uniform(0.15, 0.9), rng.choice([-1, 1])) for _ in range(rng.poisson(1.2))]
    items += [
        (_CARS[rng.integers(3)], rng.uniform(0.1, 0.85), rng.choice(lanes) + rng.normal(0, 0.06))
        for _ in range(rng.integers(0, 6))
    ]
    scale = g.height - g.horizon
    for kind, t, where in sorted(items, key=lambda item: item[1]):
        half, bottom = g.half_bottom * t, g.row(t)
        if kind == "pole":
            side = sides[0 if where < 0 else 1]
            x = g.centre(t) + where * (1 + side.parking + 0.85 * side.sidewalk) * half
            w = max(1.0, 0.03 * half)
            material[_box(bottom - rng.uniform(3, 5) * t * scale, bottom, x - w / 2, x + w / 2)] = M["pole"]
            continue
        x, w, h = g.centre(t) + where * half, 0.52 * half, 0.9 * t * scale
        left, right = x - w / 2, x + w / 2
        shade[_box(bottom - 0.05 * h, bottom + 0.07 * h, left - 0.05 * w, right + 0.05 * w)] *= 0.5
        material[_box(bottom - 0.6 * h, bottom, left, right)] = M[kind]
        material[_box(bottom - h, bottom - 0.6 * h, left + 0.12 * w, right - 0.12 * w)] = M[kind]
        material[_box(bottom - 0.92 * h, bottom - 0.62 * h, left + 0.17 * w, right - 0.17 * w)] = M["glass"]
        for a, b in ((0.04, 0.24), (0.76, 0.96)):
            material[_box(bottom - 0.18 * h, bottom, left + a * w, left + b * w)] = M["wheel"]
        for a, b in ((0.04, 0.18), (0.82, 0.96)):
            material[_box(bottom - 0.5 * h, bottom - 0.4 * h, left + a * w, left + b * w)] = M["light"]


def _palette(rng: np.random.Generator, sunny: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base colour per material, and the sky's zenith and horizon colours."""

    def near(rgb, spread: float) -> np.ndarray:
        return np.clip(np.asarray(rgb, np.float32) + rng.uniform(-spread, spread, 3), 0, 255)

    asphalt = near(np.array([-2, 0, 3]) + rng.uniform(70, 125), 4)
    if rng.random() < 0.5:  # as grey as the road: only the curb and the context tell them apart
        sidewalk = near(asphalt + rng.uniform(-12, 12), 3)
    else:
        sidewalk = near(np.array([6, 3, -4]) + rng.uniform(135, 180), 6)
    facades = [(185, 165, 135), (150, 85, 65), (165, 165, 160), (210, 205, 195), (120, 110, 100), (asphalt + 15)]
    cars = [(225, 225, 225), (30, 30, 35), (160, 162, 168), (150, 25, 25), (35, 60, 130), (80, 80, 85)]
    grass, dry = (95, 120, 60), (140, 125, 90)
    colours = {
        "sky": (0, 0, 0),  # painted as a gradient
        "building": near(facades[rng.integers(len(facades))], 15),
        "window": near((60, 70, 85), 20),
        "vegetation": near((60, 90, 40), 15),
        "terrain": near(grass if rng.random() < 0.6 else dry, 15),
        "sidewalk": sidewalk,
        "curb": np.clip(sidewalk + 25, 0, 255),
        "road": asphalt,
        "marking": near((225, 225, 220), 15),
        "parking": near(asphalt, 8),
        "parking_line": near((215, 215, 210), 15),
        **{name: near(cars[rng.integers(len(cars))], 10) for name in _CARS},
        "glass": near((40, 45, 55), 8),
        "wheel": near((25, 25, 25), 5),
        "light": near((170, 30, 30), 15),
        "pole": near((110, 110, 105), 15),
    }
    palette = np.stack([np.asarray(colours[name], np.float32) for name in M])
    if sunny:
        return palette, near((105, 145, 215), 20), near((200, 215, 232), 10)
    grey = np.float32(rng.uniform(150, 215)) + np.array([-2, 0, 3], np.float32)
    return palette, grey - 20, grey


def _paint(rng: np.random.Generator, g: _Geometry, material: np.ndarray, shade: np.ndarray, sunny: bool) -> np.ndarray:
    """Colour, texture, light and sensor noise for a material map.

    Every brightness change is gathered into one factor per pixel, so that the colour image is
    multiplied once.
    """
    H, W = g.height, g.width
    palette, zenith, horizon_sky = _palette(rng, sunny)
    image = palette[material]
    sky = material == M["sky"]
    sky_blend = np.clip(g.rows / g.horizon, 0, 1)[..., None]
    image[sky] = np.broadcast_to(zenith * (1 - sky_blend) + horizon_sky * sky_blend, image.shape)[sky]
    factor = 1 + _COARSE[material] * _smooth_noise(rng, H, W, W / 30) + _FINE[material] * _smooth_noise(rng, H, W, 2.5)
    factor[(material == M["sidewalk"]) & (_frac(1 / g.t * 4) < 0.06)] *= 0.82  # paving joints
    side_light = np.where(g.cols < g.far_x, *rng.uniform(0.7, 1.15, 2)).astype(np.float32)
    factor *= np.where(_IS_FACADE[material], side_light, np.where(_IS_GROUND[material], shade, np.float32(1)))
    radius = np.hypot((g.cols - W / 2) / W, (g.rows - H / 2) / H)
    factor *= (1 - rng.uniform(0, 0.5) * radius**2) * rng.uniform(0.65, 1.25)  # vignette, exposure
    image *= factor[..., None] * (1 + rng.normal(0, 0.04, 3)).astype(np.float32)  # white balance
    image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(2, 6))
    gamma = np.round(255 * (np.arange(256) / 255) ** rng.uniform(0.85, 1.2)).astype(np.uint8)
    pil = Image.fromarray(gamma[np.clip(image, 0, 255).astype(np.uint8)])
    return np.asarray(pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0))))


def render_scene(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene: (RGB image uint8 HxWx3, Cityscapes label IDs uint8 HxW)."""
    g = _geometry(rng, height, width)
    sides = [_side(rng), _side(rng)]
    sunny = bool(rng.random() < 0.7)
    material = _layout(rng, g, sides)
    shade = _shadows(rng, g, sunny)
    _objects(rng, g, sides, material, shade)
    return _paint(rng, g, material, shade, sunny), _LABEL_OF[material]


_IMAGES, _LABELS = Path("training", "image_2"), Path("training", "semantic")  # the kitti_semantics layout


def generate(out: Path, count: int, seed: int, height: int = 375, width: int = 1242, workers: int = 1) -> None:
    """Write `count` scenes to `out` in the kitti_semantics layout (see the module docstring).

    Scenes are independent, so `workers` processes render them side by side (the same bytes
    whatever the number: scene i depends only on (seed, i)).
    """
    if count < 1:
        raise UserError(f"--count must be at least 1, got {count}")
    if seed < 0:
        raise UserError(f"--seed must be 0 or more, got {seed}")
    if height < 32 or width < 32:
        raise UserError(f"--height and --width must be at least 32 pixels, got {height}x{width}")
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    with staged_dir(Path(out)) as staging:
        (staging / _IMAGES).mkdir(parents=True)
        (staging / _LABELS).mkdir(parents=True)
        scenes = [(staging, seed, index, height, width) for index in range(count)]
        if workers == 1:
            for scene in scenes:
                _write_scene(*scene)
        else:
            # spawn, not fork: the caller may have TensorFlow's threads running (the benchmark does).
            with ProcessPoolExecutor(min(workers, count), mp_context=multiprocessing.get_context("spawn")) as pool:
                list(pool.map(_write_scene, *zip(*scenes), chunksize=max(1, count // (4 * workers))))


def _write_scene(root: Path, seed: int, index: int, height: int, width: int) -> None:
    image, label = render_scene(np.random.default_rng([seed, index]), height, width)
    stem = f"{index:06d}_10"
    Image.fromarray(image).save(root / _IMAGES / f"{stem}.png", compress_level=1)
    Image.fromarray(label).save(root / _LABELS / f"{stem}.png", compress_level=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to create (must not hold files)")
    parser.add_argument("--count", type=int, default=150, help="number of image/label pairs (default 150)")
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    parser.add_argument("--height", type=int, default=375, help="image height in pixels (default 375, as KITTI)")
    parser.add_argument("--width", type=int, default=1242, help="image width in pixels (default 1242, as KITTI)")
    parser.add_argument("--workers", type=int, default=1, help="processes rendering scenes side by side (default 1)")


def run(args: argparse.Namespace) -> None:
    generate(args.out, args.count, args.seed, args.height, args.width, args.workers)
    print(f"wrote {args.count} pairs of {args.height}x{args.width} to {args.out}")
