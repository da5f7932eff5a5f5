"""What a run cost in device-hours, and where that figure comes from.

A run's cost is the wall time its jobs held their devices times how many devices they held: GPUs
where the run used any, else CPU threads (run.json `devices`). So a CPU sweep is priced in
CPU-hours and a GPU sweep in GPU-hours, never the one passed off as the other. Sources, in order:

1. `sacct`, on SLURM: what the scheduler recorded, `ElapsedRaw` times the allocated `gres/gpu`
   (`cpu` where the job had no GPU) of every job of the run: each attempt of its training (a
   Snakemake retry is a new job; a requeued job keeps its ID, and `--duplicates` lists each time it
   ran) and the evaluation's job. A group job that ran both counts once. This is what the cluster
   bills, queue time excluded, and it covers attempts that were killed before they could write.
2. `benchmark`: the run's own record of its training wall time over every attempt (run.json
   `train_seconds`, each attempt up to its last saved epoch) plus the evaluation's Snakemake
   benchmark file (column `s`), times run.json's device count. Used where sacct does not answer
   (no SLURM, no accounting database, or the job is unknown to it).
3. `unknown`: neither is there (a run made before run.json recorded its devices, a missing
   benchmark file). The cost is NaN and the report says so; no figure is made up.

A tuning trial (config `tune`) is a training run the user paid for too, with no evaluation: it is
priced by the same sources over its training alone (sacct over its jobs, else its `train_seconds`
times its devices), a diverged trial included. The verdict's cost (`with_tuning`) keeps the
evaluation runs' total in `device_hours` and adds the trials' beside it; its sentence gives both.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SACCT_FIELDS = "JobIDRaw,ElapsedRaw,AllocTRES"
SOURCES = ("sacct", "benchmark", "unknown")


def unit_name(unit: str) -> str:
    """'GPU-hours' for runs.csv's cost_unit gpu_hours, 'CPU-hours' for cpu_hours; else 'device-hours'."""
    return {"gpu_hours": "GPU-hours", "cpu_hours": "CPU-hours"}.get(unit, "device-hours")


@dataclass(frozen=True)
class JobUsage:
    """One time a SLURM job ran: its wall seconds and what it was allocated."""

    seconds: float
    gpus: int
    cpus: int


@dataclass(frozen=True)
class RunCost:
    device_hours: float  # NaN when unknown
    unit: str  # "gpu_hours" or "cpu_hours"
    source: str  # one of SOURCES

    @property
    def known(self) -> bool:
        return not math.isnan(self.device_hours)


def parse_tres(tres: str) -> tuple[int, int]:
    """(GPUs, CPUs) of an AllocTRES string such as 'billing=2,cpu=2,gres/gpu=1,gres/gpu:h100=1,mem=4G'.

    SLURM lists the untyped `gres/gpu` total beside each typed count; the typed ones are summed
    only where the total is absent."""
    entries = dict(item.partition("=")[::2] for item in filter(None, tres.split(",")))
    typed = sum(int(value) for key, value in entries.items() if key.startswith("gres/gpu:") and value.isdigit())
    gpus = int(entries["gres/gpu"]) if entries.get("gres/gpu", "").isdigit() else typed
    return gpus, int(entries.get("cpu", "0") or 0)


def sacct_usage(job_ids: Iterable[str]) -> dict[str, list[JobUsage]] | None:
    """Every recorded run of each job, from one `sacct` call; None when sacct is absent or fails
    (a cluster without an accounting database answers with an error)."""
    ids = sorted(set(job_ids))
    if not ids or shutil.which("sacct") is None:
        return None
    command = [
        "sacct",
        "--noheader",
        "--parsable2",
        "--allocations",
        "--duplicates",
        f"--jobs={','.join(ids)}",
        f"--format={SACCT_FIELDS}",
    ]
    try:
        answer = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    usage: dict[str, list[JobUsage]] = {}
    for line in answer.stdout.splitlines():
        fields = line.split("|")
        if len(fields) != 3 or not fields[1].isdigit():
            continue
        gpus, cpus = parse_tres(fields[2])
        usage.setdefault(fields[0], []).append(JobUsage(float(fields[1]), gpus, cpus))
    return usage


def benchmark_seconds(path: Path) -> float | None:
    """Wall seconds of a Snakemake `benchmark:` file (summed over its repeats), None if it is missing."""
    try:
        return float(pd.read_csv(path, sep="\t")["s"].sum())
    except (OSError, KeyError, ValueError, pd.errors.EmptyDataError):
        return None


def run_jobs(run: dict, metrics: dict) -> set[str]:
    """The SLURM jobs of one run: every training attempt's and the evaluation's."""
    return {*filter(None, (run.get("slurm_job_ids") or "").split(",")), *filter(None, [metrics.get("slurm_job_id")])}


def run_cost(
    run: dict, metrics: dict, evaluate_benchmark: Path | None, usage: dict[str, list[JobUsage]] | None
) -> RunCost:
    """The cost of one run from its run.json, metrics.json and evaluation benchmark file, by the
    first source of the module docstring that has every job of the run. `evaluate_benchmark` None:
    a run with no evaluation (a tuning trial), priced by its training alone."""
    devices = run.get("devices")
    unit = f"{devices['kind']}_hours" if devices else "gpu_hours"
    jobs = run_jobs(run, metrics)
    if usage is not None and jobs and all(job in usage for job in jobs):
        records = [record for job in jobs for record in usage[job]]
        on_gpu = any(record.gpus for record in records)
        held = sum(record.seconds * (record.gpus if on_gpu else record.cpus) for record in records)
        return RunCost(held / 3600, "gpu_hours" if on_gpu else "cpu_hours", "sacct")
    evaluation = 0.0 if evaluate_benchmark is None else benchmark_seconds(evaluate_benchmark)
    if devices is None or evaluation is None or run.get("train_seconds") is None:
        return RunCost(math.nan, unit, "unknown")
    return RunCost((float(run["train_seconds"]) + evaluation) * devices["count"] / 3600, unit, "benchmark")


def trial_costs(trials: list[dict]) -> list[RunCost]:
    """The cost of each tuning trial from its run.json (an empty dict where it is missing: unknown),
    by run_cost without an evaluation; one `sacct` call for them all."""
    usage = sacct_usage(job for trial in trials for job in run_jobs(trial, {}))
    return [run_cost(trial, {}, None, usage) for trial in trials]


def total(runs: pd.DataFrame) -> dict:
    """The cost behind a verdict, from runs.csv's device_hours, cost_unit and cost_source columns:
    device-hours summed over the runs, and what is unknown.

    With any run unknown, the total is NaN (a partial sum would understate the decision's cost);
    `known_runs` still says how much of it was measured.
    """
    units = sorted(set(runs["cost_unit"]))
    known = runs["device_hours"].notna()
    return {
        "device_hours": float(runs["device_hours"].sum()) if known.all() else math.nan,
        "unit": units[0] if len(units) == 1 else "mixed",
        "runs": len(runs),
        "known_runs": int(known.sum()),
        "sources": sorted(set(runs["cost_source"])),
    }


TUNING_KEYS = ("tuning_device_hours", "tuning_runs", "tuning_known_runs", "tuning_unit", "tuning_sources")


def with_tuning(spent: dict, trials: list[RunCost] | None) -> dict:
    """The verdict's cost: `total` of the evaluation runs with the tuning trials' beside it.

    `device_hours`, `runs` and the rest stay the evaluation runs'; `tuning_device_hours` (NaN when
    any trial is unknown, as for runs), `tuning_runs`, `tuning_known_runs`, `tuning_unit` and
    `tuning_sources` are the trials' (None without tuning); `total_device_hours` is both together,
    NaN when either is unknown.
    """
    if trials is None:
        return {**spent, **dict.fromkeys(TUNING_KEYS), "total_device_hours": spent["device_hours"]}
    tuning = total(pd.DataFrame(map(columns, trials), columns=["device_hours", "cost_unit", "cost_source"]))
    return {
        **spent,
        **{f"tuning_{key}": value for key, value in tuning.items()},
        "total_device_hours": spent["device_hours"] + tuning["device_hours"],
    }


def columns(cost: RunCost) -> dict:
    """A run's cost as runs.csv columns."""
    return {"device_hours": cost.device_hours, "cost_unit": cost.unit, "cost_source": cost.source}


def describe(cost: dict) -> str:
    """'3.1 GPU-hours over 18 runs (from SLURM accounting)' for the verdict box and the plan; after
    tuning, '4.0 GPU-hours: 3.1 over 18 runs and 0.9 over 12 tuning trials (from SLURM accounting)'.
    A look record's or an older verdict's cost has no tuning keys: the first form."""
    sources = {"sacct": "SLURM accounting", "benchmark": "the runs' own timing and Snakemake benchmark files"}
    tuned = cost.get("tuning_runs") is not None
    parts = [("runs", cost["device_hours"], cost["runs"], cost["known_runs"])]
    if tuned:
        parts.append(("tuning trials", cost["tuning_device_hours"], cost["tuning_runs"], cost["tuning_known_runs"]))
    unknown = [f"{runs - known} of {runs} {what}" for what, hours, runs, known in parts if math.isnan(hours)]
    if unknown:
        reason = "no sacct record, no run time or benchmark file" if tuned else "no sacct record, no benchmark file"
        return f"unknown: {' and '.join(unknown)} have no recorded time ({reason})"
    named = " and ".join(
        sources[s] for s in sorted({*cost["sources"], *(cost["tuning_sources"] if tuned else [])}) if s in sources
    )
    if not tuned:
        return f"{cost['device_hours']:.2f} {unit_name(cost['unit'])} over {cost['runs']} runs (from {named})"
    unit = cost["unit"] if cost["tuning_unit"] == cost["unit"] else "mixed"
    spent = " and ".join(f"{hours:.2f} over {runs} {what}" for what, hours, runs, _ in parts)
    return f"{cost['total_device_hours']:.2f} {unit_name(unit)}: {spent} (from {named})"
