"""Write the train/val/test split manifest of a dataset (format: docs/formats.md).

Every pair is decoded and checked first, so that a bad file stops the workflow here, before any
training, with the file named; a dataset without a single road pixel (for the given or default
--positive-ids) is refused too.

--source random: the stems, sorted, are shuffled with --seed and cut by --fractions (TRAIN VAL
TEST, summing to 1); each split gets at least one image. The result depends only on the stems,
the seed and the fractions: not on file listing order, nor on any training seed.

--source format: the format's own folders (CamVid train/val/test). Where the format has a val
folder but no test folder (as the common SegNet release of CamVid), the val stems, sorted, are
shuffled with --seed and halved: the first half (rounded up) stays val and the rest becomes
test. A test folder without a val folder is halved the same way, its first half becoming val.
--fractions are not used.

The CSV is written beside --out under a hidden name and renamed into place.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from segsweep.data.formats import FORMAT_NAMES, Sample, find_samples, load_pair, resolve_positive_ids
from segsweep.data.staging import staged_file
from segsweep.errors import DataError, UserError

SPLITS = ("train", "val", "test")
COLUMNS = ("stem", "split", "image", "label")


def check_pairs(fmt: str, samples: list[Sample], positive_ids: list[int] | None) -> None:
    """Decode every pair, raising DataError on the first bad one or when no label has any road."""
    positive = resolve_positive_ids(fmt, positive_ids)
    has_road = [bool(load_pair(fmt, sample, positive)[1].any()) for sample in samples]  # all, no short cut
    if not any(has_road):
        folder = samples[0].label.parent if samples else "the dataset"
        raise DataError(
            f"no road pixels in any of the {len(samples)} labels in {folder}: looked for label IDs "
            f"{positive} of format {fmt}; set dataset.positive_ids to the IDs your labels use for road"
        )


def random_split(stems: list[str], seed: int, fractions: tuple[float, float, float]) -> dict[str, str]:
    """stem -> split: shuffle the sorted stems with `seed`, then cut by `fractions`."""
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise UserError(f"--fractions must be three numbers above 0 summing to 1, got {list(fractions)}")
    ordered = sorted(stems)
    n = len(ordered)
    n_val, n_test = (max(1, math.floor(n * f + 0.5)) for f in fractions[1:])
    n_train = n - n_val - n_test
    if n_train < 1:
        raise DataError(
            f"cannot split {n} images into train/val/test with at least one image each "
            f"(fractions {list(fractions)})"
        )
    shuffled = [ordered[i] for i in np.random.default_rng(seed).permutation(n)]
    names = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    return dict(zip(shuffled, names))


def format_split(samples: list[Sample], seed: int, fmt: str) -> dict[str, str]:
    """stem -> split from the format's own folders, halving val (or test) where the other is missing."""
    by_subset: dict[str, list[str]] = {}
    for sample in samples:
        if sample.subset not in SPLITS:
            raise UserError(f"format {fmt} has no split folders of its own; use split source 'random'")
        by_subset.setdefault(sample.subset, []).append(sample.stem)
    folder = samples[0].image.parent.parent
    if "train" not in by_subset:
        raise DataError(f"{folder}: split source 'format' needs a train folder")
    if "val" not in by_subset and "test" not in by_subset:
        raise DataError(f"{folder}: split source 'format' needs a val or test folder besides train")
    assigned = {stem: subset for subset, stems in by_subset.items() for stem in stems}
    for present, missing in (("val", "test"), ("test", "val")):
        if missing in by_subset:
            continue
        stems = sorted(by_subset[present])
        if len(stems) < 2:
            raise DataError(f"{folder}: cannot halve the {len(stems)} image(s) of {present} into val and test")
        shuffled = [stems[i] for i in np.random.default_rng(seed).permutation(len(stems))]
        half = math.ceil(len(stems) / 2)
        assigned.update({stem: "val" for stem in shuffled[:half]} | {stem: "test" for stem in shuffled[half:]})
    return assigned


def write_manifest(samples: list[Sample], splits: dict[str, str], out: Path) -> pd.DataFrame:
    """Write the manifest CSV (rows in stem order) atomically; return it."""
    ordered = sorted(samples, key=lambda s: s.stem)
    manifest = pd.DataFrame(
        [(s.stem, splits[s.stem], str(s.image), str(s.label)) for s in ordered], columns=list(COLUMNS)
    )
    with staged_file(Path(out)) as staging:
        manifest.to_csv(staging, index=False)
    return manifest


def read_manifest(path: Path) -> pd.DataFrame:
    """The manifest as strings (stems such as 000000_10 must not become numbers), checked."""
    path = Path(path)
    try:
        manifest = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"cannot read split manifest {path}: {error}") from None
    missing = [c for c in COLUMNS if c not in manifest.columns]
    if missing:
        raise DataError(f"split manifest {path} lacks columns {missing} (has {list(manifest.columns)})")
    unknown = sorted(set(manifest["split"]) - set(SPLITS))
    if unknown:
        raise DataError(f"split manifest {path}: unknown split names {unknown}; expected {list(SPLITS)}")
    duplicated = manifest["stem"][manifest["stem"].duplicated()].tolist()
    if duplicated:
        raise DataError(f"split manifest {path}: stems listed more than once: {duplicated[:5]}")
    return manifest


def manifest_samples(manifest: pd.DataFrame, split: str) -> list[Sample]:
    """The pairs of one split, in manifest (stem) order."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rows = manifest[manifest["split"] == split]
    return [Sample(row.stem, Path(row.image), Path(row.label)) for row in rows.itertuples(index=False)]


def make_split(
    fmt: str,
    root: Path,
    positive_ids: list[int] | None,
    source: str,
    seed: int,
    fractions: tuple[float, float, float],
    out: Path,
) -> pd.DataFrame:
    """Check the dataset, assign splits and write the manifest (see the module docstring)."""
    if seed < 0:
        raise UserError(f"split seed must be 0 or more, got {seed}")
    samples = find_samples(fmt, root)
    check_pairs(fmt, samples, positive_ids)
    if source == "random":
        splits = random_split([s.stem for s in samples], seed, fractions)
    elif source == "format":
        splits = format_split(samples, seed, fmt)
    else:
        raise UserError(f"split source must be 'random' or 'format', got {source!r}")
    return write_manifest(samples, splits, out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=FORMAT_NAMES, help="dataset layout")
    parser.add_argument("--root", type=Path, required=True, help="dataset folder")
    parser.add_argument(
        "--positive-ids", type=int, nargs="*", default=[], metavar="ID",
        help="label IDs that are road (none given: the format's own, 7 for KITTI, 3 for CamVid)",
    )  # fmt: skip
    parser.add_argument("--source", choices=("random", "format"), default="random", help="how to split")
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    parser.add_argument(
        "--fractions", type=float, nargs=3, default=(0.7, 0.15, 0.15), metavar=("TRAIN", "VAL", "TEST"),
        help="split fractions for --source random (default 0.7 0.15 0.15)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="manifest CSV to write")


def run(args: argparse.Namespace) -> None:
    manifest = make_split(
        args.format, args.root, args.positive_ids, args.source, args.seed, tuple(args.fractions), args.out
    )
    counts = manifest["split"].value_counts()
    print(f"wrote {args.out}: " + ", ".join(f"{name} {counts.get(name, 0)}" for name in SPLITS))
