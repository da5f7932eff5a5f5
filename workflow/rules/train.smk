# split manifest -> one training run per (model, augmentation, seed).
# The run's resumable state lives in RUN_DIR/state/, which is not an output: Snakemake keeps it
# when a job fails or is killed, so a retry continues from the last completed epoch.

import json

RES = config["resources"]

rule train:
    input:
        split=RESULTS + "/splits/{dataset}.csv",
        data=dataset_made_by_rule(),
    output:
        model=RUN_DIR + "/model.keras",
        history=RUN_DIR + "/history.csv",
        run=RUN_DIR + "/run.json",
    params:
        settings=lambda w: json.dumps(job_settings(config, w.model, w.aug)),
        out_dir=RUN_DIR,
    threads: lambda w: job_settings(config, w.model, w.aug)["train"]["threads"]
    resources:
        mem_mb=lambda w, attempt: RES["train_mem_mb"] * attempt,
        runtime=lambda w, attempt: RES["train_runtime_min"] * attempt,
        gpu=RES["gpus"],
        gpu_model=RES["gpu_model"] if RES["gpus"] else None,
    conda:
        CONDA_ENV
    log:
        RESULTS + "/logs/train/{dataset}/{model}/{aug}/seed{seed}.log",
    benchmark:
        RESULTS + "/benchmarks/train/{dataset}/{model}/{aug}/seed{seed}.tsv"
    shell:
        "{SEGSWEEP} train --settings {params.settings:q} --manifest {input.split:q} "
        "--seed {wildcards.seed} --threads {threads} --out-dir {params.out_dir:q} > {log:q} 2>&1"
