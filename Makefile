# ctml-nb: `make demo` and `make test` do everything on a fresh machine (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: install test demo sync-check nbtest pytest bench clean help

help:
	@echo "make demo   create .venv, install, run the demo on the bundled data"
	@echo "make test   create .venv, install, check notebooks/modules are in sync, run nbdev_test and pytest"
	@echo "make bench  run the benchmarks in bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.py settings.ini
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

# The notebooks in nbs/ are the source of ctml_nb/: exporting and cleaning them must change nothing.
sync-check: install
	@before=$$(find ctml_nb nbs -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' | sort | xargs sha256sum); \
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean; \
	after=$$(find ctml_nb nbs -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' | sort | xargs sha256sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "ERROR: nbs/ and ctml_nb/ were out of sync (or notebooks were not clean). Files changed by nbdev_export/nbdev_clean:"; \
	  diff <(echo "$$before") <(echo "$$after") | grep '^[<>]' | awk '{print "  " $$3}' | sort -u; \
	  echo "Review the change, then commit the notebooks and the exported modules together."; \
	  exit 1; \
	fi; echo "sync-check: nbs/ and ctml_nb/ agree"

nbtest: install
	$(BIN)/nbdev_test --n_workers 2

pytest: install
	$(BIN)/python -m pytest -q tests

test: sync-check nbtest pytest

demo: install
	$(BIN)/ctml demo --out $(DEMO_OUT)

bench: install
	$(BIN)/python bench/drift_bench.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) _docs _proc *.egg-info
