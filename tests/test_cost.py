"""A run's cost: SLURM accounting first, the run's own timing and benchmark files second, else unknown."""

from __future__ import annotations

import math
import stat
from pathlib import Path

import pandas as pd
import pytest

from segsweep.reporting.cost import (
    JobUsage,
    RunCost,
    columns,
    describe,
    parse_tres,
    run_cost,
    sacct_usage,
    total,
    trial_costs,
    with_tuning,
)

# Two runs: job 101 was requeued once (two records), its evaluation ran in the same group job;
# job 102 trained on 2 GPUs, its evaluation (103) on 1 GPU; job 104 is a CPU-only job.
SACCT_OUTPUT = """\
101|600|billing=1,cpu=4,gres/gpu=1,gres/gpu:h100=1,mem=8G,node=1
101|1200|billing=1,cpu=4,gres/gpu=1,gres/gpu:h100=1,mem=8G,node=1
102|1800|cpu=8,gres/gpu:a100=2,mem=16G,node=1
103|360|cpu=8,gres/gpu=1,mem=16G,node=1
104|3600|cpu=2,mem=4G,node=1
"""


@pytest.fixture
def fake_sacct(tmp_path, monkeypatch) -> Path:
    """A `sacct` on PATH that prints SACCT_OUTPUT and records its arguments."""
    script = tmp_path / "bin" / "sacct"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/sacct-args\ncat <<EOF\n{SACCT_OUTPUT}EOF\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    return tmp_path


def _benchmark(path: Path, seconds: float) -> Path:
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t100\n")
    return path


def test_tres_counts_gpus_once_and_cpus():
    assert parse_tres("billing=2,cpu=2,gres/gpu=1,gres/gpu:h100=1,mem=4G") == (1, 2)
    assert parse_tres("cpu=4,gres/gpu:a100=2,gres/gpu:v100=1") == (3, 4)
    assert parse_tres("cpu=1,mem=2G") == (0, 1)


def test_sacct_prices_every_attempt_and_the_evaluation_job(fake_sacct, tmp_path):
    usage = sacct_usage(["101", "102", "103", "104"])
    args = (fake_sacct / "sacct-args").read_text()
    assert "--duplicates" in args and "--jobs=101,102,103,104" in args
    missing_benchmark = tmp_path / "none.tsv"
    requeued = run_cost(
        {"slurm_job_ids": "101", "devices": {"kind": "gpu", "count": 1}},
        {"slurm_job_id": "101"},
        missing_benchmark,
        usage,
    )
    # (600 + 1200) s x 1 GPU; the group job's evaluation is the same job, counted once
    assert requeued == RunCost(0.5, "gpu_hours", "sacct")
    two_jobs = run_cost({"slurm_job_ids": "102"}, {"slurm_job_id": "103"}, missing_benchmark, usage)
    assert two_jobs.device_hours == pytest.approx((1800 * 2 + 360 * 1) / 3600)
    cpu = run_cost({"slurm_job_ids": "104", "devices": {"kind": "cpu", "count": 2}}, {}, missing_benchmark, usage)
    assert cpu == RunCost(2.0, "cpu_hours", "sacct")


def test_benchmark_source_when_sacct_is_absent_or_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sacct at all
    assert sacct_usage(["1"]) is None
    failing = tmp_path / "sacct"
    failing.write_text("#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n")
    failing.chmod(0o755)
    assert sacct_usage(["1"]) is None
    run = {"train_seconds": 1500.0, "devices": {"kind": "cpu", "count": 2}, "slurm_job_ids": "1"}
    cost = run_cost(run, {}, _benchmark(tmp_path / "eval.tsv", 300.0), None)
    assert cost == RunCost((1500 + 300) * 2 / 3600, "cpu_hours", "benchmark")


def test_a_job_unknown_to_sacct_falls_back_to_the_benchmark(tmp_path):
    usage = {"7": [JobUsage(60.0, 1, 4)]}  # sacct knows job 7, not the retry 8
    run = {"train_seconds": 100.0, "devices": {"kind": "gpu", "count": 1}, "slurm_job_ids": "7,8"}
    cost = run_cost(run, {}, _benchmark(tmp_path / "eval.tsv", 20.0), usage)
    assert cost.source == "benchmark" and cost.device_hours == pytest.approx(120 / 3600)


def test_unknown_cost_is_never_made_up(tmp_path):
    no_devices = run_cost({"train_seconds": 10.0}, {}, _benchmark(tmp_path / "e.tsv", 1.0), None)
    no_benchmark = run_cost(
        {"train_seconds": 10.0, "devices": {"kind": "cpu", "count": 1}}, {}, tmp_path / "missing.tsv", None
    )
    assert no_devices.source == no_benchmark.source == "unknown"
    assert math.isnan(no_benchmark.device_hours)
    summed = total(pd.DataFrame([columns(RunCost(1.0, "cpu_hours", "benchmark")), columns(no_benchmark)]))
    assert math.isnan(summed["device_hours"]) and summed["known_runs"] == 1 and summed["runs"] == 2
    assert describe(summed).startswith("unknown: 1 of 2 runs")


def test_total_and_its_sentence():
    costs = [RunCost(0.25, "gpu_hours", "sacct"), RunCost(0.5, "gpu_hours", "benchmark")]
    summed = total(pd.DataFrame(map(columns, costs)))
    assert summed == {
        "device_hours": 0.75,
        "unit": "gpu_hours",
        "runs": 2,
        "known_runs": 2,
        "sources": ["benchmark", "sacct"],
    }
    assert describe(summed) == (
        "0.75 GPU-hours over 2 runs (from the runs' own timing and Snakemake benchmark files and SLURM accounting)"
    )


def test_a_tuning_trial_is_priced_by_its_training_alone(fake_sacct):
    # Job 104 is in SACCT_OUTPUT: 3600 s on 2 CPUs. Job 999 is not, so that trial falls back to its own time.
    accounted = {"train_seconds": 10.0, "devices": {"kind": "cpu", "count": 2}, "slurm_job_ids": "104"}
    timed = {"train_seconds": 900.0, "devices": {"kind": "cpu", "count": 2}, "slurm_job_ids": "104,999"}
    diverged = {"failed": "loss nan", "train_seconds": 180.0, "devices": {"kind": "cpu", "count": 4}}
    untimed = {"failed": "loss nan", "train_seconds": None, "devices": None, "slurm_job_ids": None}
    costs = trial_costs([accounted, timed, diverged, untimed, {}])  # {}: a missing run.json
    assert [c.source for c in costs] == ["sacct", "benchmark", "benchmark", "unknown", "unknown"]
    # no evaluation benchmark is added to a trial's own time
    assert [c.device_hours for c in costs[:3]] == pytest.approx([2.0, 900 * 2 / 3600, 180 * 4 / 3600])
    assert not costs[3].known and not costs[4].known


def test_tuning_trials_are_counted_beside_the_runs():
    runs = total(pd.DataFrame([columns(RunCost(0.25, "cpu_hours", "benchmark"))] * 4))
    untuned = with_tuning(runs, None)
    assert untuned["tuning_runs"] is None and untuned["tuning_device_hours"] is None
    sentence = "1.00 CPU-hours over 4 runs (from the runs' own timing and Snakemake benchmark files)"
    assert describe(untuned) == describe(runs) == sentence
    trials = [RunCost(0.5, "cpu_hours", "benchmark"), RunCost(0.25, "cpu_hours", "sacct")]
    tuned = with_tuning(runs, trials)
    assert tuned["device_hours"] == 1.0 and tuned["runs"] == 4  # the evaluation runs' alone
    assert (tuned["tuning_device_hours"], tuned["tuning_runs"], tuned["tuning_known_runs"]) == (0.75, 2, 2)
    assert tuned["total_device_hours"] == 1.75
    assert describe(tuned) == (
        "1.75 CPU-hours: 1.00 over 4 runs and 0.75 over 2 tuning trials "
        "(from the runs' own timing and Snakemake benchmark files and SLURM accounting)"
    )
    unknown = with_tuning(runs, [*trials, RunCost(math.nan, "cpu_hours", "unknown")])
    assert math.isnan(unknown["tuning_device_hours"]) and math.isnan(unknown["total_device_hours"])
    assert unknown["device_hours"] == 1.0 and unknown["tuning_known_runs"] == 2
    assert describe(unknown).startswith("unknown: 1 of 3 tuning trials have no recorded time")
