"""Where every result of an experiment lives: the only place a results path is built.

Like nnU-Net's ``get_output_folder``: the workflow's rules (workflow/rules/common.smk), the steps
that read other steps' files (aggregate, report, grids, index) and the tests all ask this module,
so that the layout is spelled once. Every function takes the experiment folder EXP
(``results/<name>``) and the run's keys, and returns a `Path`; given Snakemake wildcards as the keys
(``run_dir(exp, "{model}", "{aug}", "{split}", "{seed}")``) it returns the rule's path pattern, and
given values, the path of one run. What each file holds is in docs/formats.md.

    results/                          RESULTS
      index.html                      INDEX: every experiment's verdict, forest plot and report
      index-forest.png, .csv          forest_files(INDEX): the index's forest plot and its data
      bench/                          BENCH_DIR: `snakemake bench`
      <name>/                         experiment_dir(name): EXP
        splits/split{split}.csv       split_manifest
        runs/{run}/                   run_dir: model.keras, history.csv, run.json, state/, tensorboard/
        eval/{run}/                   eval_dir: metrics.json, per_image.csv, per_image_val.csv, masks/
        tune/{model}/trial{trial}/seed{seed}/  tune_dir: a tuning trial's run (run.json, history.csv; never a test score)
        tune/{model}/                 tune_choice_dir: chosen.json (the configuration chosen on val), trials.csv
        aggregate/                    aggregate_dir: AGGREGATE_TABLES, verdict.json, plots/, grids/
          looks/look{look}.json       look_file: each look of a sequential sweep
          class_iou.csv               CLASS_IOU_FILE: with dataset.classes only
        aggregate-partial/            aggregate_dir(partial=True): the same over the finished runs
        report.html                   report_file (report-partial.html: partial=True)
        logs/<rule>[/{run}].log       log_file
        benchmarks/<rule>[/{run}].tsv benchmark_file

where {run} is run_path: ``{model}/{aug}/split{split}/seed{seed}``.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path("results")
INDEX = RESULTS / "index.html"
BENCH_DIR = RESULTS / "bench"


def forest_files(index: Path) -> dict[str, Path]:
    """The index's forest plot and the data it draws, beside the index: {"png": ..., "csv": ...}."""
    return {kind: index.with_name(f"{index.stem}-forest.{kind}") for kind in ("png", "csv")}


# A training run's files, in RUN_DIR.
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"
RUN_FILE = "run.json"
# An evaluation's files, in EVAL_DIR.
METRICS_FILE = "metrics.json"
PER_IMAGE_FILE = "per_image.csv"
MASKS_DIR = "masks"

# What aggregate writes: table key -> file, the verdict, the plots' names (plots/<name>.png), grids/.
AGGREGATE_TABLES = {
    "runs": "runs.csv",
    "summary": "summary.csv",
    "comparison": "comparison.csv",
    "per_image": "per_image.csv",
    "pruning": "pruning.csv",
    "models": "models.csv",
}
VERDICT_FILE = "verdict.json"
PLOTS = ("iou_by_model", "score_distribution", "val_iou_curves", "per_image_scatter", "pruning_speed_iou")
TUNING_PLOT = "tuning_curves"  # with `tune` only: each model's expected best validation IoU against trials
# With dataset.classes only (segsweep.reporting.classes): each class's test IoU over runs, and each
# model's confusion matrix as plots/confusion_<model>.png (confusion_plot).
CLASS_IOU_FILE = "class_iou.csv"
PLOTS_DIR = "plots"
GRIDS_DIR = "grids"

REPORT_FILES = {False: "report.html", True: "report-partial.html"}
AGGREGATE_DIRS = {False: "aggregate", True: "aggregate-partial"}

Key = str | int


def experiment_dir(name: str, results: Path | str = RESULTS) -> Path:
    """EXP: every output of one config (key `name`) is below it."""
    return Path(results, name)


def split_manifest(exp: Path | str, split: Key) -> Path:
    return Path(exp, "splits", f"split{split}.csv")


def run_path(model: str, aug: str, split: Key, seed: Key) -> Path:
    """A run's path below runs/, eval/, logs/<rule>/ and benchmarks/<rule>/."""
    return Path(model, aug, f"split{split}", f"seed{seed}")


def run_dir(exp: Path | str, model: str, aug: str, split: Key, seed: Key) -> Path:
    """A training run's folder: model.keras, history.csv, run.json."""
    return Path(exp, "runs") / run_path(model, aug, split, seed)


def eval_dir(exp: Path | str, model: str, aug: str, split: Key, seed: Key) -> Path:
    """An evaluation's folder: metrics.json, per_image.csv, masks/."""
    return Path(exp, "eval") / run_path(model, aug, split, seed)


def run_files(exp: Path | str, model: str, aug: str, split: Key, seed: Key) -> dict[str, Path]:
    """The files of one run that aggregate reads, by file name."""
    train, evaluation = run_dir(exp, model, aug, split, seed), eval_dir(exp, model, aug, split, seed)
    return {
        RUN_FILE: train / RUN_FILE,
        HISTORY_FILE: train / HISTORY_FILE,
        METRICS_FILE: evaluation / METRICS_FILE,
        PER_IMAGE_FILE: evaluation / PER_IMAGE_FILE,
        MASKS_DIR: evaluation / MASKS_DIR,
    }


def predicted_mask(exp: Path | str, model: str, aug: str, split: Key, seed: Key, stem: str) -> Path:
    return eval_dir(exp, model, aug, split, seed) / MASKS_DIR / f"{stem}.png"


# What the tuning stage writes per model, in tune_choice_dir.
CHOSEN_FILE = "chosen.json"
TRIALS_FILE = "trials.csv"


def tune_run_path(model: str, trial: Key, seed: Key) -> Path:
    """A tuning trial's run below tune/, logs/tune_trial/ and benchmarks/tune_trial/."""
    return Path(model, f"trial{trial}", f"seed{seed}")


def tune_dir(exp: Path | str, model: str, trial: Key, seed: Key) -> Path:
    """A tuning trial's training run (config `tune`): scored on validation only."""
    return Path(exp, "tune") / tune_run_path(model, trial, seed)


def tune_choice_dir(exp: Path | str, model: str) -> Path:
    """chosen.json and trials.csv of one model's tuning."""
    return Path(exp, "tune", model)


def aggregate_dir(exp: Path | str, partial: bool = False) -> Path:
    """aggregate/, or aggregate-partial/ for the runs that finished (`partial_report`)."""
    return Path(exp, AGGREGATE_DIRS[partial])


def look_file(exp: Path | str, look: Key) -> Path:
    """The decision of one look of a sequential sweep (`segsweep look`); every look's is kept."""
    return Path(exp, AGGREGATE_DIRS[False], "looks", f"look{look}.json")


def plot_file(aggregate: Path | str, name: str) -> Path:
    return Path(aggregate, PLOTS_DIR, f"{name}.png")


def confusion_plot(model: str) -> str:
    """The plot name of `model`'s confusion matrix in a multi-class sweep (a file name, as a run's folder)."""
    return f"confusion_{model}"


def plot_names(tuned: bool) -> tuple[str, ...]:
    """The plots aggregate writes: PLOTS, and the tuning curves where the sweep was tuned."""
    return (*PLOTS, TUNING_PLOT) if tuned else PLOTS


def report_file(exp: Path | str, partial: bool = False) -> Path:
    return Path(exp, REPORT_FILES[partial])


def log_file(exp: Path | str, rule: str, run: Path | str | None = None) -> Path:
    """logs/<rule>.log for a rule with one job, logs/<rule>/<run>.log for one job per run or split."""
    return Path(exp, "logs", rule, f"{run}.log") if run is not None else Path(exp, "logs", f"{rule}.log")


def benchmark_file(exp: Path | str, rule: str, run: Path | str | None = None) -> Path:
    """Snakemake's benchmark of a job (wall time, peak memory), laid out as its log."""
    return Path(exp, "benchmarks", rule, f"{run}.tsv") if run is not None else Path(exp, "benchmarks", f"{rule}.tsv")
