"""Build outputs under a hidden name beside their target and rename them into place at the end.

Snakemake, and a person, judge a step by whether its output exists: a dataset folder or manifest
half-written by a killed run would pass that test. A rename within one folder is atomic, so the
target either does not exist or is complete. Staging beside the target (not in /tmp) keeps the
rename on one filesystem.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segsweep.errors import UserError

PARTIAL_GLOB = ".*.partial-*"  # what a killed process may leave behind


def _sibling(out: Path) -> Path:
    """A hidden unique name beside `out` that keeps its suffixes: writers that go by the extension
    (Keras' ``.keras`` and ``.weights.h5``, pandas' ``.gz``) treat the staging file as they would
    treat `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    suffixes = "".join(out.suffixes)
    stem = out.name.removesuffix(suffixes)
    return out.parent / f".{stem}.partial-{uuid.uuid4().hex[:12]}{suffixes}"


def require_new_dir(out: Path) -> None:
    """Refuse an existing non-empty `out` rather than replace it: it may be a dataset someone
    unpacked by hand. Steps call this before slow work, so that they fail at once."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"output folder {out} already exists and is not empty; remove it first")


@contextmanager
def staged_dir(out: Path) -> Iterator[Path]:
    """Yield an empty folder that becomes `out` when the block succeeds, and is removed otherwise."""
    out = Path(out)
    require_new_dir(out)
    staging = _sibling(out)
    staging.mkdir()
    try:
        yield staging
        if out.is_dir():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def staged_file(out: Path) -> Iterator[Path]:
    """Yield a path to write that replaces `out` when the block succeeds, and is removed otherwise."""
    out = Path(out)
    staging = _sibling(out)
    try:
        yield staging
        os.replace(staging, out)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
