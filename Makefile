# Two commands on a fresh machine: `make ask Q="..."` and `make test`.
# Each creates .venv and installs what it needs on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
Q       ?= What chip powers the OnePlus 6?

.PHONY: ask test index bench bench-scale clean

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

clean:
	rm -rf $(VENV) index/*.d index/current
