# dataset -> split manifest. The dataset is either generated (embedded default), downloaded, or
# an existing folder (checked to exist before any job starts, by segsweep.config.check_config).


if "generate" in config["dataset"]:

    rule generate_dataset:
        output:
            directory(DATA_ROOT),
        log:
            log_path("generate_dataset"),
        benchmark:
            bench_path("generate_dataset")
        localrule: True
        conda:
            CONDA_ENV
        # Everything waits for the dataset: two processes halve its wait and stay modest on a login node.
        threads: 2
        params:
            n_pairs=config["dataset"]["generate"]["count"],
            seed=config["dataset"]["generate"]["seed"],
            height=config["dataset"]["generate"]["height"],
            width=config["dataset"]["generate"]["width"],
        shell:
            "python -m segsweep generate --out {output:q} --count {params.n_pairs} --seed {params.seed} "
            "--height {params.height} --width {params.width} --workers {threads} > {log:q} 2>&1"

elif "download" in config["dataset"]:

    rule download_dataset:
        output:
            directory(DATA_ROOT),
        log:
            log_path("download_dataset"),
        benchmark:
            bench_path("download_dataset")
        localrule: True
        conda:
            CONDA_ENV
        params:
            url=config["dataset"]["download"]["url"],
            sha256=config["dataset"]["download"]["sha256"],
            strip=config["dataset"]["download"]["strip_components"],
        shell:
            "python -m segsweep download --url {params.url:q} --sha256 {params.sha256} "
            "--strip-components {params.strip} --out {output:q} > {log:q} 2>&1"


rule make_split:
    input:
        data=dataset_made_by_rule(),
    output:
        SPLIT_FILE,
    log:
        log_path("make_split", "split{split}"),
    benchmark:
        bench_path("make_split", "split{split}")
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=canonical_json(split_settings(config)),
    shell:
        "python -m segsweep split --settings {params.settings:q} --index {wildcards.split} "
        "--out {output:q} > {log:q} 2>&1"
