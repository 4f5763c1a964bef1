# Two commands on a fresh machine: `make ask Q="..."` and `make test`.
# Each creates .venv and installs what it needs on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
Q       ?= What chip powers the OnePlus 6?

.PHONY: ask test index bench bench-scale bench-postgres fit clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

ask: $(STAMP)
	$(BIN)/askbot ask "$(Q)"

index: $(STAMP)
	$(BIN)/askbot index build

test: $(STAMP)
	$(BIN)/python -m pytest

# Speed figures of issue 5 against their floors (≈ 4 min; a first run also builds a 10k-chunk index, ≈ 6 min more).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# The approximate vector index at 1M synthetic text-like vectors (≈ 10 min the first time, ≈ 4 GB of RAM; keeps its data in data/bench).
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py

# The PostgreSQL backend beside the folder backend: 10k chunks (the bench corpus) and 100k text-like chunks (≈ 3 min once `make bench` built the corpus; starts a pgserver).
bench-postgres: $(STAMP)
	$(BIN)/python benchmarks/bench_postgres.py

# Refit the answer model (src/askbot/data/answer-model.json) on ../shared/eval's dev sets and print
# the fit, leave-one-set-out and documents-held-out tables (≈ 25 min the first time: it indexes the
# three sets into data/eval; ≈ 1 min after). EVAL=dir points elsewhere.
EVAL    ?= ../shared/eval
fit: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fit]'
	$(BIN)/python benchmarks/fit_answers.py --eval $(EVAL) --indexes data/eval

clean:
	rm -rf $(VENV) data/bench
	find index -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
