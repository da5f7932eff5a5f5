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


rule aggregate:
    input:
        runs=sweep(RUN_DIR + "/run.json"),
        histories=sweep(RUN_DIR + "/history.csv"),
        metrics=sweep(EVAL_DIR + "/metrics.json"),
        per_image=sweep(EVAL_DIR + "/per_image.csv"),
        masks=sweep(EVAL_DIR + "/masks"),
        split=RESULTS + "/splits/{dataset}.csv",
    output:
        **{key: report(AGG_DIR + "/" + name, caption="../report/" + key + ".rst", category="Tables")
           for key, name in AGG_OUTPUTS.items() if key != "verdict"},
        verdict=AGG_DIR + "/verdict.json",
        plots=[report(AGG_DIR + f"/plots/{p}.png", caption=f"../report/{p}.rst", category="Plots")
               for p in PLOTS],
        grids=report(directory(AGG_DIR + "/grids"), patterns=["{name}.png"],
                     caption="../report/grids.rst", category="Mask grids"),
    params:
        sweep=sweep_args(),
        results=RESULTS,
        grid_images=config["report"]["grid_images"],
        out_dir=AGG_DIR,
    conda:
        CONDA_ENV
    log:
        RESULTS + "/logs/aggregate/{dataset}.log",
    benchmark:
        RESULTS + "/benchmarks/aggregate/{dataset}.tsv"
    shell:
        "{SEGSWEEP} aggregate --results {params.results:q} {params.sweep} "
        "--grid-images {params.grid_images} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule report:
    input:
        aggregate=expand(AGG_DIR + "/verdict.json", dataset=DATASET),
        benchmarks=sweep(RESULTS + "/benchmarks/train/{dataset}/{model}/{aug}/seed{seed}.tsv"),
    output:
        report(RESULTS + "/report.html", caption="../report/report_html.rst", category="Report"),
    params:
        results=RESULTS,
        dataset=shell_quote(DATASET),
        config=lambda w: shell_quote(json.dumps(config)),
    conda:
        CONDA_ENV
    log:
        RESULTS + "/logs/report.log",
    benchmark:
        RESULTS + "/benchmarks/report.tsv"
    shell:
        "{SEGSWEEP} report --results {params.results:q} --dataset {params.dataset} "
        "--config-json {params.config} --out {output:q} > {log:q} 2>&1"
