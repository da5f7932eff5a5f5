"""`segsweep split`: write the train/val/test split manifest of a dataset.

How frames are assigned is in segsweep.data.split; the manifest's columns in docs/formats.md. The
CSV is written beside --out under a hidden name and renamed into place.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segsweep.data.folder import add_folder_argument, format_from_args
from segsweep.data.formats import FORMAT_NAMES
from segsweep.data.manifest import GAP, SPLITS, closest_frames
from segsweep.data.split import DEFAULT_GAP, make_split


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=(*FORMAT_NAMES, "folder"), help="dataset layout")
    add_folder_argument(parser)
    parser.add_argument("--root", type=Path, required=True, help="dataset folder")
    parser.add_argument(
        "--positive-ids", type=int, nargs="*", default=[], metavar="ID",
        help="label IDs that are road (none given: the format's own, 7 for KITTI, 3 for CamVid)",
    )  # fmt: skip
    parser.add_argument(
        "--void-ids", type=int, nargs="*", default=[], metavar="ID",
        help="label IDs that are void (none given: the format's own, e.g. 11 for CamVid)",
    )  # fmt: skip
    parser.add_argument("--source", choices=("random", "format"), default="random", help="how to split")
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    parser.add_argument(
        "--fractions", type=float, nargs=3, default=(0.7, 0.15, 0.15), metavar=("TRAIN", "VAL", "TEST"),
        help="split fractions of a random cut (default 0.7 0.15 0.15)",
    )  # fmt: skip
    parser.add_argument(
        "--group-pattern", default="", metavar="REGEX",
        help="regex on the stem whose first capture group (or whole match) is the group (empty: the format's own)",
    )  # fmt: skip
    parser.add_argument(
        "--test-groups", nargs="*", default=[], metavar="GROUP", help="groups held out whole as test"
    )  # fmt: skip
    parser.add_argument(
        "--gap", type=int, default=DEFAULT_GAP,
        help=f"frames of two splits of one group stay more than GAP frame numbers apart (default {DEFAULT_GAP})",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=1, help="random splits on the split axis (default 1)")
    parser.add_argument(
        "--folds", type=int, default=None, help="k-fold cross-validation folds on the split axis (not with --repeats > 1)"
    )  # fmt: skip
    parser.add_argument(
        "--hold-out-each", nargs="*", default=[], metavar="GROUP",
        help="leave-one-sequence-out split axis: split I holds out the I-th of these groups as test",
    )  # fmt: skip
    parser.add_argument("--index", type=int, default=0, help="which split of the axis to write (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="manifest CSV to write")


def run(args: argparse.Namespace) -> None:
    manifest = make_split(
        format_from_args(args.format, args.folder), args.root, args.positive_ids, args.source, args.seed, tuple(args.fractions), args.out,
        void_ids=args.void_ids, group_pattern=args.group_pattern, test_groups=tuple(args.test_groups),
        gap=args.gap, repeats=args.repeats, folds=args.folds, hold_out_each=tuple(args.hold_out_each), index=args.index,
    )  # fmt: skip
    counts = manifest["split"].value_counts()
    groups = manifest.groupby("split")["group"].agg(lambda g: " ".join(sorted(set(g))))
    print(f"wrote {args.out}:")
    for name in (*SPLITS, GAP):
        if counts.get(name, 0):
            print(f"  {name}: {counts[name]} images, groups {groups[name]}")
    closest = closest_frames(manifest)
    if closest is None:
        print("no group is in two splits")
    else:
        print(f"nearest frames of two splits in one group: {closest['distance']} frame numbers apart, "
              f"{closest['first']} and {closest['second']}")  # fmt: skip
