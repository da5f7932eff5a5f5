# trained run -> metrics on the held-out test split at the original resolution, and speed.

rule evaluate:
    input:
        model=RUN_DIR + "/model.keras",
        run=RUN_DIR + "/run.json",
        split=RESULTS + "/splits/{dataset}.csv",
        data=dataset_made_by_rule(),
    output:
        metrics=EVAL_DIR + "/metrics.json",
        per_image=EVAL_DIR + "/per_image.csv",
        masks=directory(EVAL_DIR + "/masks"),
    params:
        settings=lambda w: json.dumps(job_settings(config, w.model, w.aug)),
        out_dir=EVAL_DIR,
    threads: config["train"]["threads"]
    resources:
        mem_mb=lambda w, attempt: RES["eval_mem_mb"] * attempt,
        runtime=lambda w, attempt: RES["eval_runtime_min"] * attempt,
        gpu=RES["gpus"],
        gpu_model=RES["gpu_model"] if RES["gpus"] else None,
    conda:
        CONDA_ENV
    log:
        RESULTS + "/logs/evaluate/{dataset}/{model}/{aug}/seed{seed}.log",
    benchmark:
        RESULTS + "/benchmarks/evaluate/{dataset}/{model}/{aug}/seed{seed}.tsv"
    shell:
        "{SEGSWEEP} evaluate --settings {params.settings:q} --manifest {input.split:q} "
        "--model-file {input.model:q} --threads {threads} --out-dir {params.out_dir:q} > {log:q} 2>&1"
