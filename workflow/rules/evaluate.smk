# trained run -> metrics on the held-out test split at the original resolution, and speed.
# On SLURM, the profile groups each run's train and evaluate jobs into one job (`groups:`).


rule evaluate:
    input:
        model=f"{RUN_DIR}/{layout.MODEL_FILE}",
        run=f"{RUN_DIR}/{layout.RUN_FILE}",
        split=SPLIT_FILE,
        data=dataset_made_by_rule(),
        chosen=chosen_input,  # with `tune`: the model's chosen configuration, read by the job
    output:
        metrics=report_item(
            f"{EVAL_DIR}/{layout.METRICS_FILE}",
            "metrics",
            "Runs",
            model="{model}",
            augmentation="{aug}",
            split="{split}",
            seed="{seed}",
        ),
        per_image=f"{EVAL_DIR}/{layout.PER_IMAGE_FILE}",
        masks=directory(f"{EVAL_DIR}/{layout.MASKS_DIR}"),
    log:
        log_path("evaluate", RUN_PATH),
    benchmark:
        bench_path("evaluate", RUN_PATH)
    conda:
        CONDA_ENV
    threads: run_threads
    resources:
        mem_mb=lambda wildcards, attempt: RES["eval_mem_mb"] * attempt,
        runtime=lambda wildcards, attempt: RES["eval_runtime_min"] * attempt,
        gpu=RES["gpus"],
        gpu_model=RES["gpu_model"] if RES["gpus"] else None,
    params:
        settings=evaluation_params,
        chosen=chosen_arg,
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
    shell:
        "python -m segsweep evaluate --settings {params.settings:q} {params.chosen} --manifest {input.split:q} "
        "--model-file {input.model:q} --threads {threads} --out-dir {params.out_dir:q} > {log:q} 2>&1"
