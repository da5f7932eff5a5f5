"""segsweep: one command per workflow step.

Every Snakemake rule calls one of these commands, so that a person can run any step by hand
exactly as the workflow does: `python -m segsweep STEP --help`. Three are for people only: plan,
sweep and config-docs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from segsweep.errors import UserError

# step -> (module defining `add_arguments(parser)` and `run(args) -> int | None`, summary).
# Modules are imported only when their step runs: TensorFlow takes seconds to import.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("segsweep.data.synthetic", "make the procedural KITTI-layout dataset"),
    "download": ("segsweep.data.download", "download, verify and safely extract a dataset archive"),
    "split": ("segsweep.data.split_cli", "write the train/val/test split manifest of a dataset"),
    "train": ("segsweep.training.job", "train one (model, augmentation, seed) run"),
    "tune-trial": ("segsweep.training.tune_trial", "train one tuning trial; a diverged loss is recorded, not raised"),
    "choose": ("segsweep.training.choose", "choose a model's tuned configuration on validation"),
    "evaluate": ("segsweep.evaluation.job", "evaluate one trained run on the held-out split"),
    "aggregate": ("segsweep.reporting.aggregate", "tables, statistics and plots over all runs"),
    "look": ("segsweep.reporting.look", "decide at one look of a sequential sweep, or ask for more seeds"),
    "plan": ("segsweep.reporting.plan", "what settling a finished sweep's comparison would cost"),
    "sweep": ("segsweep.sweep", "run a sequential sweep look by look (Snakemake's arguments follow)"),
    "report": ("segsweep.reporting.report", "write the self-contained HTML report"),
    "index": (
        "segsweep.reporting.index",
        "every experiment's verdict side by side, with a forest plot, in results/index.html",
    ),
    "bench": ("segsweep.bench", "measure input pipeline, compute, inference and workflow speed"),
    "config-docs": ("segsweep.config.reference", "write the configuration reference page from the config schema"),
}


def _top_parser() -> argparse.ArgumentParser:
    width = max(map(len, COMMANDS))
    steps = "\n".join(f"  {name:<{width}} {summary}" for name, (_, summary) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="segsweep",
        usage="python -m segsweep STEP [options]",
        description=__doc__,
        epilog=f"steps:\n{steps}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        parser = _top_parser()
        if argv and argv[0] not in ("-h", "--help"):
            parser.error(f"unknown step {argv[0]!r}; choose one of: {', '.join(COMMANDS)}")
        parser.print_help()
        return 0 if argv else 2
    step = argv[0]
    module_name, summary = COMMANDS[step]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(
        prog=f"segsweep {step}",
        description=(module.__doc__ or summary).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    # A step that hands the rest of its command line on (sweep: to Snakemake) names where it goes.
    unparsed = getattr(module, "UNPARSED", None)
    if unparsed:
        args, rest = parser.parse_known_args(argv[1:])
        setattr(args, unparsed, rest)
    else:
        args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except UserError as error:
        print(f"segsweep {step}: error: {error}", file=sys.stderr)
        return 2
