"""`segsweep sweep`: run a sequential sweep to its decision, one look at a time.

Whether look k + 1 runs depends on look k's decision. Snakemake can grow a DAG after a checkpoint,
but it keeps an output that exists as final while it builds the DAG: a finished sequential sweep
whose schedule then changes (a larger `max_device_hours`, more `looks`) would keep its old report.
This driver therefore asks Snakemake for one look at a time, reads the look's decision, and asks
for the next look only while the sweep must go on; then for the report of the looks decided. Each
call is an ordinary `snakemake` run with the user's own arguments (`--cores 2`, or
`--profile slurm` on a cluster's login node), so runs are grouped, retried and resumed as in a
fixed sweep, and Snakemake's bookkeeping keeps every finished run: look k + 1 reuses look k's.
Killed, the driver (or Snakemake under it) is started again with the same command: every look
and run already done is read, not redone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from segsweep import layout
from segsweep.config import experiment_name, load_config
from segsweep.config.sequential import Schedule
from segsweep.errors import UserError

DEFAULT_CONFIG = Path("config/config.yaml")  # the Snakefile's, when no --configfile is given
CONFIG_FLAGS = ("--configfile", "--configfiles")


UNPARSED = "snakemake_args"  # segsweep.cli hands every argument it does not know to Snakemake


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Every other argument is Snakemake's, e.g. --cores 2 --configfile config/config.yaml "
        "config/sequential.yaml, or --profile slurm --configfile ..."
    )


def config_files(snakemake_args: list[str]) -> list[str]:
    """The files after --configfile (up to the next option), as Snakemake reads them."""
    files, taking = [], False
    for arg in snakemake_args:
        if arg in CONFIG_FLAGS:
            taking = True
        elif arg.startswith("-"):
            taking = False
        elif taking:
            files.append(arg)
    return files or [str(DEFAULT_CONFIG)]


def workdir(snakemake_args: list[str]) -> Path:
    """Snakemake's working directory (--directory DIR), where the results folder is."""
    for flag, value in zip(snakemake_args, snakemake_args[1:]):
        if flag in ("--directory", "-d"):
            return Path(value)
    return Path(".")


def snakemake(snakemake_args: list[str], *targets: str) -> None:
    """One Snakemake run; its own output goes to the terminal. Targets come before the options,
    since --configfile takes every word after it."""
    command = [sys.executable, "-m", "snakemake", *targets, *snakemake_args]
    print("segsweep sweep:", " ".join(command), flush=True)
    code = subprocess.call(command)
    if code:
        raise UserError(f"snakemake exited with status {code}; run the same command again to resume")


def run(args: argparse.Namespace) -> int:
    config = load_config(*config_files(args.snakemake_args))
    if "sequential" not in config:
        raise UserError("the config has no `sequential` key: run a fixed sweep with snakemake itself")
    schedule = Schedule.from_config(config["sequential"])
    experiment = workdir(args.snakemake_args) / layout.experiment_dir(experiment_name(config))
    for look in range(1, schedule.last_look + 1):
        path = layout.look_file(experiment, look)
        snakemake(args.snakemake_args, str(path.relative_to(workdir(args.snakemake_args))))
        record = json.loads(path.read_text())
        print(f"segsweep sweep: {record['sentence']}", flush=True)
        if record["stop"]:
            break
    snakemake(args.snakemake_args)
    print(f"segsweep sweep: report {layout.report_file(experiment)}")
    return 0
