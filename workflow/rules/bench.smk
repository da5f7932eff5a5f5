# `snakemake bench`: speed and memory figures (see docs/performance.md); not part of `all`.


rule bench:
    output:
        json=f"{layout.BENCH_DIR}/bench.json",
        table=f"{layout.BENCH_DIR}/bench.md",
    log:
        f"{layout.BENCH_DIR}/bench.log",
    conda:
        CONDA_ENV
    threads: config["train"]["threads"]
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.json),
    shell:
        "python -m segsweep bench --out-dir {params.out_dir:q} --threads {threads} 2>&1 | tee {log:q}"
