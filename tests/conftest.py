"""Fixtures shared by the whole suite.

- `make_synthetic(count, seed, height, width)`: a procedural kitti_semantics dataset, generated
  once per session for each distinct set of arguments; `synthetic_dataset` is a tiny one. Treat
  them as read-only (copy before changing them): other tests share them.
- `REPO`, the repository's root; `merged(base, changes)`, a config merged over another as
  Snakemake merges config files; `shipped_config(*names)`, config/<names> merged so: import them (`from conftest import REPO`).
- `finished_tiny_sweep`: the workflow run to the end on tests/configs/tiny.yaml, made once for the
  whole `make test` (its workers share it): read-only; a test that runs Snakemake in it writes
  nothing under its results/ (dry runs, or outputs elsewhere).
- `shared_data` and the per-sample fixtures: the real third-party samples kept beside the
  repository in ../shared/data (non-commercial licences: never copied into the repository).
  Tests using them skip where they are absent.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from segsweep.config.loader import merged
from segsweep.data.split import make_split
from segsweep.data.synthetic import generate

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# The longest modules, longest first (pytest --durations, 2026-12-03): `make test` hands whole
# modules to its workers (pytest-xdist --dist loadfile), and a long module handed out last would
# finish alone while the other core idles.
LONGEST_MODULES = (
    "test_slurm",
    "test_workflow",
    "test_training_runs",
    "test_bench",
    "test_tuning_workflow",
    "test_sequential_workflow",
    "test_own_model",
    "test_evaluate",
    "test_compute_matching",
    "test_aggregate",
    "test_hardware",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.module.__name__ if item.module else ""
        return LONGEST_MODULES.index(name) if name in LONGEST_MODULES else len(LONGEST_MODULES)

    items.sort(key=rank)  # stable: each module keeps its own order


def shipped_config(*names: str) -> dict:
    """config/<names>, each later file merged over the ones before it."""
    config: dict = {}
    for name in names:
        config = merged(config, yaml.safe_load((REPO / "config" / name).read_text()))
    return config


@pytest.fixture(scope="session")
def make_synthetic(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    made: dict[tuple[int, int, int, int], Path] = {}

    def make(count: int = 8, seed: int = 0, height: int = 96, width: int = 320) -> Path:
        key = (count, seed, height, width)
        if key not in made:
            out = tmp_path_factory.mktemp("synthetic") / f"n{count}_seed{seed}_{height}x{width}"
            generate(out, count, seed, height, width)
            made[key] = out
        return made[key]

    return make


@pytest.fixture(scope="session")
def make_synthetic_split(make_synthetic: Callable[..., Path]) -> Callable[..., tuple[Path, Path]]:
    """(dataset root, split manifest): make_synthetic's pairs, split 60/20/20 into train/val/test."""

    def make(count: int = 10, seed: int = 1, height: int = 375, width: int = 1242) -> tuple[Path, Path]:
        root = make_synthetic(count, seed, height, width)
        manifest = root.parent / f"{root.name}-split.csv"
        if not manifest.is_file():
            fractions = {"train": 0.6, "val": 0.2, "test": 0.2}
            make_split({"format": "kitti_semantics", "root": str(root)}, {"fractions": fractions}, manifest)
        return root, manifest

    return make


@pytest.fixture(scope="session")
def synthetic_dataset(make_synthetic: Callable[..., Path]) -> Path:
    """8 pairs of 96x320 in the kitti_semantics layout (seed 0)."""
    return make_synthetic()


@pytest.fixture(scope="session")
def finished_tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made by whichever pytest-xdist worker asks first, under a lock in the folder of this
    session's workers (`getbasetemp().parent`); the others wait for it, then read it. A tiny
    sweep is about a minute of both cores, and three modules read it (test_workflow,
    test_slurm, and test_sequential_workflow, which copies it)."""
    import workflow_runner as wf

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # without xdist, the parent holds earlier sessions
        root = root.parent
    workdir, done = root / "finished-tiny-sweep", root / "finished-tiny-sweep.done"
    with (root / "finished-tiny-sweep.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            code, out = wf.run(workdir, wf.tiny_config(), "--cores", "2")
            assert code == 0, out[-4000:]
            done.touch()
    return workdir


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data sample {path} is absent")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _shared("")


@pytest.fixture(scope="session")
def kitti_semantics_sample() -> Path:
    """5 KITTI semantic pairs, cropped to 1224x370 (format kitti_semantics)."""
    return _shared("kitti-semantics-sample")


@pytest.fixture(scope="session")
def kitti_road_sample() -> Path:
    """2 KITTI road pairs of 1242x375 with their lane masks (format kitti_road)."""
    return _shared("kitti-road-sample")


@pytest.fixture(scope="session")
def camvid_sample() -> Path:
    """CamVid, SegNet layout: 367 train and 101 val pairs of 480x360, no test folder (format camvid)."""
    return _shared("camvid")
