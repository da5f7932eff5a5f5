"""Measure what a sweep costs, in one run so that ratios hold on a noisy machine.

Sections (all by default):
  input      training images/s fed the seed notebook's way, by our pipeline, and from memory
  compute    achieved training GFLOP/s against this machine's float32 matmul peak
  precision  mixed precision and XLA against float32 (speed), and the IoU reached over seeds
  inference  images/s at the original resolution: U-Net, U-Net++ accurate and L1..L4
  workflow   `snakemake -n` of a 1000-training-job sweep, and Snakemake's time between jobs
  memory     peak RSS of one training job at the default config and at the paper's widths

Writes OUT_DIR/bench.json (every figure, with the machine) and OUT_DIR/bench.md (the table
docs/results.md quotes). Every speed is a median over repeats after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SECTIONS = ("input", "compute", "precision", "inference", "workflow", "memory")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", type=Path, default=Path("results/bench"))
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow threads (default 2)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and few repeats: checks that the command works; its figures mean nothing",
    )


def run(args: argparse.Namespace) -> None:
    from segsweep.hardware import use_threads

    use_threads(args.threads)

    from segsweep.bench.machine import describe_machine
    from segsweep.bench.plan import Plan
    from segsweep.bench.table import markdown

    plan = Plan(args.out_dir, args.threads, quick=args.quick)
    results = {"machine": describe_machine(), "quick": args.quick}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for section in args.sections:
        print(f"bench: {section} ...", flush=True)
        start = time.perf_counter()
        results[section] = getattr(plan, section)()
        results.setdefault("section_seconds", {})[section] = time.perf_counter() - start
        print(json.dumps(results[section], indent=1, default=float), flush=True)
        # After every section: a later section's failure must not lose minutes of measurements.
        (args.out_dir / "bench.json").write_text(json.dumps(results, indent=2, default=float))
        (args.out_dir / "bench.md").write_text(markdown(results))
    print((args.out_dir / "bench.md").read_text())
