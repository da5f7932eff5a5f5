# What the rules share: the validated config, the result layout of the experiment, and the
# functions that turn the config into inputs, params and resources. No rules here.

import json
import os
import sys
from pathlib import Path
from shlex import quote as shell_quote

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# The segsweep package sits beside workflow/: importable here, and in every job through
# PYTHONPATH. The jobs' `python` is Snakemake's own interpreter (a venv need not be activated);
# under --sdm conda the environment's `python` comes first on PATH instead.
REPO = str(Path(workflow.basedir).parent)
sys.path.insert(0, REPO)
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [REPO, os.environ.get("PYTHONPATH")])
)
os.environ["PATH"] = os.pathsep.join(
    filter(None, [os.path.dirname(sys.executable), os.environ.get("PATH")])
)

from segsweep import layout  # noqa: E402
from segsweep.config import (  # noqa: E402
    SCHEMA_PATH,
    add_pythonpath,
    canonical_json,
    check_config,
    describe_schema_error,
    evaluation_settings,
    experiment_name,
    job_settings,
    job_threads,
    model_names,
    split_count,
    split_settings,
    training_settings,
)
from segsweep.config.sequential import Schedule  # noqa: E402
from segsweep.config.tuning import (  # noqa: E402
    train_overrides,
    trial_configurations,
    tuning_augmentation,
    with_train,
)
from segsweep.data.task import resolve_task  # noqa: E402
from segsweep.errors import ConfigError  # noqa: E402

# Snakemake's own validation fills the schema's defaults; its error is cut to the key at fault.
try:
    validate(config, str(SCHEMA_PATH), set_default=True)
except WorkflowError as error:
    raise ConfigError(describe_schema_error(error)) from None
# The folders of user model builders (key `pythonpath`), importable here and in every job.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [*add_pythonpath(config), os.environ["PYTHONPATH"]]
)
check_config(
    config
)  # cross-key checks the schema cannot express; raises naming the key
# The task: binary road, or the classes of dataset.classes, resolved into the config the jobs read.
resolve_task(config)
if any(isinstance(entry, dict) for entry in config["models"]):
    from segsweep.models.plugin import check_user_models

    check_user_models(config)  # builds each user model once: a bad builder stops here

# Every output of this config lives under EXP; another config's `name` never shares a file with
# it. The paths come from segsweep/layout.py, the one place the results layout is spelled; here
# with the rules' wildcards.
EXP = str(layout.experiment_dir(experiment_name(config)))
SPLIT_FILE = str(layout.split_manifest(EXP, "{split}"))
RUN_DIR = str(layout.run_dir(EXP, "{model}", "{aug}", "{split}", "{seed}"))
EVAL_DIR = str(layout.eval_dir(EXP, "{model}", "{aug}", "{split}", "{seed}"))
RUN_PATH = str(layout.run_path("{model}", "{aug}", "{split}", "{seed}"))
AGG_DIR = str(layout.aggregate_dir(EXP))
PARTIAL_AGG_DIR = str(layout.aggregate_dir(EXP, partial=True))
AGG_TABLES = layout.AGGREGATE_TABLES
PLOTS = layout.plot_names(bool(config.get("tune")))  # the tuning curves with `tune`
DATA_ROOT = config["dataset"]["root"]
RES = config["resources"]
CONDA_ENV = "../envs/segsweep.yaml"  # with --sdm conda; relative to the rule files


def log_path(rule: str, run: str | None = None) -> str:
    """The rule's log file: logs/<rule>.log, or logs/<rule>/<run>.log for one job per run."""
    return str(layout.log_file(EXP, rule, run))


def bench_path(rule: str, run: str | None = None) -> str:
    """The rule's Snakemake benchmark file, laid out as its log."""
    return str(layout.benchmark_file(EXP, rule, run))


wildcard_constraints:
    model="[^/]+",
    aug="[^/]+",
    split=r"\d+",
    seed=r"\d+",
    look=r"\d+",


def split_ids() -> list[int]:
    """The split axis: 0..n-1 for `split.folds` folds, `split.hold_out_each` held-out groups or
    `split.repeats` random splits (one by default)."""
    return list(range(split_count(config["split"])))


def sweep(pattern: str, seeds: list[int] | None = None) -> list[str]:
    """Every (model, augmentation, split, seed) of the configured sweep, for one path pattern;
    `seeds` narrows it to the seeds of one look of a sequential sweep."""
    return expand(
        pattern,
        model=model_names(config),
        aug=config["augmentations"],
        split=split_ids(),
        seed=config["seeds"] if seeds is None else seeds,
    )


def finished(pattern: str):
    """The sweep's files of the runs whose evaluation finished (looked up when the DAG is built)."""
    done = sweep(f"{EVAL_DIR}/{layout.METRICS_FILE}")
    return lambda wildcards: [
        f for f, d in zip(sweep(pattern), done) if os.path.exists(d)
    ]


def dataset_made_by_rule() -> list[str]:
    """The dataset folder as an input where a rule makes it; nothing for an existing folder."""
    dataset = config["dataset"]
    return [DATA_ROOT] if ("generate" in dataset or "download" in dataset) else []


def folder_arg() -> str:
    """`--folder JSON` of `dataset.folder` for format folder; nothing for the built-in formats."""
    dataset = config["dataset"]
    if dataset["format"] != "folder":
        return ""
    return f"--folder {shell_quote(canonical_json(dataset['folder']))}"


def label_ids_arg(key: str) -> str:
    """`--positive-ids`/`--void-ids` arguments from `dataset.<key>`: none means the format's own."""
    return " ".join(map(str, config["dataset"][key] or []))


def training_params(wildcards) -> str:
    """What a training run's result depends on, as canonical JSON: only a change to it reruns training."""
    # with `tune`, the job adds the model's chosen configuration itself (chosen_arg)
    return canonical_json(
        training_settings(job_settings(config, wildcards.model, wildcards.aug))
    )


def evaluation_params(wildcards) -> str:
    """The evaluation's own settings: an evaluation-only change reruns evaluations, never training."""
    return canonical_json(
        evaluation_settings(job_settings(config, wildcards.model, wildcards.aug))
    )


def run_threads(wildcards) -> int:
    return job_threads(config, wildcards.model, wildcards.aug)


def sweep_args(seeds: list[int] | None = None) -> str:
    """The sweep as CLI flags, so that aggregate knows which runs it must find."""
    seeds = config["seeds"] if seeds is None else seeds
    return (
        f"--dataset {shell_quote(config['dataset']['name'])} "
        f"--models {' '.join(map(shell_quote, model_names(config)))} "
        f"--augmentations {' '.join(map(shell_quote, config['augmentations']))} "
        f"--splits {' '.join(map(str, split_ids()))} "
        f"--seeds {' '.join(map(str, seeds))} "
        f"--baseline {shell_quote(config['report']['baseline'])} "
        f"--candidate {shell_quote(config['report']['candidate'])}"
    )


# `report` config key -> `segsweep aggregate` flag, for the verdict's statistics.
VERDICT_FLAGS = {
    "metric": "--metric",
    "min_effect": "--min-effect",
    "bootstrap_resamples": "--bootstrap-resamples",
    "bootstrap_seed": "--bootstrap-seed",
}


def verdict_args() -> str:
    keys = config["report"]
    return " ".join(
        f"{flag} {shell_quote(str(keys[key]))}" for key, flag in VERDICT_FLAGS.items()
    )


def aggregate_inputs(runs) -> dict:
    """What aggregate reads, for the runs that `runs(pattern)` selects from the sweep."""
    return {
        "runs": runs(f"{RUN_DIR}/{layout.RUN_FILE}"),
        "histories": runs(f"{RUN_DIR}/{layout.HISTORY_FILE}"),
        "metrics": runs(f"{EVAL_DIR}/{layout.METRICS_FILE}"),
        "per_image": runs(f"{EVAL_DIR}/{layout.PER_IMAGE_FILE}"),
        "masks": runs(f"{EVAL_DIR}/{layout.MASKS_DIR}"),
        "splits": expand(SPLIT_FILE, split=split_ids()),
        "data": dataset_made_by_rule(),  # the mask grids show the dataset's images
        **(
            {
                "chosen": expand(
                    f"{TUNE_CHOICE_DIR}/{layout.CHOSEN_FILE}", model=model_names(config)
                )
            }
            if TUNE
            else {}
        ),  # with `tune`: each model's trials, for the tuning curves
    }


def tuning_args(wildcards, input) -> str:
    """--tuning with each model's chosen.json where the sweep is tuned: the trials' cost and curves."""
    return (
        f"--tuning {' '.join(map(shell_quote, input.chosen))}"
        if hasattr(input, "chosen")
        else ""
    )


def aggregate_params(missing: str) -> dict:
    return {
        "sweep": lambda wildcards, input: sweep_args(aggregate_seeds(input)),
        "looks": lambda wildcards, input: (
            f"--looks {' '.join(map(shell_quote, input.looks))}"
            if hasattr(input, "looks")
            else ""
        ),
        "tuning": tuning_args,
        "verdict": verdict_args(),
        "experiment": lambda wildcards, output: os.path.dirname(
            os.path.dirname(output.verdict)
        ),
        "grid_images": config["report"]["grid_images"],
        "format": config["dataset"]["format"],
        "folder": folder_arg(),
        "positive_ids": label_ids_arg("positive_ids"),
        "void_ids": label_ids_arg("void_ids"),
        "classes": shell_quote(canonical_json(config["dataset"].get("classes"))),
        "out_dir": lambda wildcards, output: os.path.dirname(output.verdict),
        "missing": missing,
    }


def report_item(path: str, name: str, category: str, **labels):
    """A file of `snakemake --report`, with its caption in workflow/report/<name>.rst."""
    return report(
        path, caption=f"../report/{name}.rst", category=category, labels=labels or None
    )


# A sequential sweep (config `sequential`; rules/sequential.smk): which looks the report reads.
SCHEDULE = (
    Schedule.from_config(config["sequential"]) if "sequential" in config else None
)


def look_seeds(look: int) -> list[int]:
    """The seeds of look k: the first seeds_at(k) of `seeds`, in their order."""
    return config["seeds"][: SCHEDULE.seeds_at(look)]


def look_is_current(look: int, path: str) -> bool:
    """Whether look k's record was made with this config's schedule, seeds, margin and models, from
    the runs as they are: a stale record must not decide."""
    record = json.loads(Path(path).read_text())
    sweep = record.get("sweep", {})
    current = {
        "schedule": record.get("schedule") == config["sequential"],
        "seeds": record.get("seeds") == look_seeds(look),
        "margin": (record.get("min_effect"), record.get("metric"))
        == (config["report"]["min_effect"], config["report"]["metric"]),
        "models": sweep.get("models") == model_names(config)
        and sweep.get("augmentations") == config["augmentations"],
    }
    newest_run = max(
        (
            os.path.getmtime(f)
            for f in sweep_files(look_seeds(look))
            if os.path.exists(f)
        ),
        default=0.0,
    )
    return all(current.values()) and newest_run <= os.path.getmtime(path)


def look_to_report() -> int:
    """The look the report is for: the first that stopped, or else the first whose record is missing
    or out of date, which Snakemake then decides (`segsweep aggregate` refuses a look that did not
    stop, naming `segsweep sweep`, which asks for the looks one by one)."""
    for look in range(1, SCHEDULE.last_look + 1):
        path = str(layout.look_file(EXP, look))
        if not os.path.exists(path) or not look_is_current(look, path):
            return look
        if json.loads(Path(path).read_text())["stop"]:
            return look
    return SCHEDULE.last_look


def sweep_files(seeds: list[int]) -> list[str]:
    """The files of a look's runs that its decision reads."""
    return [
        *sweep(f"{RUN_DIR}/{layout.RUN_FILE}", seeds),
        *sweep(f"{EVAL_DIR}/{layout.PER_IMAGE_FILE}", seeds),
    ]


def aggregate_input(wildcards) -> dict:
    """The runs behind the report: every seed of a fixed sweep; the decided look's of a sequential one."""
    if SCHEDULE is None:
        return aggregate_inputs(sweep)
    look = look_to_report()
    return {
        **aggregate_inputs(lambda pattern: sweep(pattern, look_seeds(look))),
        "looks": [str(layout.look_file(EXP, k)) for k in range(1, look + 1)],
    }


def aggregate_seeds(input) -> list[int]:
    """The seeds aggregate reads: the last look's when the sweep is sequential."""
    if "looks" not in input.keys():
        return config["seeds"]
    return json.loads(Path(input.looks[-1]).read_text())["seeds"]


# Tuning (config `tune`; rules/tune.smk): the trials' settings and each model's chosen configuration.

TUNE = config.get("tune")
TUNE_DIR = str(layout.tune_dir(EXP, "{model}", "{trial}", "{seed}"))
TUNE_RUN_PATH = str(layout.tune_run_path("{model}", "{trial}", "{seed}"))
TUNE_CHOICE_DIR = str(layout.tune_choice_dir(EXP, "{model}"))


wildcard_constraints:
    trial=r"\d+",


def trial_params(wildcards) -> str:
    """A trial's training settings: the model's job settings with the trial's draws; only a trial
    whose drawn values change is rerun."""
    overrides = train_overrides(trial_configurations(TUNE)[int(wildcards.trial)])
    job = job_settings(config, wildcards.model, tuning_augmentation(config))
    return canonical_json(training_settings(with_train(job, overrides)))


def chosen_input(wildcards) -> list[str]:
    """chosen.json of the run's model where tuning is on (waits for the checkpoint); else nothing."""
    if TUNE is None:
        return []
    return [checkpoints.tune_choose.get(model=wildcards.model).output.chosen]


def chosen_arg(wildcards, input) -> str:
    """`--chosen chosen.json` where tuning is on: the job reads the model's chosen configuration
    when it starts, not when the DAG is built (a re-tune rewrites the file after that).
    """
    return f"--chosen {shell_quote(input.chosen[0])}" if TUNE is not None else ""
