"""Write the train/val/test split manifest of a dataset (format: docs/formats.md).

Every pair is decoded and checked first, so that a bad file stops the workflow here, before any
training, with the file named; a dataset without a single road pixel (for the given or default
dataset.positive_ids and dataset.void_ids) is refused too.

Splits never leak through time. Frames of one drive a fraction of a second apart are near-copies,
so a test frame next to a training frame measures memory, not generalisation. Every frame therefore
has a *group* (its sequence: the first capture group, or else the whole match, of split.group_pattern
on the stem; the format's own pattern by default, e.g. CamVid ``0016E5_07959`` -> ``0016E5``; a
format whose names carry no drive, as KITTI's, makes each frame its own group) and a *frame number*
(the last run of digits in the stem outside the group; where a group's stems have none, their
position in stem order).

Assignment, in this order:

1. test: the groups named by split.test_groups, plus the format's own ``test`` folder
   (source format); with source random and no test_groups, the last part of the random cut.
   Source format without a test folder needs test_groups: which drive is held out is the
   user's call.
2. val: source format keeps the format's ``val`` folder (what is left of it after step 1);
   otherwise, or where it is empty, a random cut of the remaining frames by the train and val
   fractions; with ``split.val_cut: group_tails``, the last frames of every remaining group
   instead (its val fraction of them, in frame order), so that a leave-one-drive-out split whose
   held-out drive took the val folder still trains on every other drive.
3. train: the rest.

A random cut lays the groups out in an order shuffled by the seed (groups sorted first, so the
listing order never matters), each group's frames in frame order, and cuts that line into parts of
the sizes the fractions ask for. Each cut moves to the nearest group boundary, so that no group is
in two parts; only where no boundary is left (fewer groups than parts, e.g. one sequence) is a
group cut, and then into contiguous blocks in frame order, never interleaved. With one frame per
group this is exactly a shuffle of the sorted stems cut by the fractions.

The gap: wherever one group ends up in two splits (a cut group, CamVid's val drive beside its
training frames, a test folder continuing a training sequence), a frame is dropped when it lies
within split.gap frame numbers of a frame of a split that ranks above it (test > val > train); the
manifest keeps it with split ``gap``. Frame numbers, not positions, because they count time: CamVid
labels its training drives every 30th frame and its val drive every 2nd, so 30 positions are 30 s
in one folder and 2 s in the other.

The split axis (config split.repeats / folds / hold_out_each): repeats R gives split I of R random
cuts, seeded seed + I (the test groups named or the format's test folder stay fixed; for source
format with R > 1 the val folder is redrawn too). folds K keeps test fixed (cut with seed where it
is random) and cuts the rest, in the seed order, into K contiguous parts; fold I is val, as
nnU-Net's cross-validation. hold_out_each [G1, G2, ...] is leave-one-sequence-out: split I holds
out group GI as test (beside any test_groups); the rest is assigned as above, so with source
format the format's val folder stays val wherever its drive is not the one held out. The split
settings are checked in one place, segsweep.config's check_split.

The manifest's file is `segsweep.data.manifest`; the command line, `segsweep.data.split_cli`.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from segsweep.config.checks import check_split
from segsweep.data.folder import dataset_format
from segsweep.data.formats import Sample, default_group_pattern, find_samples
from segsweep.data.manifest import GAP, SPLITS, Frame, check_pairs, write_manifest
from segsweep.errors import DataError, UserError

# Frame numbers kept between two splits of one group: 1 s of CamVid's 30 fps video, which is also
# its training label interval, so that no held-out frame is as near a training frame as two
# consecutive training frames are to each other.
DEFAULT_GAP = 30


@dataclass(frozen=True)
class SplitRule:
    """How frames are assigned (see the module docstring); `index` picks one split of the axis."""

    source: str = "random"
    seed: int = 0
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    test_groups: tuple[str, ...] = ()
    gap: int = DEFAULT_GAP
    repeats: int = 1
    folds: int | None = None
    hold_out_each: tuple[str, ...] = ()
    val_cut: str = "whole_groups"
    index: int = 0

    @property
    def held_out(self) -> tuple[str, ...]:
        """The groups this split tests on: the fixed test groups and, on a leave-one-out axis, its own."""
        return self.test_groups + self.hold_out_each[self.index : self.index + 1]

    @classmethod
    def from_settings(cls, split: dict, index: int = 0) -> SplitRule:
        """Split `index` of the axis of the config's `split` mapping, checked (and its defaults filled)
        by segsweep.config's check_split, the check the workflow makes before any job."""
        split = check_split(split, index)
        return cls(
            source=split["source"],
            seed=split["seed"],
            fractions=tuple(split["fractions"][name] for name in SPLITS),
            test_groups=tuple(split["test_groups"]),
            gap=split["gap"],
            repeats=split["repeats"],
            folds=split["folds"],
            hold_out_each=tuple(split["hold_out_each"]),
            val_cut=split["val_cut"],
            index=index,
        )


# --- groups and frame numbers --------------------------------------------------------------


def compile_group_pattern(fmt: str, group_pattern: str | None) -> re.Pattern | None:
    """The group regex: the given one, or the format's own for None or ''."""
    pattern = group_pattern or default_group_pattern(fmt)
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        raise UserError(f"split group pattern {pattern!r} is not a valid regular expression: {error}") from None


def _group_span(stem: str, pattern: re.Pattern | None) -> tuple[int, int]:
    if pattern is None:
        return 0, len(stem)
    match = pattern.search(stem)
    which = 1 if pattern.groups else 0
    if match is None or not match[which]:
        raise DataError(
            f"stem {stem!r}: split group pattern {pattern.pattern!r} finds no group in it "
            "(set split.group_pattern to a regex whose first capture group is the sequence)"
        )
    return match.span(which)


def place_frames(samples: list[Sample], pattern: re.Pattern | None) -> list[Frame]:
    """Each sample's group and frame number, in stem order."""
    spans = {s.stem: _group_span(s.stem, pattern) for s in samples}
    numbers: dict[str, int | None] = {}
    for stem, (start, end) in spans.items():
        digits = re.findall(r"\d+", f"{stem[:start]}/{stem[end:]}")
        numbers[stem] = int(digits[-1]) if digits else None
    by_group: dict[str, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: s.stem):
        start, end = spans[sample.stem]
        by_group[sample.stem[start:end]].append(sample)
    frames = []
    for group, members in by_group.items():
        numbered = all(numbers[s.stem] is not None for s in members)
        for position, sample in enumerate(members):
            frames.append(Frame(sample, group, numbers[sample.stem] if numbered else position))
    return sorted(frames, key=lambda f: f.stem)


# --- cutting a line of frames ----------------------------------------------------------------


def _in_time_order(frames: list[Frame], group_order: Sequence[str]) -> list[Frame]:
    rank = {group: i for i, group in enumerate(group_order)}
    return sorted(frames, key=lambda f: (rank[f.group], f.number, f.stem))


def shuffled_groups(frames: list[Frame], seed: int) -> list[str]:
    """The groups, sorted, then permuted by `seed`: independent of listing order."""
    groups = sorted({f.group for f in frames})
    return [groups[i] for i in np.random.default_rng(seed).permutation(len(groups))]


def cut_line(line: list[Frame], sizes: Sequence[int]) -> list[list[Frame]]:
    """Cut `line` into len(sizes) non-empty contiguous parts of about `sizes` frames.

    The cuts are chosen together: first as few of them inside a group as possible, then the least
    total distance from the sizes asked for. So whole groups are kept whenever there are enough of
    them, and a group is cut (into contiguous blocks) only where there are not.
    """
    if len(sizes) == 1:
        return [list(line)]
    n, targets = len(line), np.cumsum(sizes)[:-1]
    positions = np.arange(n + 1)  # a cut at p ends a part before line[p]
    inside_group = np.array([0 < p < n and line[p].group == line[p - 1].group for p in positions])
    penalty = float((n + 1) * len(sizes))  # above any total distance: one cut fewer inside a group wins
    cost = np.full(n + 1, np.inf)
    cost[0] = 0.0  # the line starts at 0
    back = []
    for target in targets:
        best_at, best = np.zeros(n + 1, int), 0  # best_at[p]: the cheapest earlier cut at or before p
        for p in positions:
            best = p if cost[p] < cost[best] else best
            best_at[p] = best
        step = np.abs(positions - target) + penalty * inside_group
        new_cost = np.full(n + 1, np.inf)
        new_cost[1:n] = step[1:n] + cost[best_at[: n - 1]]
        back.append(best_at)
        cost = new_cost
    cuts, last = [n], int(np.argmin(cost))
    for best_at in reversed(back):
        cuts.append(last)
        last = int(best_at[last - 1])
    cuts.append(0)
    cuts.reverse()
    return [line[a:b] for a, b in zip(cuts, cuts[1:])]


def _part_sizes(n: int, fractions: Sequence[float], what: str) -> list[int]:
    """Frames per part: every part after the first gets round(n * fraction), at least 1."""
    tail = [max(1, math.floor(n * f / sum(fractions) + 0.5)) for f in fractions[1:]]
    if n - sum(tail) < 1:
        raise DataError(
            f"cannot split {n} images into {what} with at least one image each (fractions {list(fractions)})"
        )
    return [n - sum(tail), *tail]


def random_cut(frames: list[Frame], seed: int, names: Sequence[str], fractions: Sequence[float]) -> dict[str, str]:
    """stem -> split: the groups in `seed` order cut into `names` by `fractions`."""
    line = _in_time_order(frames, shuffled_groups(frames, seed))
    parts = cut_line(line, _part_sizes(len(line), fractions, "/".join(names)))
    return {f.stem: name for name, part in zip(names, parts) for f in part}


# --- assignment ------------------------------------------------------------------------------


def _groups_text(frames: list[Frame]) -> str:
    counts = pd.Series([f.group for f in frames]).value_counts().sort_index()
    shown = ", ".join(f"{group} ({n})" for group, n in counts.head(12).items())
    return shown + (f" and {len(counts) - 12} more" if len(counts) > 12 else "")


def _held_out_test(frames: list[Frame], rule: SplitRule, folder: Path) -> set[str]:
    """Stems of this split's test set: the named groups (`SplitRule.held_out`) plus a format test folder."""
    known = {f.group for f in frames}
    unknown = sorted(set(rule.test_groups + rule.hold_out_each) - known)
    if unknown:
        raise DataError(f"{folder}: split test groups {unknown} are not among the groups here: {_groups_text(frames)}")
    test = {f.stem for f in frames if f.group in rule.held_out}
    if rule.source == "format":
        test |= {f.stem for f in frames if f.sample.subset == "test"}
        if not test:
            raise DataError(
                f"{folder}: no test folder; name the sequence(s) to hold out as test in split.test_groups, "
                f"e.g. one of: {_groups_text(frames)}"
            )
    return test


def assign(frames: list[Frame], rule: SplitRule, fmt: str, folder: Path) -> dict[str, str]:
    """stem -> train | val | test, before the gap (see the module docstring); `folder` is the
    dataset's, for messages."""
    if rule.source == "format" and any(f.sample.subset is None for f in frames):
        raise UserError(f"format {fmt} has no split folders of its own; use split source 'random'")
    if rule.source == "format" and not any(f.sample.subset == "train" for f in frames):
        raise DataError(f"{folder}: split source 'format' needs a train folder")
    test = _held_out_test(frames, rule, folder)
    train_fraction, val_fraction, _ = rule.fractions
    if rule.folds is None and not test:  # random, nothing held out by name: one three-way cut
        return random_cut(frames, rule.seed + rule.index, SPLITS, rule.fractions)
    if not test:  # folds over a random split: its test part stays fixed across folds
        test = {s for s, name in random_cut(frames, rule.seed, SPLITS, rule.fractions).items() if name == "test"}
    pool = [f for f in frames if f.stem not in test]
    if not pool:
        raise DataError(f"{folder}: nothing is left for train and val once the test groups are held out")
    splits = dict.fromkeys(test, "test")
    if rule.folds is not None:
        line = _in_time_order(pool, shuffled_groups(pool, rule.seed))
        if len(line) < rule.folds:
            raise DataError(f"{folder}: cannot cut {len(line)} train+val images into {rule.folds} folds")
        n, k = len(line), rule.folds
        parts = cut_line(line, [n // k + (fold < n % k) for fold in range(k)])
        return splits | {f.stem: "val" if k == rule.index else "train" for k, part in enumerate(parts) for f in part}
    val_folder = {f.stem for f in pool if f.sample.subset == "val"}
    if rule.source == "format" and rule.repeats == 1 and val_folder:
        return splits | {f.stem: "val" if f.stem in val_folder else "train" for f in pool}
    if rule.val_cut == "group_tails":
        return splits | group_tails(pool, val_fraction / (train_fraction + val_fraction))
    return splits | random_cut(pool, rule.seed + rule.index, ("train", "val"), (train_fraction, val_fraction))


def group_tails(frames: list[Frame], fraction: float) -> dict[str, str]:
    """stem -> train | val: the last round(n x fraction) frames of each group of n (at least one where
    n > 1, never all) are val, the rest train. Val is then the latest stretch of every drive, as a
    forecast is tested on what comes after its training data; `keep_gap` drops the frames at the seam."""
    by_group: dict[str, list[Frame]] = defaultdict(list)
    for frame in frames:
        by_group[frame.group].append(frame)
    result = {}
    for members in by_group.values():
        ordered = sorted(members, key=lambda f: f.number)
        n_val = min(len(ordered) - 1, max(1, math.floor(len(ordered) * fraction + 0.5))) if len(ordered) > 1 else 0
        result |= {f.stem: "val" if k >= len(ordered) - n_val else "train" for k, f in enumerate(ordered)}
    return result


def keep_gap(frames: list[Frame], splits: dict[str, str], gap: int) -> dict[str, str]:
    """Move to GAP every frame within `gap` frame numbers of a kept frame of a higher-ranked split
    in its group; test is never moved, val only for test, train for either."""
    result = dict(splits)
    by_group: dict[str, list[Frame]] = defaultdict(list)
    for frame in frames:
        by_group[frame.group].append(frame)
    # val first: a val frame dropped for test must not push train frames away.
    for name, above in (("val", {"test"}), ("train", {"test", "val"})):
        for members in by_group.values():
            kept = np.sort([f.number for f in members if result[f.stem] in above])
            if not kept.size:
                continue
            for frame in members:
                if result[frame.stem] == name and _distance(kept, frame.number) <= gap:
                    result[frame.stem] = GAP
    return result


def _distance(sorted_numbers: np.ndarray, number: int) -> int:
    """Distance from `number` to the nearest of `sorted_numbers` (non-empty)."""
    i = int(np.searchsorted(sorted_numbers, number))
    return int(min(abs(int(sorted_numbers[j]) - number) for j in (i - 1, i) if 0 <= j < len(sorted_numbers)))


def make_split(dataset: dict, split: dict, out: Path, index: int = 0) -> pd.DataFrame:
    """Check the dataset, assign split `index` of the axis, keep the gap and write the manifest (see
    the module docstring). `dataset` and `split` are the config's mappings (segsweep.config's
    split_settings): `dataset` needs format and root, with folder, positive_ids and void_ids where
    set; keys `split` leaves out take the schema's defaults."""
    rule = SplitRule.from_settings(split, index)
    fmt, root = dataset_format(dataset), Path(dataset["root"])
    pattern = compile_group_pattern(fmt, split.get("group_pattern"))
    samples = find_samples(fmt, root)
    check_pairs(fmt, samples, dataset.get("positive_ids"), dataset.get("void_ids"))
    frames = place_frames(samples, pattern)
    splits = keep_gap(frames, assign(frames, rule, fmt, root), rule.gap)
    empty = [name for name in SPLITS if name not in splits.values()]
    if empty:
        raise DataError(
            f"{root}: splits {empty} are empty once frames within split.gap = {rule.gap} of another "
            "split are dropped; lower split.gap or hold out other groups"
        )
    return write_manifest(frames, splits, out)
