"""Train one (model, augmentation, seed) run: writes RUN_DIR/model.keras, history.csv and run.json.

As the workflow runs it:
  python -m segsweep train --settings JSON --manifest SPLIT.csv --seed 0 --threads 2 --out-dir RUN_DIR
By hand, with the job settings cut from a config file:
  python -m segsweep train --config config/config.yaml --model unet --aug flip_crop \\
      --manifest results/synthetic/splits/split0.csv --seed 0 --threads 2 --out-dir RUN_DIR

The model.keras kept is the epoch with the best validation road IoU. One line per epoch goes to
stdout. The outputs appear only once complete (written under temporary names, then renamed).

Resuming: every completed epoch is saved in RUN_DIR/state/. A job that is killed (SIGKILL) or
preempted (SIGTERM: it stops at the next step and exits with status 143) continues from the
last completed epoch when the same command runs again; run.json then says resumed. A state made
with other settings, seed or split is not reused: the run starts over and says so.

Exit status: 0 done, 2 bad input (a message names the file or config key; also when the loss
becomes NaN), 143 stopped by SIGTERM.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segsweep.config import settings_from_args
from segsweep.config.loader import add_chosen_argument
from segsweep.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("job settings (one of)")
    source.add_argument("--settings", metavar="JSON", help="job settings as the workflow passes them")
    source.add_argument("--config", metavar="FILE", help="config file to cut the settings from (needs --model, --aug)")
    source.add_argument("--model", help="with --config: a name from 'models'")
    source.add_argument("--aug", help="with --config: an augmentation preset name")
    add_chosen_argument(parser)
    parser.add_argument("--manifest", required=True, type=Path, metavar="SPLIT.csv", help="split manifest")
    parser.add_argument("--seed", required=True, type=int, help="training seed")
    parser.add_argument(
        "--threads",
        type=int,
        metavar="T",
        help="CPU threads for TensorFlow and the input pipeline (default: train.threads)",
    )
    parser.add_argument("--out-dir", required=True, type=Path, metavar="RUN_DIR", help="run folder")


def run(args: argparse.Namespace) -> int:
    if args.settings and args.config:
        raise ConfigError("give either --settings or --config, not both")
    if args.config and not (args.model and args.aug):
        raise ConfigError("--config needs --model and --aug to pick the job")
    settings = settings_from_args(args.settings, args.config, args.model, args.aug, args.chosen)
    threads = settings["train"]["threads"] if args.threads is None else args.threads
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    from segsweep.training.trainer import train_run

    return train_run(settings, args.manifest, args.seed, threads, args.out_dir)
