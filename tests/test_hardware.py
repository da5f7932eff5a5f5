"""The floating-point path run.json records: oneDNN's own word for its ISA, read early or late."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segsweep.hardware import ONEDNN_ISA_NAMES, cpu_flags, cpu_model, parse_onednn_header

REPO = Path(__file__).resolve().parents[1]

# oneDNN 3.7.3's header as TensorFlow 2.21 printed it on an AVX-512 FP16 Xeon (ONEDNN_VERBOSE=1).
HEADER = """onednn_verbose,v1,info,oneDNN v3.7.3 (commit N/A)
onednn_verbose,v1,info,cpu,runtime:threadpool,nthr:2
onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with float16, Intel DL Boost and bfloat16 support \n\
onednn_verbose,v1,info,gpu,runtime:none
"""


# The first lines of /proc/cpuinfo on this project's machine, 2026-12-04 (trimmed).
CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu avx2 avx512f
"""


def test_the_cpu_is_named_with_its_family_and_model_numbers():
    assert cpu_model(CPUINFO) == "AMD EPYC (family 25 model 17)"
    # Without the numbers (another kernel, another architecture) the name alone, as before.
    assert cpu_model("model name\t: AMD EPYC\n") == "AMD EPYC"


def test_the_header_gives_version_and_isa_name():
    assert parse_onednn_header(HEADER) == {
        "onednn": "3.7.3", "isa": "avx512_core_fp16",
        "isa_description": "Intel AVX-512 with float16, Intel DL Boost and bfloat16 support",
    }  # fmt: skip


def test_words_of_another_onednn_keep_the_words_and_no_name():
    found = parse_onednn_header("onednn_verbose,info,cpu,isa:Intel AVX10.1 and Intel AMX with bfloat16 support\n")
    assert found == {
        "onednn": None,
        "isa": None,
        "isa_description": "Intel AVX10.1 and Intel AMX with bfloat16 support",
    }


def test_without_a_header_nothing_is_made_up():
    assert parse_onednn_header("") == {"onednn": None, "isa": None, "isa_description": None}


# A job's setup (runtime.configure) then the record; "late" runs a TensorFlow operation first, so
# oneDNN has printed nothing when asked and the answer must come from a fresh process.
RECORD = """
import json, sys
if sys.argv[1] == "late":
    import tensorflow as tf
    (tf.ones((4, 4)) @ tf.ones((4, 4))).numpy()
from segsweep.training import runtime
from segsweep.hardware import floating_point_path
runtime.configure(1, 0, True, "float32", log=lambda _: None)
print(json.dumps(floating_point_path()))
"""


def record(when: str, **env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", RECORD, when],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])  # the record is the last line: nothing of oneDNN's after it


def expected_isa_family() -> str:
    """What /proc/cpuinfo says oneDNN can use at most: an independent check of its own word."""
    flags = cpu_flags()
    return "avx512" if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags else "avx2" if "avx2" in flags else ""


@pytest.mark.slow
@pytest.mark.skipif(not expected_isa_family(), reason="the family check knows x86 CPUs with AVX2 or AVX-512 only")
def test_the_record_names_onednn_isa_of_this_cpu_and_the_cap():
    found = record("early")
    assert set(found) == {
        "cpu",
        "onednn",
        "isa",
        "isa_description",
        "onednn_max_cpu_isa",
        "tf_enable_onednn_opts",
        "intra_op_threads",
        "inter_op_threads",
        "tensorflow",
        "gpu",
    }
    assert found["isa"] in ONEDNN_ISA_NAMES.values() and found["isa"].startswith(expected_isa_family())
    assert found["onednn"] and found["intra_op_threads"] == 1 and found["onednn_max_cpu_isa"] is None
    # Asked late, in a fresh process that inherits the cap: the cap is what oneDNN dispatches to.
    capped = record("late", ONEDNN_MAX_CPU_ISA="AVX2")
    assert (capped["isa"], capped["isa_description"], capped["onednn_max_cpu_isa"]) == ("avx2", "Intel AVX2", "AVX2")
    assert capped["onednn"] == found["onednn"]
