# The two README commands: `make run` (set up, then run the default sweep) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 2

.PHONY: run test env dry-run bench clean-results

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

env: $(VENV)/.installed

run: env
	$(VENV)/bin/snakemake --cores $(CORES)
	@echo "Report: $(CURDIR)/results/synthetic/report.html (all experiments: $(CURDIR)/results/index.html)"

dry-run: env
	$(VENV)/bin/snakemake -n

# One pytest worker per core, each taking whole modules (module-scoped fixtures, such as a
# finished tiny sweep or the SLURM scenarios, are made once), in the order tests/conftest.py
# gives them, longest first (xdist would otherwise order modules by their number of tests);
# `pytest` by hand runs serially.
test: env
	$(VENV)/bin/python -m pytest -n $(CORES) --dist loadfile --no-loadscope-reorder --durations=15

# The benchmark takes every core: --set-threads overrides the rule's train.threads (a rule
# cannot read --cores itself), so docs/results.md's tables are what `make bench` measures.
bench: env
	$(VENV)/bin/snakemake --set-threads bench=$(CORES) --cores $(CORES) bench
