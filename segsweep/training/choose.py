"""Choose each model's configuration from its tuning trials, on validation only.

As the workflow runs it (checkpoint `tune_choose`):
  python -m segsweep choose --model unet --tune JSON --runs TRIAL0_SEED100/run.json ... --out-dir tune/unet

--runs lists run.json of every (trial, tuning seed), trial-major. A trial's score is the mean over
the tuning seeds of each run's best validation road IoU (the epoch training kept); a failed run
(diverged loss, `failed` in its run.json) counts as 0, the worst IoU: it spent the trial. The chosen
trial has the best score; ties go to the lower trial index. Nothing here reads a test score: a
tuning run is never evaluated on test, and the files written hold validation scores only.

Writes chosen.json (the trial, its configuration, its `train` overrides, every trial's score) and
trials.csv (one row per run: trial, seed, the drawn values, the validation score, failed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from segsweep import layout
from segsweep.config.tuning import train_overrides, trial_configurations
from segsweep.data.staging import staged_file
from segsweep.errors import UserError

# tune.metric -> the run.json key holding it.
METRIC_KEYS = {"val_road_iou": "best_val_road_iou", "val_miou": "best_val_miou"}
WORST_SCORE = 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True)
    parser.add_argument("--tune", required=True, metavar="JSON", help="the config's `tune` mapping")
    parser.add_argument("--runs", required=True, nargs="+", type=Path, metavar="RUN.json", help="trial-major")
    parser.add_argument("--out-dir", required=True, type=Path, metavar="TUNE_MODEL_DIR")


def trial_table(model: str, tune: dict, runs: list[Path]) -> pd.DataFrame:
    """One row per tuning run: trial, seed, the drawn values, its validation score, failed."""
    configurations, seeds = trial_configurations(tune), tune["seeds"]
    if len(runs) != len(configurations) * len(seeds):
        raise UserError(f"--runs: {len(runs)} files for {len(configurations)} trials x {len(seeds)} tuning seeds")
    rows = []
    for index, path in enumerate(runs):
        trial, seed = divmod(index, len(seeds))
        record = json.loads(Path(path).read_text())
        drawn = train_overrides(configurations[trial])
        ran = {key: record["settings"]["train"][key] for key in drawn}
        if record["model"] != model or record["seed"] != seeds[seed] or ran != drawn:
            raise UserError(
                f"{path}: not trial {trial} of model {model!r} at seed {seeds[seed]} (run order is trial-major)"
            )
        score = record[METRIC_KEYS[tune["metric"]]]
        rows.append({"trial": trial, "seed": seeds[seed], **configurations[trial],
                     tune["metric"]: np.nan if score is None else score, "failed": "failed" in record})  # fmt: skip
    return pd.DataFrame(rows)


def trial_scores(table: pd.DataFrame, metric: str) -> np.ndarray:
    """[trials] each trial's mean validation score over tuning seeds, a failed run as the worst score."""
    return table.assign(score=table[metric].fillna(WORST_SCORE)).groupby("trial")["score"].mean().to_numpy()


def choose(model: str, tune: dict, table: pd.DataFrame) -> dict:
    if table["failed"].all():
        raise UserError(f"model {model!r}: every tuning trial failed (loss not finite); change 'tune.space'")
    scores = trial_scores(table, tune["metric"])
    best = int(np.argmax(scores))  # the first of equal maxima: ties to the lower trial index
    configuration = trial_configurations(tune)[best]
    return {
        "model": model,
        "metric": tune["metric"],
        "chosen_on": "val",
        "trial": best,
        "configuration": configuration,
        "train": train_overrides(configuration),
        "score": float(scores[best]),
        "trial_scores": [float(s) for s in scores],
        "failed_runs": int(table["failed"].sum()),
        "trials": tune["trials"],
        "seeds": tune["seeds"],
    }


def run(args: argparse.Namespace) -> int:
    tune = json.loads(args.tune)
    table = trial_table(args.model, tune, args.runs)
    chosen = choose(args.model, tune, table)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with staged_file(args.out_dir / layout.TRIALS_FILE) as staging:
        table.to_csv(staging, index=False)
    with staged_file(args.out_dir / layout.CHOSEN_FILE) as staging:
        staging.write_text(json.dumps(chosen, indent=2) + "\n")
    print(f"{args.model}: trial {chosen['trial']} chosen on val ({tune['metric']} {chosen['score']:.4f})")
    return 0
