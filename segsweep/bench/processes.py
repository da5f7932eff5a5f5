"""Run a command and report its wall time and peak memory.

The peak is the kernel's high-water mark of the child's own address space (`VmHWM` in
/proc/PID/status), read until the child exits. `getrusage`/`wait4` cannot be used here: Linux
starts a forked child's `ru_maxrss` at its parent's RSS, and the benchmark process itself holds
gigabytes of decoded images and models, so every child would report the parent's size.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def _high_water_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def run_measured(command: list[str], poll_seconds: float = 0.05, **popen_kwargs) -> dict:
    """Wall seconds and peak RSS (MiB) of one child process; raises if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, **popen_kwargs)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _high_water_mib(process.pid) or 0.0)
        time.sleep(poll_seconds)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... exited {process.returncode}")
    return {"seconds": seconds, "peak_rss_mib": peak}
