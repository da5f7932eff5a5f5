"""The split manifest: group-aware random and format splits, the gap, the split axis, the checks
before it, reading it back."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_data_formats import camvid, kitti_semantics

from segsweep import cli
from segsweep.config import ConfigError, load_config
from segsweep.data.formats import Sample, find_samples, load_pair
from segsweep.data.split import (
    COLUMNS,
    DEFAULT_GAP,
    GAP,
    SPLITS,
    Frame,
    SplitRule,
    assign,
    closest_frames,
    compile_group_pattern,
    cut_line,
    keep_gap,
    make_split,
    manifest_samples,
    place_frames,
    random_split,
    read_manifest,
)
from segsweep.data.staging import staged_file
from segsweep.errors import DataError, UserError

STEMS = [f"{i:06d}_10" for i in range(150)]
FRACTIONS = (0.7, 0.15, 0.15)


def split_args(root: Path | str, out: Path | str, *, source: str = "random", ids: tuple[str, ...] = ()) -> list[str]:
    """The command line of workflow/rules/data.smk (an empty --positive-ids when the config has none)."""
    return ["split", "--format", "kitti_semantics", "--root", str(root), "--positive-ids", *ids,
            "--source", source, "--seed", "0", "--fractions", "0.5", "0.25", "0.25", "--out", str(out)]  # fmt: skip


def test_random_split_depends_only_on_seed_and_stems() -> None:
    splits = random_split(STEMS, 3, FRACTIONS)
    assert set(splits) == set(STEMS)
    shuffled = random.Random(1).sample(STEMS, len(STEMS))
    assert random_split(shuffled, 3, FRACTIONS) == splits, "listing order must not matter"
    assert random_split(STEMS, 4, FRACTIONS) != splits
    counts = pd.Series(splits).value_counts()
    for name, fraction in zip(SPLITS, FRACTIONS):
        assert abs(counts[name] - fraction * len(STEMS)) <= 1
    assert [splits[s] for s in STEMS] != sorted((splits[s] for s in STEMS), key=SPLITS.index), "shuffled"


def test_every_split_gets_an_image_or_the_split_is_refused() -> None:
    assert sorted(random_split(["a", "b", "c"], 0, (0.9, 0.05, 0.05)).values()) == ["test", "train", "val"]
    with pytest.raises(DataError, match="cannot split 2 images"):
        random_split(["a", "b"], 0, FRACTIONS)
    with pytest.raises(UserError, match="summing to 1"):
        random_split(STEMS, 0, (0.5, 0.3, 0.3))


def test_cli_checks_the_data_and_writes_the_manifest(
    synthetic_dataset: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(synthetic_dataset.parent)
    out = tmp_path / "splits" / "tiny.csv"
    assert cli.main(split_args(synthetic_dataset.name, out)) == 0
    manifest = read_manifest(out)
    assert list(manifest.columns) == list(COLUMNS) == ["stem", "split", "group", "frame", "image", "label"]
    assert (manifest["group"] == manifest["stem"]).all(), "KITTI: every frame its own group"
    samples = find_samples("kitti_semantics", Path(synthetic_dataset.name))
    assert manifest["stem"].tolist() == [s.stem for s in samples]  # stem order, as strings
    assert manifest["image"].tolist() == [str(s.image) for s in samples]  # relative, as found
    assert not Path(manifest["image"][0]).is_absolute()
    expected = random_split(manifest["stem"].tolist(), 0, (0.5, 0.25, 0.25))
    assert manifest.set_index("stem")["split"].to_dict() == expected
    for name in SPLITS:
        (first, *_) = manifest_samples(manifest, name)
        image, road, _ = load_pair("kitti_semantics", first, None)
        assert image.shape[:2] == road.shape
    with pytest.raises(ValueError, match="split must be one of"):
        manifest_samples(manifest, "validation")


def test_a_bad_pair_stops_the_split_with_the_file_named(
    synthetic_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = shutil.copytree(synthetic_dataset, tmp_path / "data")
    broken = root / "training" / "semantic" / "000005_10.png"
    broken.write_bytes(broken.read_bytes()[:200])
    out = tmp_path / "split.csv"
    assert cli.main(split_args(root, out)) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [root]


def test_a_dataset_without_road_is_refused(tmp_path: Path) -> None:
    root = kitti_semantics(tmp_path / "data", ["a", "b", "c"])
    for label in (root / "training" / "semantic").iterdir():
        Image.fromarray(np.full((16, 24), 8, np.uint8)).save(label)
    with pytest.raises(DataError, match=r"no road pixels in any of the 3 labels .* label IDs \[7\]"):
        make_split("kitti_semantics", root, None, "random", 0, FRACTIONS, tmp_path / "split.csv")
    with pytest.raises(DataError, match=r"label IDs \[7, 22\]"):
        make_split("kitti_semantics", root, [7, 22], "random", 0, FRACTIONS, tmp_path / "split.csv")
    with pytest.raises(UserError, match=r"positive ids \[6\] cannot be road"):  # 6 (ground): void by default
        make_split("kitti_semantics", root, [6], "random", 0, FRACTIONS, tmp_path / "split.csv")
    make_split("kitti_semantics", root, [8], "random", 0, (0.4, 0.3, 0.3), tmp_path / "split.csv")
    assert len(read_manifest(tmp_path / "split.csv")) == 3


def test_the_manifest_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "split.csv"
    with staged_file(out) as staging:
        assert staging.parent == tmp_path and staging.suffix == ".csv" and staging.name.startswith(".")
        staging.write_text("first")
    with pytest.raises(RuntimeError), staged_file(out) as staging:
        staging.write_text("half")
        raise RuntimeError("killed")
    assert out.read_text() == "first" and list(tmp_path.iterdir()) == [out]


def test_read_manifest_keeps_stems_as_text_and_checks_columns(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("stem,split,image,label\n000123,test,i/000123.png,l/000123.png\nNA,train,i/NA.png,l/NA.png\n")
    assert read_manifest(good)["stem"].tolist() == ["000123", "NA"]
    bad = tmp_path / "bad.csv"
    bad.write_text("stem,split,image\n000123,test,i/000123.png\n")
    with pytest.raises(DataError, match=r"bad\.csv lacks columns \['label'\]"):
        read_manifest(bad)
    bad.write_text("stem,split,image,label\na,training,i,l\n")
    with pytest.raises(DataError, match=r"unknown split names \['training'\]"):
        read_manifest(bad)
