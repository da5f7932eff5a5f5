"""Process-wide TensorFlow/Keras settings of a training job, and what run.json records about the machine.

`configure` must run before TensorFlow executes its first operation: thread pools are fixed then.
"""

from __future__ import annotations

import importlib.metadata
import platform
import socket

import segsweep
from segsweep.hardware import cpu_model, onednn, use_threads
from segsweep.training.gradient_sum import sum_gradients_in_fixed_order


def configure(threads: int, seed: int, deterministic: bool, precision: str, log=print) -> None:
    """Threads, seeds, op determinism and the global dtype policy for the model about to be built."""
    import cv2
    import keras
    import tensorflow as tf

    use_threads(threads, log)
    onednn()  # before TensorFlow's first operation, oneDNN says its ISA for free (see segsweep.hardware.onednn)
    # Augmentation parallelism comes from tf.data's workers; OpenCV's own pool would multiply it.
    cv2.setNumThreads(1)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
        # Op determinism leaves one gap that U-Net++ falls into: see segsweep.training.gradient_sum.
        if not sum_gradients_in_fixed_order():
            log(
                f"warning: TensorFlow {tf.__version__} has no gradient-aggregation hook: same-seed runs of "
                "U-Net++ may differ in the last bits"
            )
    # Otherwise nothing to do: determinism starts off in a process, and TensorFlow has no public
    # switch to turn it off again (each job is its own process).
    keras.config.set_dtype_policy(precision)


def device() -> dict[str, str]:
    """{"type": "GPU", "name": ...} for the first GPU TensorFlow uses, else the CPU model."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return {"type": "GPU", "name": details.get("device_name", gpus[0].name)}
    return {"type": "CPU", "name": cpu_model()}


def gpu_count() -> int:
    """GPUs this process sees: under SLURM, the ones its job was allocated (CUDA_VISIBLE_DEVICES)."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def versions() -> dict[str, str]:
    packages = {name: importlib.metadata.version(name) for name in ("tensorflow", "keras", "albumentations", "numpy")}
    return {**packages, "python": platform.python_version(), "segsweep": segsweep.__version__}


def host() -> str:
    return socket.gethostname()
