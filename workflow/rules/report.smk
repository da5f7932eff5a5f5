# every run's training and evaluation outputs -> tables, statistics, plots, mask grids -> report.


rule aggregate:
    input:
        unpack(aggregate_input),
    output:
        **{
            key: report_item(f"{AGG_DIR}/{name}", key, "Tables", table=key)
            for key, name in AGG_TABLES.items()
        },
        verdict=f"{AGG_DIR}/{layout.VERDICT_FILE}",
        plots=[
            report_item(str(layout.plot_file(AGG_DIR, p)), p, "Plots", plot=p)
            for p in PLOTS
        ],
        grids=report(
            directory(f"{AGG_DIR}/{layout.GRIDS_DIR}"),
            patterns=["{name}.png"],
            caption="../report/grids.rst",
            category="Mask grids",
            labels={"grid": "{name}"},
        ),
    log:
        log_path("aggregate"),
    benchmark:
        bench_path("aggregate")
    localrule: True
    conda:
        CONDA_ENV
    params:
        **aggregate_params(missing=""),
    shell:
        "python -m segsweep aggregate --results {params.experiment:q} {params.sweep} {params.looks} {params.tuning} {params.missing} "
        "{params.verdict} --grid-images {params.grid_images} --format {params.format} {params.folder} "
        "--positive-ids {params.positive_ids} --void-ids {params.void_ids} --classes-json {params.classes} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1"


rule report:
    input:
        aggregate=f"{AGG_DIR}/{layout.VERDICT_FILE}",
    output:
        report_item(str(layout.report_file(EXP)), "report_html", "Report"),
    log:
        log_path("report"),
    benchmark:
        bench_path("report")
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
        verdict=f"{PARTIAL_AGG_DIR}/{layout.VERDICT_FILE}",
        plots=[str(layout.plot_file(PARTIAL_AGG_DIR, p)) for p in PLOTS],
        grids=directory(f"{PARTIAL_AGG_DIR}/{layout.GRIDS_DIR}"),
    log:
        log_path("partial_aggregate"),
    benchmark:
        bench_path("partial_aggregate")
    localrule: True
    params:
        **aggregate_params(missing="--allow-missing"),


use rule report as partial_report with:
    input:
        aggregate=f"{PARTIAL_AGG_DIR}/{layout.VERDICT_FILE}",
    output:
        str(layout.report_file(EXP, partial=True)),
    log:
        log_path("partial_report"),
    benchmark:
        bench_path("partial_report")
    localrule: True
