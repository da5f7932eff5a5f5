# every run's training and evaluation outputs -> tables, statistics, plots, mask grids -> report.


rule aggregate:
    input:
        **aggregate_inputs(sweep),
    output:
        **{
            key: report_item(f"{AGG_DIR}/{name}", key, "Tables", table=key)
            for key, name in AGG_TABLES.items()
        },
        verdict=f"{AGG_DIR}/verdict.json",
        plots=[
            report_item(f"{AGG_DIR}/plots/{p}.png", p, "Plots", plot=p) for p in PLOTS
        ],
        grids=report(
            directory(f"{AGG_DIR}/grids"),
            patterns=["{name}.png"],
            caption="../report/grids.rst",
            category="Mask grids",
            labels={"grid": "{name}"},
        ),
    log:
        f"{EXP}/logs/aggregate.log",
    benchmark:
        f"{EXP}/benchmarks/aggregate.tsv"
    localrule: True
    conda:
        CONDA_ENV
    params:
        **aggregate_params(missing=""),
    shell:
        "python -m segsweep aggregate --results {params.experiment:q} {params.sweep} {params.missing} "
        "{params.verdict} --grid-images {params.grid_images} --format {params.format} "
        "--positive-ids {params.positive_ids} --void-ids {params.void_ids} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1"


rule report:
    input:
        aggregate=f"{AGG_DIR}/verdict.json",
    output:
        report_item(f"{EXP}/report.html", "report_html", "Report"),
    log:
        f"{EXP}/logs/report.log",
    benchmark:
        f"{EXP}/benchmarks/report.tsv"
    localrule: True
    conda:
        CONDA_ENV
    params:
        experiment=lambda wildcards, input: os.path.dirname(
            os.path.dirname(input.aggregate)
        ),
        dataset=config["dataset"]["name"],
        config=lambda wildcards: canonical_json(config),
        aggregate_dir=lambda wildcards, input: os.path.dirname(input.aggregate),
    shell:
        "python -m segsweep report --results {params.experiment:q} --dataset {params.dataset:q} "
        "--config-json {params.config:q} --aggregate-dir {params.aggregate_dir:q} --out {output:q} > {log:q} 2>&1"


# After a `--keep-going` sweep in which some runs failed, `snakemake partial_report` reports the
# runs that did finish and lists the missing ones in a warning box; the main report never
# averages over fewer runs than the sweep has.
use rule aggregate as partial_aggregate with:
    input:
        **aggregate_inputs(finished),
    output:
        **{key: f"{PARTIAL_AGG_DIR}/{name}" for key, name in AGG_TABLES.items()},
        verdict=f"{PARTIAL_AGG_DIR}/verdict.json",
        plots=[f"{PARTIAL_AGG_DIR}/plots/{p}.png" for p in PLOTS],
        grids=directory(f"{PARTIAL_AGG_DIR}/grids"),
    log:
        f"{EXP}/logs/partial_aggregate.log",
    benchmark:
        f"{EXP}/benchmarks/partial_aggregate.tsv"
    localrule: True
    params:
        **aggregate_params(missing="--allow-missing"),


use rule report as partial_report with:
    input:
        aggregate=f"{PARTIAL_AGG_DIR}/verdict.json",
    output:
        f"{EXP}/report-partial.html",
    log:
        f"{EXP}/logs/partial_report.log",
    benchmark:
        f"{EXP}/benchmarks/partial_report.tsv"
    localrule: True
