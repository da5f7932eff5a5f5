"""The benchmark command runs and writes its figures (quick mode: tiny sizes, no targets checked).

Speed is never asserted by a test: the figures of a quick run mean nothing. What is checked is
that each measured section lands in bench.json with positive, consistent numbers, and that the
Markdown table quotes them.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from segsweep.hardware import ONEDNN_ISA_NAMES


@pytest.mark.slow
def test_bench_quick_writes_json_and_table(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "segsweep",
            "bench",
            "--quick",
            "--threads",
            "1",
            "--out-dir",
            str(tmp_path),
            "--sections",
            "input",
            "inference",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert bench["machine"]["cores"] >= 1 and bench["machine"]["versions"]["tensorflow"]
    fp = bench["machine"]["floating_point"]  # the table says what the figures were measured with
    assert fp["intra_op_threads"] == 1 and fp["isa"] in ONEDNN_ISA_NAMES.values()
    for regime in ("default", "base16_224"):
        rates = bench["input"][regime]["images_per_second"]
        assert set(rates) == {"seed_style", "pipeline", "in_memory"} and min(rates.values()) > 0
        assert bench["input"][regime]["pipeline_vs_seed_style"] == pytest.approx(
            rates["pipeline"] / rates["seed_style"]
        )
        section = bench["input"][regime]
        for feed, epoch_rates in section["epoch_rates"].items():  # every epoch after the warm-up
            assert len(epoch_rates) == section["epochs"] - 1
            assert rates[feed] == pytest.approx(statistics.median(epoch_rates))
    modes = [(r["model"], r["mode"]) for r in bench["inference"]["rows"]]
    assert modes == [
        ("unet", "single"),
        ("unetpp", "accurate"),
        ("unetpp", "L1"),
        ("unetpp", "L2"),
        ("unetpp", "L3"),
        ("unetpp", "L4"),
    ]
    params = [r["parameters"] for r in bench["inference"]["rows"] if r["mode"].startswith("L")]
    assert params == sorted(params) and len(set(params)) == 4
    pp = {r["mode"]: r for r in bench["inference"]["rows"] if r["model"] == "unetpp"}
    assert min(r["network_images_per_second"] for r in bench["inference"]["rows"]) > 0
    assert bench["inference"]["L3_vs_L4"] == pytest.approx(
        pp["L3"]["network_images_per_second"] / pp["L4"]["network_images_per_second"]
    )
    assert set(bench["section_seconds"]) == {"input", "inference"}
    table = (tmp_path / "bench.md").read_text()
    assert "QUICK MODE" in table and "L3 vs L4" in table and f"oneDNN ISA {fp['isa']}, 1 TensorFlow thread," in table


def test_each_epoch_is_set_against_the_roof_measured_beside_it() -> None:
    """Three epochs, the roof measured before the two timed ones and after the last; a hand case of
    the fractions; then a real fit of a tiny model calls the roof exactly there."""
    import keras
    import numpy as np

    from segsweep.bench.training_speed import EpochTimer, fractions_of_roof

    assert fractions_of_roof([100.0, 90.0], [200.0, 100.0, 180.0]) == pytest.approx([100 / 150, 90 / 140])
    with pytest.raises(ValueError, match="2 epochs need 3 roof measurements, got 2"):
        fractions_of_roof([100.0, 90.0], [200.0, 100.0])

    calls = []
    timer = EpochTimer(roof=lambda: calls.append(len(timer.seconds)) or 100.0 + len(calls))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((8, 4)), np.zeros((8, 1)), epochs=3, callbacks=[timer], verbose=0)
    assert calls == [1, 2, 3], "after the untimed first epoch, before each timed one, and after the last"
    assert timer.roofs == [101.0, 102.0, 103.0] and len(timer.seconds) == 3


def test_the_table_says_why_mixed_precision_accuracy_was_not_measured() -> None:
    """Where mixed precision trains slower in every regime, the benchmark skips its IoU runs and says so."""
    from segsweep.bench.table import markdown

    machine = {
        "date": "2026-12-03",
        "cpu": "a CPU",
        "cores": 2,
        "gpus": [],
        "floating_point": {"isa": "avx512_core", "intra_op_threads": 2},
        "versions": {"tensorflow": "2.21.0", "keras": "3.15.1"},
    }
    speed = {"default": {"mixed_vs_float32": 0.8}, "base16_224": {"mixed_vs_float32": 0.7, "xla_vs_float32": 0.5}}
    precision = {"mixed_policy": "mixed_bfloat16", "speed": speed, "iou_over_seeds": None}
    table = markdown({"machine": machine, "precision": precision})
    assert "| mixed_bfloat16 vs float32 (base16_224, training img/s) | 0.70x |" in table
    assert "not measured: mixed_bfloat16 trained slower than float32 in every regime" in table
