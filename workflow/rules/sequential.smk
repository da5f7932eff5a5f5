# A sequential sweep (config `sequential`), run by `python -m segsweep sweep SNAKEMAKE-ARGS`: it asks
# for look 1 (its runs, then `segsweep look` deciding with the repeated confidence interval), reads
# the decision, asks for look 2 only if the sweep goes on, and so on; then for the report, whose
# aggregate reads the looks decided. Why a driver and not a checkpoint: segsweep/sweep.py.


rule look:
    input:
        unpack(
            lambda wildcards: aggregate_inputs(
                lambda pattern: sweep(pattern, look_seeds(int(wildcards.look)))
            )
        ),
    output:
        str(layout.look_file(EXP, "{look}")),
    log:
        log_path("look", "look{look}"),
    benchmark:
        bench_path("look", "look{look}")
    localrule: True
    conda:
        CONDA_ENV
    params:
        experiment=lambda wildcards, output: Path(output[0]).parents[2],
        sweep=lambda wildcards: sweep_args(look_seeds(int(wildcards.look))),
        verdict=verdict_args(),
        sequential=canonical_json(config.get("sequential", {})),
        tuning=tuning_args,
    shell:
        "python -m segsweep look --results {params.experiment:q} {params.sweep} {params.verdict} {params.tuning} "
        "--look {wildcards.look} --sequential {params.sequential:q} --out {output:q} > {log:q} 2>&1"
