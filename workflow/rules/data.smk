# dataset -> split manifest. The dataset is either generated (embedded default), downloaded, or
# an existing folder (checked to exist before any job starts, by segsweep.config.check_config).

DATA_ROOT = config["dataset"]["root"]
# `--positive-ids` arguments: none means the format's own road ids.
POSITIVE_IDS_ARG = " ".join(map(str, config["dataset"]["positive_ids"] or []))


def dataset_made_by_rule() -> list[str]:
    """The dataset folder as an input where a rule makes it; nothing for an existing folder."""
    ds = config["dataset"]
    return [DATA_ROOT] if ("generate" in ds or "download" in ds) else []


if "generate" in config["dataset"]:

    rule generate_dataset:
        localrule: True
        output:
            directory(DATA_ROOT),
        params:
            n_pairs=config["dataset"]["generate"]["count"],
            seed=config["dataset"]["generate"]["seed"],
        conda:
            CONDA_ENV
        log:
            RESULTS + "/logs/generate_dataset.log",
        benchmark:
            RESULTS + "/benchmarks/generate_dataset.tsv"
        shell:
            "{SEGSWEEP} generate --out {output:q} --count {params.n_pairs} --seed {params.seed} > {log:q} 2>&1"

elif "download" in config["dataset"]:

    rule download_dataset:
        localrule: True
        output:
            directory(DATA_ROOT),
        params:
            url=config["dataset"]["download"]["url"],
            sha256=config["dataset"]["download"]["sha256"],
            strip=config["dataset"]["download"]["strip_components"],
        conda:
            CONDA_ENV
        log:
            RESULTS + "/logs/download_dataset.log",
        benchmark:
            RESULTS + "/benchmarks/download_dataset.tsv"
        shell:
            "{SEGSWEEP} download --url {params.url:q} --sha256 {params.sha256} "
            "--strip-components {params.strip} --out {output:q} > {log:q} 2>&1"


rule make_split:
    localrule: True
    input:
        dataset_made_by_rule(),
    output:
        RESULTS + "/splits/{dataset}.csv",
    params:
        format=config["dataset"]["format"],
        root=DATA_ROOT,
        positive_ids=POSITIVE_IDS_ARG,
        source=config["split"]["source"],
        seed=config["split"]["seed"],
        fractions=lambda w: "{train} {val} {test}".format(**config["split"]["fractions"]),
    conda:
        CONDA_ENV
    log:
        RESULTS + "/logs/make_split/{dataset}.log",
    benchmark:
        RESULTS + "/benchmarks/make_split/{dataset}.tsv"
    shell:
        "{SEGSWEEP} split --format {params.format} --root {params.root:q} "
        "--positive-ids {params.positive_ids} --source {params.source} --seed {params.seed} "
        "--fractions {params.fractions} --out {output:q} > {log:q} 2>&1"
