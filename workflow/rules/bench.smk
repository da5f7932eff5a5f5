# `snakemake bench`: speed and memory figures (see README "Performance"); not part of `all`.

rule bench:
    output:
        json=RESULTS + "/bench/bench.json",
        table=RESULTS + "/bench/bench.md",
    conda:
        CONDA_ENV
    log:
        RESULTS + "/logs/bench.log",
    threads: config["train"]["threads"]
    shell:
        "{SEGSWEEP} bench --out-dir {RESULTS}/bench --threads {threads} 2>&1 | tee {log:q}"
