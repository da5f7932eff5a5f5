"""The procedural default dataset: layout, determinism, difficulty and all-or-nothing writing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segsweep import cli
from segsweep.data import synthetic
from segsweep.data.formats import find_samples, load_pair
from segsweep.errors import UserError

CITYSCAPES_IDS = {7, 8, 9, 11, 17, 21, 22, 23, 26}  # road, sidewalk, parking, building, pole, veg., terrain, sky, car


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def test_full_size_scenes_have_the_kitti_semantics_layout(make_synthetic: Callable[..., Path]) -> None:
    root = make_synthetic(count=3, seed=0, height=375, width=1242)
    samples = find_samples("kitti_semantics", root)
    assert [s.stem for s in samples] == ["000000_10", "000001_10", "000002_10"]
    for sample in samples:
        assert Image.open(sample.image).mode == "RGB" and Image.open(sample.label).mode == "L"
        image, road, valid = load_pair("kitti_semantics", sample, None, [0])  # 0 only: every pixel is labelled
        assert image.shape == (375, 1242, 3) and valid.all()
        assert set(np.unique(np.asarray(Image.open(sample.label)))) <= CITYSCAPES_IDS
        assert 0.08 < road.mean() < 0.45
        assert road[: 375 // 3].sum() == 0, "the road is below the horizon"


def test_scenes_vary_and_contain_the_classes_a_road_model_must_tell_apart(synthetic_dataset: Path) -> None:
    samples = find_samples("kitti_semantics", synthetic_dataset)
    labels = [np.asarray(Image.open(s.label)) for s in samples]
    present = set().union(*(np.unique(label).tolist() for label in labels))
    assert present == CITYSCAPES_IDS
    fractions = [float((label == 7).mean()) for label in labels]
    assert all(0.05 < f < 0.5 for f in fractions) and np.std(fractions) > 0.02


def test_road_coloured_non_road_exists(synthetic_dataset: Path) -> None:
    """Some scenes have sidewalks or parking whose colours fall inside the road's own range, so
    that colour alone cannot separate them (the task needs shape and context)."""
    overlaps = []
    for sample in find_samples("kitti_semantics", synthetic_dataset):
        image = np.asarray(Image.open(sample.image)).astype(float)
        label = np.asarray(Image.open(sample.label))
        road, lookalike = image[label == 7], image[np.isin(label, [8, 9])]
        if len(lookalike) < 50:
            continue
        low, high = np.percentile(road, 10, axis=0), np.percentile(road, 90, axis=0)
        overlaps.append(((lookalike >= low) & (lookalike <= high)).all(axis=1).mean())
    assert max(overlaps) > 0.5


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    def make(name: str, count: int, seed: int, workers: int = 1) -> dict[str, bytes]:
        synthetic.generate(tmp_path / name, count, seed, 48, 160, workers)
        return files(tmp_path / name)

    first, again, other, more = make("a", 2, 5), make("b", 2, 5), make("c", 2, 6), make("d", 3, 5)
    assert first == again
    assert make("e", 3, 5, workers=2) == more, "scenes rendered side by side are the same bytes"
    assert all(first[name] != other[name] for name in first)
    assert {name: more[name] for name in first} == first, "adding scenes leaves the earlier ones unchanged"


def test_a_failed_run_leaves_nothing_that_looks_like_a_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_render = synthetic.render_scene

    def render_then_fail(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_render(*args)

    monkeypatch.setattr(synthetic, "render_scene", render_then_fail)
    with pytest.raises(KeyboardInterrupt):
        synthetic.generate(tmp_path / "data", 3, 0, 48, 160)
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_and_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists and is not empty"):
        synthetic.generate(tmp_path / "data", 2, 0, 48, 160)
    with pytest.raises(UserError, match="--count"):
        synthetic.generate(tmp_path / "new", 0, 0)
    with pytest.raises(UserError, match="--seed"):
        synthetic.generate(tmp_path / "new", 1, -1)
    with pytest.raises(UserError, match="--workers"):
        synthetic.generate(tmp_path / "new", 1, 0, workers=0)
    assert not (tmp_path / "new").exists()


def test_cli_generate_into_an_existing_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    args = ["generate", "--out", str(out), "--count", "2", "--seed", "1", "--height", "40", "--width", "120"]
    assert cli.main(args) == 0
    assert "wrote 2 pairs" in capsys.readouterr().out
    assert len(find_samples("kitti_semantics", out)) == 2
    assert cli.main(args) == 2
    assert "already exists" in capsys.readouterr().err
