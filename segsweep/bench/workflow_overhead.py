"""What Snakemake itself costs: building a large sweep's DAG, and the gaps between jobs."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile")]


def _snakemake(args: list[str], workdir: Path) -> float:
    start = time.perf_counter()
    subprocess.run([*SNAKEMAKE, "--directory", str(workdir), *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def big_sweep_config(models: int = 2, augmentations: int = 5, seeds: int = 100) -> dict:
    """2 x 5 x 100 = 1000 training jobs (and as many evaluations) on the procedural dataset."""
    extra = {f"photometric_{k}": [{"transform": "RandomGamma", "p": 0.5}] for k in range(augmentations - 3)}
    return {
        "dataset": {"name": "dag", "format": "kitti_semantics", "root": "results/data/dag", "generate": {}},
        "models": ["unet", "unetpp"][:models],
        "augmentations": ["none", "flip_crop", "photometric", *extra][:augmentations],
        "augmentation_presets": extra,
        "seeds": list(range(seeds)),
    }


def dag_seconds(workdir: Path, repeats: int = 3) -> dict:
    """Median wall time of `snakemake -n` for the 1000-training-job sweep."""
    config = big_sweep_config()
    path = workdir / "dag.yaml"
    path.write_text(yaml.safe_dump(config))
    times = [_snakemake(["-n", "--quiet", "--configfile", str(path)], workdir) for _ in range(repeats)]
    jobs = len(config["models"]) * len(config["augmentations"]) * len(config["seeds"])
    return {"training_jobs": jobs, "median_seconds": statistics.median(times), "seconds": times}


def between_jobs_seconds(config_path: Path, workdir: Path, overrides: dict) -> dict:
    """Run a small sweep locally (`config_path`, then `overrides` on top); wall time not spent
    inside any job, per job.

    Every rule writes a Snakemake `benchmark:` file, so the time inside jobs is their sum.
    What remains is Snakemake's start-up, DAG and scheduling, and process start of each job.
    """
    overrides_path = workdir / "overrides.yaml"  # not --config: it would read `seeds=[0]` as strings
    overrides_path.write_text(yaml.safe_dump(overrides))
    wall = _snakemake(["--cores", "1", "--configfile", str(config_path), str(overrides_path)], workdir)
    tables = [pd.read_csv(f, sep="\t") for f in (workdir / "results").glob("*/benchmarks/**/*.tsv")]
    inside = sum(float(t["s"].iloc[0]) for t in tables)
    return {
        "jobs": len(tables),
        "wall_seconds": wall,
        "inside_jobs_seconds": inside,
        "overhead_per_job_seconds": (wall - inside) / len(tables),
    }
