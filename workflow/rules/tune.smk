# Tuning (config `tune`, off when absent): every model trains the same `tune.trials` configurations
# (segsweep/config/tuning.py) on the tuning seeds, on split 0 with the first augmentation, and is
# scored on validation only: a trial is an ordinary, resumable training run whose run.json holds its
# best validation IoU; no tuning run is ever evaluated on test. `tune_choose` is a checkpoint: the
# evaluation runs' params (their `train` settings) depend on the configuration it writes.

# The functions and paths these rules use are in rules/common.smk (Tuning).


rule tune_trial:
    input:
        split=str(layout.split_manifest(EXP, 0)),
        data=dataset_made_by_rule(),
    output:
        run=f"{TUNE_DIR}/{layout.RUN_FILE}",
    log:
        log_path("tune_trial", TUNE_RUN_PATH),
    benchmark:
        bench_path("tune_trial", TUNE_RUN_PATH)
    conda:
        CONDA_ENV
    threads: lambda wildcards: job_threads(config, wildcards.model, tuning_augmentation(config))
    resources:
        mem_mb=lambda wildcards, attempt: RES["train_mem_mb"] * attempt,
        runtime=lambda wildcards, attempt: RES["train_runtime_min"] * attempt,
        gpu=RES["gpus"],
        gpu_model=RES["gpu_model"] if RES["gpus"] else None,
    params:
        settings=trial_params,
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
    shell:
        "python -m segsweep tune-trial --settings {params.settings:q} --manifest {input.split:q} "
        "--seed {wildcards.seed} --threads {threads} --out-dir {params.out_dir:q} > {log:q} 2>&1"


checkpoint tune_choose:
    input:
        runs=lambda wildcards: expand(
            f"{TUNE_DIR}/{layout.RUN_FILE}",
            model=wildcards.model,
            trial=range(TUNE["trials"]),
            seed=TUNE["seeds"],
        ),
    output:
        chosen=f"{TUNE_CHOICE_DIR}/{layout.CHOSEN_FILE}",
        trials=f"{TUNE_CHOICE_DIR}/{layout.TRIALS_FILE}",
    log:
        log_path("tune_choose", "{model}"),
    conda:
        CONDA_ENV
    params:
        tune=lambda wildcards: canonical_json(TUNE),
        out_dir=lambda wildcards, output: os.path.dirname(output.chosen),
    shell:
        "python -m segsweep choose --model {wildcards.model:q} --tune {params.tune:q} "
        "--runs {input.runs:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
