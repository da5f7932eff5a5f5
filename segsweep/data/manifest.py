"""The split manifest (docs/formats.md): one row per image pair with its split, group and frame
number; written atomically, read back checked, and the dataset's pairs checked before one is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from segsweep.data.formats import Sample, load_pair, resolve_positive_ids
from segsweep.data.staging import staged_file
from segsweep.errors import DataError

SPLITS = ("train", "val", "test")
GAP = "gap"  # the split of a frame dropped to keep split.gap between splits of one group
REQUIRED_COLUMNS = ("stem", "split", "image", "label")
COLUMNS = ("stem", "split", "group", "frame", "image", "label")


@dataclass(frozen=True)
class Frame:
    """A sample placed in time: its group (sequence) and frame number within it."""

    sample: Sample
    group: str
    number: int

    @property
    def stem(self) -> str:
        return self.sample.stem


def check_pairs(
    fmt: str, samples: list[Sample], positive_ids: list[int] | None, void_ids: list[int] | None = None
) -> None:
    """Decode every pair, raising DataError on the first bad one or when no label has any road."""
    positive = resolve_positive_ids(fmt, positive_ids, void_ids)
    has_road = [bool(load_pair(fmt, s, positive, void_ids)[1].any()) for s in samples]  # all, no short cut
    if not any(has_road):
        folder = samples[0].label.parent if samples else "the dataset"
        raise DataError(
            f"no road pixels in any of the {len(samples)} labels in {folder}: looked for label IDs "
            f"{positive} of format {fmt}; set dataset.positive_ids to the IDs your labels use for road"
        )


def write_manifest(frames: list[Frame], splits: dict[str, str], out: Path) -> pd.DataFrame:
    """Write the manifest CSV (rows in stem order) atomically; return it."""
    rows = [(f.stem, splits[f.stem], f.group, f.number, str(f.sample.image), str(f.sample.label)) for f in frames]
    manifest = pd.DataFrame(sorted(rows), columns=list(COLUMNS))
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
    missing = [c for c in REQUIRED_COLUMNS if c not in manifest.columns]
    if missing:
        raise DataError(f"split manifest {path} lacks columns {missing} (has {list(manifest.columns)})")
    unknown = sorted(set(manifest["split"]) - {*SPLITS, GAP})
    if unknown:
        raise DataError(f"split manifest {path}: unknown split names {unknown}; expected {[*SPLITS, GAP]}")
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


def closest_frames(manifest: pd.DataFrame) -> pd.Series | None:
    """The pair of frames of two different splits of one group that are nearest in frame number:
    {"distance", "group", "first", "second"} (stems), or None where no group is in two splits."""
    kept = manifest[manifest["split"] != GAP].astype({"frame": int}).sort_values(["group", "frame"])
    following = kept.shift(-1)
    across = (kept["group"] == following["group"]) & (kept["split"] != following["split"])
    if not across.any():
        return None
    distance = (following["frame"] - kept["frame"])[across]
    i = distance.idxmin()
    first, second = kept.loc[i], following.loc[i]
    return pd.Series(
        {
            "distance": int(distance[i]),
            "group": first["group"],
            "first": f"{first['stem']} ({first['split']})",
            "second": f"{second['stem']} ({second['split']})",
        }
    )
