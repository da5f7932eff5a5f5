# every run's training and evaluation outputs -> tables, statistics, plots, mask grids -> report.

AGG_OUTPUTS = {
    "runs": "runs.csv",
    "summary": "summary.csv",
    "comparison": "comparison.csv",
    "per_image": "per_image.csv",
    "pruning": "pruning.csv",
    "verdict": "verdict.json",
}
PLOTS = ["iou_by_model", "val_iou_curves", "per_image_scatter", "pruning_speed_iou"]


def sweep_args() -> str:
    """The sweep as CLI flags, so that aggregate knows which runs it must find."""
    return (
        f"--dataset {shell_quote(DATASET)} "
        f"--models {' '.join(map(shell_quote, config['models']))} "
        f"--augmentations {' '.join(map(shell_quote, config['augmentations']))} "
        f"--seeds {' '.join(map(str, config['seeds']))} "
        f"--baseline {shell_quote(config['report']['baseline'])} "
        f"--candidate {shell_quote(config['report']['candidate'])}"
    )


def aggregate_inputs(runs) -> dict:
    """What aggregate reads, for the runs that `runs(pattern)` selects from the sweep."""
    return {
        "runs": runs(RUN_DIR + "/run.json"),
        "histories": runs(RUN_DIR + "/history.csv"),
        "metrics": runs(EVAL_DIR + "/metrics.json"),
        "per_image": runs(EVAL_DIR + "/per_image.csv"),
        "masks": runs(EVAL_DIR + "/masks"),
        "split": RESULTS + "/splits/{dataset}.csv",
        "data": dataset_made_by_rule(),  # the mask grids show the dataset's images
    }


def aggregate_params(missing: str) -> dict:
    return {
        "sweep": sweep_args(),
        "results": RESULTS,
        "grid_images": config["report"]["grid_images"],
        "format": config["dataset"]["format"],
        "positive_ids": POSITIVE_IDS_ARG,
        "out_dir": lambda w, output: os.path.dirname(output.verdict),
        "missing": missing,
    }


rule aggregate:
    localrule: True
    input:
        **aggregate_inputs(sweep),
    output:
        **{key: report(AGG_DIR + "/" + name, caption="../report/" + key + ".rst", category="Tables")
           for key, name in AGG_OUTPUTS.items() if key != "verdict"},
        verdict=AGG_DIR + "/verdict.json",
        plots=[report(AGG_DIR + f"/plots/{p}.png", caption=f"../report/{p}.rst", category="Plots")
               for p in PLOTS],
        grids=report(directory(AGG_DIR + "/grids"), patterns=["{name}.png"],
                     caption="../report/grids.rst", category="Mask grids"),
    params:
        **aggregate_params(missing=""),
    conda:
        CONDA_ENV
    log:
        RESULTS + "/logs/aggregate/{dataset}.log",
    benchmark:
        RESULTS + "/benchmarks/aggregate/{dataset}.tsv"
    shell:
        "{SEGSWEEP} aggregate --results {params.results:q} {params.sweep} {params.missing} "
        "--grid-images {params.grid_images} --format {params.format} "
        "--positive-ids {params.positive_ids} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule report:
    localrule: True
    input:
        aggregate=AGG_DIR.format(dataset=DATASET) + "/verdict.json",
    output:
        report(RESULTS + "/report.html", caption="../report/report_html.rst", category="Report"),
    params:
        results=RESULTS,
        dataset=shell_quote(DATASET),
        config=lambda w: shell_quote(json.dumps(config)),
        aggregate_dir=lambda w, input: os.path.dirname(input.aggregate),
    conda:
        CONDA_ENV
    log:
        RESULTS + "/logs/report.log",
    benchmark:
        RESULTS + "/benchmarks/report.tsv"
    shell:
        "{SEGSWEEP} report --results {params.results:q} --dataset {params.dataset} "
        "--config-json {params.config} --aggregate-dir {params.aggregate_dir:q} --out {output:q} > {log:q} 2>&1"


# After a `--keep-going` sweep in which some runs failed, `snakemake partial_report` reports the
# runs that did finish and lists the missing ones in a warning box; the main report never
# averages over fewer runs than the sweep has.
PARTIAL_AGG_DIR = RESULTS + "/aggregate-partial/{dataset}"


def finished(pattern: str):
    """The sweep's files of the runs whose evaluation finished (looked up when the DAG is built)."""
    return lambda w: [f for f, done in zip(sweep(pattern), sweep(EVAL_DIR + "/metrics.json")) if os.path.exists(done)]


use rule aggregate as partial_aggregate with:
    localrule: True
    input:
        **aggregate_inputs(finished),
    output:
        **{key: PARTIAL_AGG_DIR + "/" + name for key, name in AGG_OUTPUTS.items()},
        plots=[PARTIAL_AGG_DIR + f"/plots/{p}.png" for p in PLOTS],
        grids=directory(PARTIAL_AGG_DIR + "/grids"),
    params:
        **aggregate_params(missing="--allow-missing"),
    log:
        RESULTS + "/logs/partial_aggregate/{dataset}.log",
    benchmark:
        RESULTS + "/benchmarks/partial_aggregate/{dataset}.tsv"


use rule report as partial_report with:
    localrule: True
    input:
        aggregate=PARTIAL_AGG_DIR.format(dataset=DATASET) + "/verdict.json",
    output:
        RESULTS + "/report-partial.html",
    log:
        RESULTS + "/logs/partial_report.log",
    benchmark:
        RESULTS + "/benchmarks/partial_report.tsv"
