"""`segsweep split`: write the train/val/test split manifest of a dataset.

The settings are the config's `dataset` and `split` keys, as every step takes them: ``--settings
JSON`` (what the make_split rule passes: segsweep.config's split_settings) or ``--config FILE``
(by hand). How frames are assigned is in segsweep.data.split; the manifest's columns in
docs/formats.md. The CSV is written beside --out under a hidden name and renamed into place.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segsweep.config import split_settings_from_args
from segsweep.data.manifest import GAP, SPLITS, closest_frames
from segsweep.data.split import make_split


def add_arguments(parser: argparse.ArgumentParser) -> None:
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--settings", metavar="JSON", help='{"dataset": {...}, "split": {...}}: the keys of a config')
    given.add_argument("--config", metavar="FILE", help="a workflow config file (by hand)")
    parser.add_argument("--index", type=int, default=0, help="which split of the config's split axis (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="manifest CSV to write")


def run(args: argparse.Namespace) -> None:
    settings = split_settings_from_args(args.settings, args.config)
    manifest = make_split(settings["dataset"], settings["split"], args.out, args.index)
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
        print(
            f"nearest frames of two splits in one group: {closest['distance']} frame numbers apart, "
            f"{closest['first']} and {closest['second']}"
        )
