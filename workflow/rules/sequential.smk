# A sequential sweep (config `sequential`): look k runs the first seeds of `seeds`, then decides
# with its repeated confidence interval (`segsweep look`). Whether look k + 1 runs is known only
# once look k has decided, so `look` is a checkpoint: the aggregate's input walks the looks and
# asks for the next one only while the last did not stop. One `snakemake` command, locally or with
# `--profile slurm`, runs the whole sequence; finished runs are never redone, since look k + 1's
# runs include look k's.

import json

from snakemake.exceptions import IncompleteCheckpointException
from snakemake.io import checkpoint_target

from segsweep.config.sequential import Schedule

SCHEDULE = (
    Schedule.from_config(config["sequential"]) if "sequential" in config else None
)


def look_seeds(look: int) -> list[int]:
    """The seeds of look k: the first seeds_at(k) of `seeds`, in their order."""
    return config["seeds"][: SCHEDULE.seeds_at(look)]


def look_is_current(look: int, path: str) -> bool:
    """Whether look k's record was made with this config's schedule, seeds and margin, from the
    runs as they are. Snakemake takes an existing checkpoint output as final while the DAG is built,
    even when a changed config is about to run the look again; a stale record must not decide.
    """
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


def decided_look() -> int:
    """The first look that stopped; raises Snakemake's incomplete-checkpoint signal until it is known."""
    for look in range(1, SCHEDULE.last_look + 1):
        path = checkpoints.look.get(look=look).output[0]
        if not look_is_current(look, path):
            raise IncompleteCheckpointException(
                checkpoints.look.rule, checkpoint_target(path)
            )
        if json.loads(Path(path).read_text())["stop"]:
            return look
    raise WorkflowError(
        f"no look of {layout.look_file(EXP, '*')} stopped, yet the last one must"
    )


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
    look = decided_look()
    return {
        **aggregate_inputs(lambda pattern: sweep(pattern, look_seeds(look))),
        "looks": [str(layout.look_file(EXP, k)) for k in range(1, look + 1)],
    }


def aggregate_seeds(input) -> list[int]:
    """The seeds aggregate reads: the last look's when the sweep is sequential."""
    if "looks" not in input.keys():
        return config["seeds"]
    return json.loads(Path(input.looks[-1]).read_text())["seeds"]


checkpoint look:
    input:
        unpack(
            lambda wildcards: aggregate_inputs(
                lambda pattern: sweep(pattern, look_seeds(int(wildcards.look)))
            )
        ),
    output:
        str(layout.look_file(EXP, "{look}")),
    log:
        log_path("look", "look{look}"),
    benchmark:
        bench_path("look", "look{look}")
    localrule: True
    conda:
        CONDA_ENV
    params:
        experiment=lambda wildcards, output: Path(output[0]).parents[2],
        sweep=lambda wildcards: sweep_args(look_seeds(int(wildcards.look))),
        verdict=verdict_args(),
        sequential=canonical_json(config.get("sequential", {})),
    shell:
        "python -m segsweep look --results {params.experiment:q} {params.sweep} {params.verdict} "
        "--look {wildcards.look} --sequential {params.sequential:q} --out {output:q} > {log:q} 2>&1"
