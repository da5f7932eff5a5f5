"""Run the real workflow on a small config in a scratch folder, with a hard time limit.

A hung Snakemake can ignore SIGTERM, so every run is started in its own process group and the
whole group is SIGKILLed when its time is up (the test then fails on the timeout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import yaml

from conftest import REPO, merged

TINY = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())


def tiny_config(**overrides) -> dict:
    """tests/configs/tiny.yaml with `overrides` merged over it."""
    return merged(TINY, overrides)


def snakemake_command(workdir: Path, config: dict, *args: str) -> list[str]:
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config_path),
        *args,
    ]


def start(workdir: Path, config: dict, *args: str) -> subprocess.Popen:
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "snakemake.out", "a")
    return subprocess.Popen(
        snakemake_command(workdir, config, *args),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def finish(process: subprocess.Popen, timeout: float) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise AssertionError(f"snakemake still running after {timeout:.0f} s: killed") from None


def run(workdir: Path, config: dict, *args: str, timeout: float = 600) -> tuple[int, str]:
    """Run to the end; (exit code, everything Snakemake printed in this run)."""
    out = workdir / "snakemake.out"
    before = out.stat().st_size if out.exists() else 0
    code = finish(start(workdir, config, *args), timeout)
    return code, out.read_text()[before:]


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"snakemake exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            kill_group(process)
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table of `snakemake -n` (empty when nothing is to be done)."""
    counts: dict[str, int] = {}
    lines = dry_run_output.splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts
