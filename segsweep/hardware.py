"""What machine this is, for run.json, the report's provenance and the benchmark; and the threads
a job may use on it (shared by training, evaluation and the benchmark)."""

from __future__ import annotations

import platform
from pathlib import Path


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    return set((_cpuinfo_field("flags") or "").split())


def use_threads(threads: int, log=print) -> None:
    """Size TensorFlow's thread pools; must run before TensorFlow executes its first operation.

    TensorFlow would otherwise size its pools by the node's cores: under SLURM a job gets fewer
    CPUs than the node has, and oversubscribed threads slow every job on the node.
    """
    import tensorflow as tf

    for name in ("intra_op", "inter_op"):
        getter = getattr(tf.config.threading, f"get_{name}_parallelism_threads")
        setter = getattr(tf.config.threading, f"set_{name}_parallelism_threads")
        if getter() != threads:
            try:
                setter(threads)
            except RuntimeError:  # TensorFlow already running in this process (several runs in one test)
                log(f"warning: TensorFlow already started with {name} threads {getter()}; --threads {threads} not applied")
