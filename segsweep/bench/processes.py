"""Run a command and report its wall time and peak memory (os.wait4 gives that child's own RSS)."""

from __future__ import annotations

import os
import subprocess
import time


def run_measured(command: list[str], **popen_kwargs) -> dict:
    """Wall seconds and peak RSS (MiB) of one child process; raises if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, **popen_kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... exited {process.returncode}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024}
