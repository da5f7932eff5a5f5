# split manifest -> one training run per (model, augmentation, split, seed).
# The run's resumable state lives in RUN_DIR/state/, which is not an output: Snakemake keeps it
# when a job fails, is killed or is requeued, so the next attempt continues from the last
# completed epoch. Params hold only what changes the result (training_params); the thread count
# and evaluation-only keys never rerun a training job.


rule train:
    input:
        split=SPLIT_FILE,
        data=dataset_made_by_rule(),
        chosen=chosen_input,  # with `tune`: the model's chosen configuration, read by the job
    output:
        model=f"{RUN_DIR}/{layout.MODEL_FILE}",
        history=report_item(
            f"{RUN_DIR}/{layout.HISTORY_FILE}",
            "history",
            "Runs",
            model="{model}",
            augmentation="{aug}",
            split="{split}",
            seed="{seed}",
        ),
        run=f"{RUN_DIR}/{layout.RUN_FILE}",
    log:
        log_path("train", RUN_PATH),
    benchmark:
        bench_path("train", RUN_PATH)
    conda:
        CONDA_ENV
    threads: run_threads
    resources:
        mem_mb=lambda wildcards, attempt: RES["train_mem_mb"] * attempt,
        runtime=lambda wildcards, attempt: RES["train_runtime_min"] * attempt,
        gpu=RES["gpus"],
        gpu_model=RES["gpu_model"] if RES["gpus"] else None,
    params:
        settings=training_params,
        chosen=chosen_arg,
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
    shell:
        "python -m segsweep train --settings {params.settings:q} {params.chosen} --manifest {input.split:q} "
        "--seed {wildcards.seed} --threads {threads} --out-dir {params.out_dir:q} > {log:q} 2>&1"
