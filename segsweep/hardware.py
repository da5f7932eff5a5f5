"""What machine this is, for run.json, the report's provenance and the benchmark; and the threads
a job may use on it (shared by training, evaluation and the benchmark)."""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpuinfo_field(name: str, text: str | None = None) -> str | None:
    """The first processor's `name` field, matched whole ("model" is not "model name")."""
    for line in (_cpuinfo() if text is None else text).splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's name, with its family and model numbers where /proc/cpuinfo has them.

    Under a hypervisor the name is often generic: an AVX2-only and an AVX-512 AMD EPYC both read
    "AMD EPYC" on this project's machine, and so do the runs they made; the numbers tell them apart.
    """
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    name = _cpuinfo_field("model name", text) or platform.processor() or platform.machine()
    family, model = _cpuinfo_field("cpu family", text), _cpuinfo_field("model", text)
    return f"{name} (family {family} model {model})" if family and model else name


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
                log(
                    f"warning: TensorFlow already started with {name} threads {getter()}; --threads {threads} not applied"
                )


# oneDNN names the instruction set it dispatches to in words; ONEDNN_MAX_CPU_ISA takes its name.
# The words are oneDNN 3.7.3's (TensorFlow 2.21), read with ONEDNN_MAX_CPU_ISA set to each name on
# an AVX-512 FP16 Xeon; the AMX line as oneDNN's verbose logs print it. Other words keep isa None.
ONEDNN_ISA_NAMES = {
    "Intel SSE4.1": "sse41",
    "Intel AVX": "avx",
    "Intel AVX2": "avx2",
    "Intel AVX2 with Intel DL Boost": "avx2_vnni",
    "Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions": "avx512_core",
    "Intel AVX-512 with Intel DL Boost": "avx512_core_vnni",
    "Intel AVX-512 with Intel DL Boost and bfloat16 support": "avx512_core_bf16",
    "Intel AVX-512 with float16, Intel DL Boost and bfloat16 support": "avx512_core_fp16",
    "Intel AVX-512 with float16, Intel DL Boost and bfloat16 support and Intel AMX with bfloat16 and 8-bit "
    "integer support": "avx512_core_amx",
}
# Verbose flags that make oneDNN print its header (version, ISA) once and nothing after: execution
# profiling, filtered to RNN primitives, which TensorFlow does not use.
_HEADER_ONLY = "profile_exec,filter=rnn"
_PROBE = "import tensorflow as tf\nwith tf.device('/CPU:0'):\n    tf.matmul(tf.ones((8, 8)), tf.ones((8, 8))).numpy()\n"


def parse_onednn_header(text: str) -> dict:
    """oneDNN's version and ISA from its verbose header; None where the header is missing."""
    version = re.search(r"oneDNN v(\S+)", text)
    isa = re.search(r",cpu,isa:([^\n]*)", text)
    description = isa.group(1).strip() if isa else None
    return {
        "onednn": version.group(1) if version else None,
        "isa": ONEDNN_ISA_NAMES.get(description),
        "isa_description": description,
    }


def _first_op_output() -> str:
    """Run TensorFlow's first oneDNN call in this process and return what oneDNN printed on stdout."""
    import tensorflow as tf

    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            with tf.device("/CPU:0"):
                tf.matmul(tf.ones((8, 8)), tf.ones((8, 8))).numpy()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        capture.seek(0)
        return capture.read().decode(errors="replace")


@functools.cache
def onednn() -> dict:
    """The oneDNN version and the ISA its kernels use here, as oneDNN itself reports them.

    The ISA decides the floating-point path of a CPU run: oneDNN picks kernels (and with them the
    order of a convolution's additions) by the widest ISA the CPU has, capped by
    ONEDNN_MAX_CPU_ISA, so an AVX2 and an AVX-512 machine give different last bits from the same
    seed. Asking oneDNN rather than mapping /proc/cpuinfo flags keeps the answer right when its
    rules change between versions and under the cap. TensorFlow does not export oneDNN's query
    function; oneDNN prints both facts in its verbose header, once, at its first call, and reads
    ONEDNN_VERBOSE only then. So, called before TensorFlow's first operation (runtime.configure
    does), this sets header-only verbosity, runs one tiny CPU matmul with stdout captured, and
    costs milliseconds; called later, it asks a fresh Python process (seconds, once per process).
    """
    if "ONEDNN_VERBOSE" in os.environ:  # the user's own verbosity: keep it, and their log whole
        text = _first_op_output()
        print(text, end="", flush=True)
    else:
        os.environ["ONEDNN_VERBOSE"] = _HEADER_ONLY
        try:
            text = _first_op_output()
        finally:
            del os.environ["ONEDNN_VERBOSE"]  # read once by now; child processes must not inherit it
    found = parse_onednn_header(text)
    if found["isa_description"] is None:  # oneDNN had run before in this process
        env = {**os.environ, "ONEDNN_VERBOSE": _HEADER_ONLY, "TF_CPP_MIN_LOG_LEVEL": "3"}
        try:
            probe = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
            found = parse_onednn_header(probe.stdout)
        except (OSError, subprocess.TimeoutExpired):
            pass
    return found


def floating_point_path() -> dict:
    """What decides the last bits of a run here (run.json's ``floating_point``, bench.json's machine):
    same values, same TensorFlow and same seed give bitwise-identical runs (docs/reproducibility.md).
    On a GPU, cuDNN's kernels instead: the GPU model, CUDA and cuDNN."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    build = tf.sysconfig.get_build_info()
    gpu = None
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        gpu = {
            "name": details.get("device_name", gpus[0].name),
            "compute_capability": details.get("compute_capability"),
            "cuda": build.get("cuda_version"),
            "cudnn": build.get("cudnn_version"),
        }
    return {
        "cpu": cpu_model(),
        **onednn(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "tensorflow": tf.__version__,
        "gpu": gpu,
    }
