"""The split manifest: group-aware random and format splits, the gap, the split axis, the checks
before it, reading it back."""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import REPO, shipped_config
from segsweep import cli
from segsweep.config import canonical_json, check_split, load_config, split_count, split_settings
from segsweep.data.formats import Sample, find_samples, load_pair
from segsweep.data.manifest import COLUMNS, GAP, SPLITS, Frame, closest_frames, manifest_samples, read_manifest
from segsweep.data.split import (
    DEFAULT_GAP,
    SplitRule,
    assign,
    compile_group_pattern,
    cut_line,
    keep_gap,
    make_split,
    place_frames,
    random_cut,
)
from segsweep.data.staging import staged_file
from segsweep.errors import ConfigError, DataError, UserError
from test_data_formats import camvid, kitti_semantics

STEMS = [f"{i:06d}_10" for i in range(150)]
FRACTIONS = (0.7, 0.15, 0.15)


def split_args(root: Path | str, out: Path | str) -> list[str]:
    """The command line of workflow/rules/data.smk: the config's split settings as JSON."""
    settings = {
        "dataset": {"format": "kitti_semantics", "root": str(root), "positive_ids": None},
        "split": {"source": "random", "seed": 0, "fractions": {"train": 0.5, "val": 0.25, "test": 0.25}},
    }
    return ["split", "--settings", canonical_json(settings), "--index", "0", "--out", str(out)]


def kitti(root: Path, **dataset) -> dict:
    return {"format": "kitti_semantics", "root": str(root), **dataset}


def camvid_at(root: Path) -> dict:
    return {"format": "camvid", "root": str(root)}


def random_split(stems: list[str], seed: int, fractions: tuple[float, float, float]) -> dict[str, str]:
    """stem -> split for frames that are each their own group: the sorted stems shuffled by `seed`
    and cut by `fractions` (TRAIN, VAL, TEST); with one frame per group, a random cut is this."""
    frames = [Frame(Sample(stem, Path(), Path()), stem, 0) for stem in stems]
    return random_cut(frames, seed, SPLITS, fractions)


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
        first, *_ = manifest_samples(manifest, name)
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
        make_split(kitti(root), {}, tmp_path / "split.csv")
    with pytest.raises(DataError, match=r"label IDs \[7, 22\]"):
        make_split(kitti(root, positive_ids=[7, 22]), {}, tmp_path / "split.csv")
    with pytest.raises(UserError, match=r"positive ids \[6\] cannot be road"):  # 6 (ground): void by default
        make_split(kitti(root, positive_ids=[6]), {}, tmp_path / "split.csv")
    make_split(
        kitti(root, positive_ids=[8]), {"fractions": {"train": 0.4, "val": 0.3, "test": 0.3}}, tmp_path / "split.csv"
    )
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


# --- groups, the gap and the split axis ------------------------------------------------------


def frames_of(groups: dict[str, list[int]]) -> list[Frame]:
    """Frames without files: group -> frame numbers; stems as CamVid's (group_number)."""
    return [
        Frame(Sample(f"{group}_{number:05d}", Path(), Path()), group, number)
        for group, numbers in groups.items()
        for number in numbers
    ]


def by_split(splits: dict[str, str], name: str) -> list[str]:
    return sorted(stem for stem, split in splits.items() if split == name)


def test_camvid_stems_give_the_sequence_and_frame_number(tmp_path: Path) -> None:
    stems = ["0016E5_07959", "0006R0_f00930", "Seq05VD_f00000", "0001TP_008550"]
    samples = [Sample(stem, Path(), Path()) for stem in stems]
    placed = {f.stem: (f.group, f.number) for f in place_frames(samples, compile_group_pattern("camvid", None))}
    assert placed == {
        "0016E5_07959": ("0016E5", 7959), "0006R0_f00930": ("0006R0", 930),
        "Seq05VD_f00000": ("Seq05VD", 0), "0001TP_008550": ("0001TP", 8550),
    }  # fmt: skip
    kitti = [Sample(stem, Path(), Path()) for stem in ("000000_10", "000000_11", "000001_10")]
    own = place_frames(kitti, compile_group_pattern("kitti_semantics", None))
    assert [f.group for f in own] == ["000000_10", "000000_11", "000001_10"]
    drives = place_frames(kitti, compile_group_pattern("kitti_semantics", r"^(\d+)_"))
    assert [(f.group, f.number) for f in drives] == [("000000", 10), ("000000", 11), ("000001", 10)]
    whole_match = place_frames(kitti, compile_group_pattern("kitti_semantics", r"^\d+"))
    assert [f.group for f in whole_match] == ["000000", "000000", "000001"]
    wordy = [Sample(stem, Path(), Path()) for stem in ("run_b", "run_a")]  # no digits: position in stem order
    assert [(f.stem, f.number) for f in place_frames(wordy, compile_group_pattern("camvid", None))] == [
        ("run_a", 0),
        ("run_b", 1),
    ]
    with pytest.raises(DataError, match=r"stem 'nounderscore': split group pattern '\^\(\[\^_\]\+\)_' finds no group"):
        place_frames([Sample("nounderscore", Path(), Path())], compile_group_pattern("camvid", None))
    with pytest.raises(UserError, match=r"split group pattern '\(' is not a valid regular expression"):
        compile_group_pattern("camvid", "(")


def test_random_splits_never_put_a_group_in_two_splits() -> None:
    sizes = {"A": 40, "B": 25, "C": 20, "D": 10, "E": 5, "F": 30}
    frames = frames_of({group: list(range(0, 30 * n, 30)) for group, n in sizes.items()})
    seen = set()
    for seed in range(12):
        splits = assign(frames, SplitRule(seed=seed), "camvid", Path("d"))
        split_of_group = {}
        for frame in frames:
            assert split_of_group.setdefault(frame.group, splits[frame.stem]) == splits[frame.stem], (seed, frame)
        assert set(split_of_group.values()) == set(SPLITS)
        seen.add(tuple(sorted(split_of_group.items())))
    assert len(seen) > 3, "the groups' splits depend on the seed"


def test_one_sequence_is_cut_into_contiguous_blocks_with_the_gap() -> None:
    frames = frames_of({"S": list(range(100))})
    splits = keep_gap(frames, assign(frames, SplitRule(fractions=(0.6, 0.2, 0.2)), "camvid", Path("d")), 5)
    # cut at 60 and 80 (in frame order); val frames 75-79 are within 5 of test 80, then train 55-59
    # within 5 of the kept val frame 60.
    expected = {f"S_{n:05d}": "train" for n in range(55)}
    expected |= {f"S_{n:05d}": GAP for n in (*range(55, 60), *range(75, 80))}
    expected |= {f"S_{n:05d}": "val" for n in range(60, 75)} | {f"S_{n:05d}": "test" for n in range(80, 100)}
    assert splits == expected


def test_cut_line_keeps_whole_groups_where_it_can() -> None:
    line = frames_of({"A": list(range(62)), "B": list(range(101)), "C": list(range(305))})
    parts = cut_line(line, [328, 70, 70])  # the sizes ask for cuts inside C; two boundaries exist
    assert [sorted({f.group for f in part}) for part in parts] == [["A"], ["B"], ["C"]]
    parts = cut_line(line[:163], [100, 40, 23])  # two groups, three parts: one cut inside a group
    assert [len(part) for part in parts] == [62, 78, 23]
    assert [f.number for f in parts[1]] == list(range(0, 78)), "contiguous, in frame order"
    assert [len(part) for part in cut_line(frames_of({"S": list(range(10))}), [4, 3, 3])] == [4, 3, 3]


def test_the_gap_counts_frame_numbers_and_test_ranks_highest() -> None:
    frames = frames_of({"S": [0, 30, 60, 90, 92, 94, 120, 150], "T": [0, 30]})
    splits = {"S_00000": "train", "S_00030": "train", "S_00060": "train", "S_00090": "val", "S_00092": "test",
              "S_00094": "val", "S_00120": "train", "S_00150": "train", "T_00000": "train", "T_00030": "val"}  # fmt: skip
    kept = keep_gap(frames, splits, 30)
    # val 90 and 94 go (2 from test 92); train 60 stays (32 from test; the dropped val 90 protects
    # nothing); train 120 goes (28 from test); in T, train 0 goes for val 30.
    assert kept == splits | {"S_00090": GAP, "S_00094": GAP, "S_00120": GAP, "T_00000": GAP}
    assert keep_gap(frames, splits, 2) == splits | {"S_00090": GAP, "S_00094": GAP}
    assert keep_gap(frames, splits, 1) == splits


def test_test_groups_are_held_out_whole_and_unknown_ones_refused() -> None:
    frames = frames_of({"A": list(range(0, 600, 30)), "B": list(range(0, 900, 30)), "C": list(range(0, 300, 30))})
    for seed in range(4):
        splits = assign(frames, SplitRule(seed=seed, test_groups=("C",)), "camvid", Path("d"))
        assert by_split(splits, "test") == [f.stem for f in frames if f.group == "C"]
        assert by_split(splits, "val") and by_split(splits, "train")
    with pytest.raises(
        DataError, match=r"d: split test groups \['Z'\] are not among the groups here: A \(20\), B \(30\), C \(10\)"
    ):
        assign(frames, SplitRule(test_groups=("Z",)), "camvid", Path("d"))


def test_folds_make_every_train_val_frame_val_once_with_a_fixed_test_set() -> None:
    frames = frames_of({"A": list(range(0, 1500, 30)), "B": list(range(0, 600, 30)), "C": list(range(0, 300, 30))})
    folds = [
        keep_gap(frames, assign(frames, SplitRule(test_groups=("C",), folds=4, index=i), "camvid", Path("d")), 30)
        for i in range(4)
    ]
    assert all(by_split(fold, "test") == by_split(folds[0], "test") for fold in folds)
    val_stems = [stem for fold in folds for stem in by_split(fold, "val")]
    assert len(val_stems) == len(set(val_stems)), "no frame is val in two folds"
    pool = {f.stem for f in frames if f.group != "C"}
    dropped = {stem for fold in folds for stem in by_split(fold, GAP)}
    assert set(val_stems) | dropped >= pool and set(val_stems) <= pool
    # 70 frames, seed 0 lays out A (50) then B (20): cuts asked at 18, 36, 53; the last moves to
    # the A|B boundary at 50. The gap drops train frames only (val ranks above train).
    assert [len(by_split(fold, "val")) for fold in folds] == [18, 18, 14, 20]
    random_folds = [assign(frames, SplitRule(folds=3, index=i), "camvid", Path("d")) for i in range(3)]
    assert all(by_split(fold, "test") == by_split(random_folds[0], "test") for fold in random_folds)


def test_hold_out_each_tests_on_one_group_per_split_and_keeps_the_format_val_folder() -> None:
    frames = frames_of({"A": list(range(0, 600, 30)), "B": list(range(0, 900, 30)), "C": list(range(0, 300, 30))})
    val_folder = {"B_00600", "B_00630", "B_00660"}
    frames = [replace(f, sample=replace(f.sample, subset="val" if f.stem in val_folder else "train")) for f in frames]
    rule = SplitRule(source="format", test_groups=("C",), hold_out_each=("A", "B"))
    held_out_a, held_out_b = (assign(frames, replace(rule, index=i), "camvid", Path("d")) for i in range(2))
    of_group = lambda group: [f.stem for f in frames if f.group == group]  # noqa: E731
    assert by_split(held_out_a, "test") == sorted(of_group("A") + of_group("C"))
    assert by_split(held_out_a, "val") == sorted(val_folder), "the format's val folder stays val"
    assert by_split(held_out_a, "train") == sorted(set(of_group("B")) - val_folder)
    # B held out takes the val folder with it: val is then cut from what is left (A), by the seed.
    assert by_split(held_out_b, "test") == sorted(of_group("B") + of_group("C"))
    assert set(by_split(held_out_b, "val")) | set(by_split(held_out_b, "train")) == set(of_group("A"))
    assert by_split(held_out_b, "val") and by_split(held_out_b, "train")


def test_group_tails_keep_every_remaining_drive_in_training_when_the_val_drive_is_held_out() -> None:
    frames = frames_of({"A": list(range(0, 600, 30)), "B": list(range(0, 900, 30)), "C": list(range(0, 300, 30))})
    val_folder = {"B_00600", "B_00630", "B_00660"}
    frames = [replace(f, sample=replace(f.sample, subset="val" if f.stem in val_folder else "train")) for f in frames]
    rule = SplitRule(source="format", hold_out_each=("A", "B"), val_cut="group_tails", fractions=(0.6, 0.2, 0.2))
    held_out_a, held_out_b = (assign(frames, replace(rule, index=i), "camvid", Path("d")) for i in range(2))
    assert by_split(held_out_a, "val") == sorted(val_folder), "the format's val folder comes first"
    # B held out took the val folder: val is the last quarter (0.2 / 0.8, rounded half up) of each other group, in frame order.
    assert by_split(held_out_b, "val") == [
        "A_00450",
        "A_00480",
        "A_00510",
        "A_00540",
        "A_00570",
        "C_00210",
        "C_00240",
        "C_00270",
    ]
    assert set(by_split(held_out_b, "train")) == {f.stem for f in frames if f.group in "AC"} - set(
        by_split(held_out_b, "val")
    )
    # the seam: the last training frame of each group is within the gap of its first val frame
    kept = keep_gap(frames, held_out_b, DEFAULT_GAP)
    assert kept["A_00420"] == GAP and kept["A_00450"] == "val"


def test_repeats_redraw_val_around_a_fixed_test_set() -> None:
    frames = frames_of({g: list(range(0, 300, 30)) for g in "ABCDEFG"})
    repeats = [assign(frames, SplitRule(test_groups=("G",), repeats=5, index=i), "camvid", Path("d")) for i in range(5)]
    assert all(by_split(r, "test") == by_split(repeats[0], "test") for r in repeats)
    assert len({tuple(by_split(r, "val")) for r in repeats}) > 1
    assert repeats[2] == assign(frames, SplitRule(seed=2, test_groups=("G",)), "camvid", Path("d")), "seed + index"


@pytest.mark.parametrize(
    ("split", "index", "message"),
    [
        ({"repeats": 3, "folds": 5}, 0, r"keys 'split.repeats' and 'split.folds' are different kinds of split axis"),
        ({"folds": 3, "hold_out_each": ["A", "B"]}, 0, r"keys 'split.folds' and 'split.hold_out_each' are different"),
        ({"test_groups": ["A"], "hold_out_each": ["A", "B"]}, 0, r"'split.hold_out_each' both hold \['A'\]"),
        ({"hold_out_each": ["A", "B"]}, 2, r"split index must be in 0\.\.1 \(2 splits\), got 2"),
        ({"folds": 5}, 5, r"split index must be in 0\.\.4 \(5 splits\), got 5"),
        ({}, 1, r"split index must be in 0\.\.0"),
        ({"folds": 1}, 0, r"key 'split.folds': 1 is less than the minimum of 2"),
        ({"gap": -1}, 0, r"key 'split.gap': -1 is less than the minimum of 0"),
        (
            {"fractions": {"train": 0.5, "val": 0.3, "test": 0.3}},
            0,
            r"key 'split.fractions': train \+ val \+ test must be 1",
        ),
    ],
)
def test_split_settings_are_checked_in_one_place(split: dict, index: int, message: str, tmp_path: Path) -> None:
    """The config's check (before any job) and make_split's (a step run by hand) are one function."""
    with pytest.raises(ConfigError, match=message):
        check_split(split, index)
    with pytest.raises(ConfigError, match=message):
        make_split(kitti(tmp_path / "never read"), split, tmp_path / "split.csv", index)


def test_split_command_takes_the_settings_of_a_config_file(
    synthetic_dataset: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """By hand, `segsweep split --config FILE` writes what the rule's --settings JSON of that config writes."""
    import yaml

    monkeypatch.chdir(synthetic_dataset.parent)
    config = {
        "dataset": {"name": "d", "format": "kitti_semantics", "root": synthetic_dataset.name},
        "split": {"repeats": 2, "gap": 0},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    rule = canonical_json(split_settings(load_config(tmp_path / "c.yaml")))
    for index in (0, 1):
        by_hand, by_rule = tmp_path / f"hand{index}.csv", tmp_path / f"rule{index}.csv"
        assert (
            cli.main(["split", "--config", str(tmp_path / "c.yaml"), "--index", str(index), "--out", str(by_hand)]) == 0
        )
        assert cli.main(["split", "--settings", rule, "--index", str(index), "--out", str(by_rule)]) == 0
        assert by_hand.read_text() == by_rule.read_text()
    assert (tmp_path / "hand0.csv").read_text() != (tmp_path / "hand1.csv").read_text()  # two draws of the axis
    assert cli.main(["split", "--config", str(tmp_path / "c.yaml"), "--index", "2", "--out", str(by_hand)]) == 2


def test_config_takes_one_split_axis_and_the_cli_default_gap_is_the_schema_one(tmp_path: Path) -> None:
    from segsweep.config import schema

    assert schema()["properties"]["split"]["properties"]["gap"]["default"] == DEFAULT_GAP
    config = tmp_path / "c.yaml"
    config.write_text(f"dataset: {{name: d, format: camvid, root: {tmp_path}}}\nsplit: {{repeats: 3, folds: 5}}\n")
    with pytest.raises(ConfigError, match=r"keys 'split.repeats' and 'split.folds' are different kinds of split axis"):
        load_config(config)
    config.write_text(
        f"dataset: {{name: d, format: camvid, root: {tmp_path}}}\nsplit: {{folds: 3, hold_out_each: [A]}}\n"
    )
    with pytest.raises(ConfigError, match=r"keys 'split.folds' and 'split.hold_out_each' are different kinds"):
        load_config(config)
    config.write_text(
        f"dataset: {{name: d, format: camvid, root: {tmp_path}}}\nsplit: {{test_groups: [A], hold_out_each: [A, B]}}\n"
    )
    with pytest.raises(ConfigError, match=r"keys 'split.test_groups' and 'split.hold_out_each' both hold \['A'\]"):
        load_config(config)
    config.write_text(f"dataset: {{name: d, format: camvid, root: {tmp_path}}}\nsplit: {{folds: 5}}\n")
    split = load_config(config)["split"]
    assert (split["folds"], split["repeats"], split["gap"], split["test_groups"]) == (5, 1, DEFAULT_GAP, [])


def test_format_source_uses_the_test_folder_and_drops_its_neighbours(tmp_path: Path) -> None:
    # As CamVid's official split: the test folder continues training sequence 0001TP.
    root = camvid(tmp_path / "data", {
        "train": ["0001TP_008490", "0001TP_008520", "0006R0_f00930", "0006R0_f00960"],
        "val": ["0016E5_07959"], "test": ["0001TP_008550", "Seq05VD_f00000"],
    })  # fmt: skip
    manifest = make_split(camvid_at(root), {"source": "format"}, tmp_path / "s.csv")
    splits = manifest.set_index("stem")["split"].to_dict()
    assert splits == {"0001TP_008490": "train", "0001TP_008520": GAP, "0006R0_f00930": "train",
                      "0006R0_f00960": "train", "0016E5_07959": "val", "0001TP_008550": "test",
                      "Seq05VD_f00000": "test"}  # fmt: skip
    assert manifest_samples(manifest, "train")[0].stem == "0001TP_008490"
    held_out = make_split(camvid_at(root), {"source": "format", "test_groups": ["0001TP"]}, tmp_path / "s.csv")
    assert by_split(held_out.set_index("stem")["split"].to_dict(), "test") == [
        "0001TP_008490",
        "0001TP_008520",
        "0001TP_008550",
        "Seq05VD_f00000",
    ]
    no_test = camvid(tmp_path / "nt", {"train": ["A_1", "B_1"], "val": ["C_1"]})
    with pytest.raises(
        DataError, match=r"no test folder; name the sequence\(s\) to hold out .* A \(1\), B \(1\), C \(1\)"
    ):
        make_split(camvid_at(no_test), {"source": "format"}, tmp_path / "nt.csv")
    with pytest.raises(UserError, match="no split folders of its own"):
        make_split(kitti(kitti_semantics(tmp_path / "k", ["a"])), {"source": "format"}, tmp_path / "k.csv")


def test_a_gap_that_empties_a_split_is_refused(tmp_path: Path) -> None:
    root = camvid(tmp_path / "data", {"train": ["S_000", "S_010"], "val": ["S_020"], "test": ["S_030"]})
    with pytest.raises(DataError, match=r"splits \['train', 'val'\] are empty once frames within split.gap = 30"):
        make_split(camvid_at(root), {"source": "format"}, tmp_path / "s.csv")
    manifest = make_split(camvid_at(root), {"source": "format", "gap": 9}, tmp_path / "s.csv")
    assert manifest["split"].tolist() == ["train", "train", "val", "test"]
    assert closest_frames(manifest).to_dict() == {
        "distance": 10,
        "group": "S",
        "first": "S_010 (train)",
        "second": "S_020 (val)",
    }
    assert closest_frames(manifest[manifest["split"] == "train"]) is None


def camvid_config_splits(tmp_path: Path, *overlays: str) -> list[pd.DataFrame]:
    """The manifests make_split writes for config/camvid.yaml with `overlays` on top, one per split
    of the axis; later files override the keys they set, as with snakemake --configfile A B."""
    import yaml

    (tmp_path / "merged.yaml").write_text(yaml.safe_dump(shipped_config("camvid.yaml", *overlays)))
    config = load_config(tmp_path / "merged.yaml")
    settings = split_settings(config)
    return [
        make_split(settings["dataset"], settings["split"], tmp_path / f"split{index}.csv", index)
        for index in range(split_count(config["split"]))
    ]


def drive_and_time(stem: str) -> tuple[str, int]:
    """CamVid's drive and frame number (the digits after the prefix), which counts time at 30 fps
    whichever folder a frame is in (train labels every 30th frame, val every 2nd)."""
    drive, frame = stem.split("_")
    return drive, int("".join(filter(str.isdigit, frame)))


def check_drive_held_out(manifest: pd.DataFrame, test_drive: str) -> dict[str, list[str]]:
    """The test split is exactly `test_drive`, which neither train nor val sees, and no frame is
    within 30 frames of a frame of another split of its sequence; the stems by split."""
    sequence = {stem: drive_and_time(stem) for stem in manifest["stem"]}
    stems = {name: manifest.loc[manifest["split"] == name, "stem"].tolist() for name in SPLITS}
    assert {sequence[s][0] for s in stems["test"]} == {test_drive}
    assert test_drive not in {sequence[s][0] for s in stems["train"] + stems["val"]}, "a drive never seen"

    def nearest(a: list[str], b: list[str]) -> float:
        return min(
            (abs(sequence[x][1] - sequence[y][1]) for x in a for y in b if sequence[x][0] == sequence[y][0]),
            default=float("inf"),
        )

    assert nearest(stems["test"], stems["train"] + stems["val"]) > 30
    assert nearest(stems["val"], stems["train"]) > 30
    return stems


def test_camvid_config_tests_on_a_drive_never_seen_in_training(
    camvid_sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """config/camvid.yaml on the real sample holds out the dusk drive 0001TP."""
    monkeypatch.chdir(REPO)
    (manifest,) = camvid_config_splits(tmp_path)
    stems = check_drive_held_out(manifest, "0001TP")
    assert {len(v) for v in stems.values()} == {305, 101, 62} and len(manifest) == 468


def test_camvid_loso_holds_out_each_drive_in_turn_with_the_val_folder_as_val(
    camvid_sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """config/camvid-loso.yaml on top: split 0 tests on 0001TP, split 1 on 0006R0, both validate
    on CamVid's val folder (101 frames of 0016E5) and train on everything else."""
    monkeypatch.chdir(REPO)
    manifests = camvid_config_splits(tmp_path, "camvid-loso.yaml")
    val_folder = sorted(path.stem for path in (camvid_sample / "val").glob("*.png"))
    for manifest, drive, sizes in zip(manifests, ["0001TP", "0006R0"], [(305, 62), (266, 101)]):
        stems = check_drive_held_out(manifest, drive)
        assert sorted(stems["val"]) == val_folder
        assert (len(stems["train"]), len(stems["test"])) == sizes and len(manifest) == 468
