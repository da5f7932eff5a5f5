"""What the figures were measured on, and the machine's own limit to compare training against."""

from __future__ import annotations

import os
import platform
import statistics
import time
from importlib import metadata

from segsweep.hardware import cpu_flags, cpu_model, floating_point_path


def describe_machine() -> dict:
    import tensorflow as tf

    gpus = [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    ]
    packages = ["tensorflow", "keras", "albumentations", "numpy", "snakemake", "segsweep"]
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in cpu_flags(),
        "floating_point": floating_point_path(),
        "gpus": gpus,
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in packages},
        "date": time.strftime("%Y-%m-%d"),
    }


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Median GFLOP/s of an n x n float32 matmul: the roof that convolution training is measured against."""
    import tensorflow as tf

    a = tf.random.uniform((n, n), dtype=tf.float32)
    b = tf.random.uniform((n, n), dtype=tf.float32)
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()  # warm-up: graph tracing and oneDNN kernel selection
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        seconds.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(seconds) / 1e9
