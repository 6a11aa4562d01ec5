# ctml-nb: `make demo` and `make test` do everything on a fresh machine (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: install test test-min demo sync-check nbtest pytest browser bench bench-evidently clean help

help:
	@echo "make demo   create .venv, install, run the demo on the bundled data"
	@echo "make test   create .venv, install, check notebooks/modules are in sync, run nbdev_test and pytest;"
	@echo "            then the same tests with the minimum versions on Python 3.10 (make test-min)"
	@echo "make bench  run the benchmarks in bench/ (sets up Evidently in bench/.venv-evidently first)"

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

# Debian's Chromium for the browser tests, where this machine allows it (root with apt-get); elsewhere the
# browser tests are skipped with their reason. Playwright drives it through `executable_path`: no browser download.
browser:
	@if [ -x /usr/bin/chromium ]; then echo "browser tests: using /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "browser tests: installing Debian's chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "browser tests: chromium could not be installed, they will be skipped"; \
	else echo "browser tests: no /usr/bin/chromium and no root apt-get, they will be skipped"; fi

pytest: install browser
	$(BIN)/python -m pytest -q tests

# The declared minimum versions on the oldest supported Python: .ci/min-constraints.txt pins every floor of
# settings.ini and the extras; browser tests (JupyterLab, Playwright) run in the main environment only.
PY_MIN ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) python3.10)
MIN_VENV ?= .venv-min
test-min:
	@if ! $(PY_MIN) -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then \
	  echo "test-min: no Python 3.10 ($(PY_MIN)), so the minimum versions are NOT tested on this machine"; exit 0; fi; \
	set -e; [ -x $(MIN_VENV)/bin/python ] || $(PY_MIN) -m venv $(MIN_VENV); \
	$(MIN_VENV)/bin/python -m pip install --quiet -c .ci/min-constraints.txt -e ".[river,skops]" \
	  "nbdev==2.4.14" "fastcore<2" "execnb<0.2" "ghapi<2" pytest; \
	$(MIN_VENV)/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null; \
	echo "test-min: $$($(MIN_VENV)/bin/python -c 'import sys, numpy, pandas, scipy, sklearn; print("Python", sys.version.split()[0], "numpy", numpy.__version__, "pandas", pandas.__version__, "scipy", scipy.__version__, "scikit-learn", sklearn.__version__)')"; \
	$(MIN_VENV)/bin/nbdev_test --n_workers 2; \
	$(MIN_VENV)/bin/python -m pytest -q -m "not browser" tests

test: sync-check nbtest pytest test-min

demo: install
	$(BIN)/ctml demo --out $(DEMO_OUT)

bench-evidently: install
	@[ -x bench/.venv-evidently/bin/python ] || $(BIN)/python bench/drift_bench.py --setup-evidently

BENCHES := drift_bench drift_chunked_bench trigger_bench evaluation_bench pipeline_bench cycle_history_bench source_bench policy_bench tune_bench
bench: install bench-evidently
	@status=0; for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || status=1; done; exit $$status

clean:
	rm -rf $(VENV) $(MIN_VENV) bench/.venv-evidently $(DEMO_OUT) _docs _proc *.egg-info
