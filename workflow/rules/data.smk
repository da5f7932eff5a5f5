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
        params:
            n_pairs=config["dataset"]["generate"]["count"],
            seed=config["dataset"]["generate"]["seed"],
        shell:
            "python -m segsweep generate --out {output:q} --count {params.n_pairs} --seed {params.seed} > {log:q} 2>&1"

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
        format=config["dataset"]["format"],
        folder=folder_arg(),
        root=dataset_root,
        positive_ids=label_ids_arg("positive_ids"),
        void_ids=label_ids_arg("void_ids"),
        source=config["split"]["source"],
        seed=config["split"]["seed"],
        fractions="{train} {val} {test}".format(**config["split"]["fractions"]),
        group_pattern=group_pattern_arg(),
        test_groups=" ".join(map(shell_quote, config["split"]["test_groups"])),
        gap=config["split"]["gap"],
        axis=split_axis_args,
    shell:
        "python -m segsweep split --format {params.format} {params.folder} --root {params.root:q} "
        "--positive-ids {params.positive_ids} --void-ids {params.void_ids} --source {params.source} "
        "--seed {params.seed} --fractions {params.fractions} {params.group_pattern} "
        "--test-groups {params.test_groups} --gap {params.gap} {params.axis} --out {output:q} > {log:q} 2>&1"
