# ctml-nb: `make demo` and `make test` do everything on a fresh machine (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: install install-demo tutorials test test-min install-min demo docs sync-check nbtest pytest browser bench bench-evidently clean help

help:
	@echo "make demo   create .venv, install ctml-nb (runtime dependencies only), run the demo on the bundled data"
	@echo "make test   create .venv, install, check notebooks/modules are in sync, run nbdev_test and pytest;"
	@echo "            then what the minimum versions can break, on Python 3.10 (make test-min); prints the time split"
	@echo "make bench  run the benchmarks in bench/ (sets up Evidently in bench/.venv-evidently first)"
	@echo "make docs   build the documentation site offline into _docs/ (every notebook executed; see docs/build_site.py)"

$(BIN)/python:
	@echo "creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip's own lines, filtered to what it is fetching and installing (errors pass unfiltered), and the time it took
PIP_SHOW := grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' | sed -u 's/^/  /'

# Everything, for `make test` (nbdev, pytest, JupyterLab and the extras); it covers the demo's needs too
$(STAMP): $(BIN)/python setup.py settings.ini
	@echo "installing ctml-nb with its development tools into $(VENV)"
	@set -o pipefail; t0=$$(date +%s); \
	$(BIN)/python -m pip install --progress-bar off -e ".[dev]" | { $(PIP_SHOW) || true; } && \
	echo "installed in $$(( $$(date +%s) - t0 )) s"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP) $(DEMO_STAMP)

install: $(STAMP)

# The demo needs the runtime dependencies only: no dev tools, a smaller and faster first install
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): $(BIN)/python setup.py settings.ini
	@echo "make demo: installing ctml-nb and its runtime dependencies into $(VENV) (no dev tools)"
	@set -o pipefail; t0=$$(date +%s); \
	$(BIN)/python -m pip install --progress-bar off -e . | { $(PIP_SHOW) || true; } && \
	echo "make demo: installed in $$(( $$(date +%s) - t0 )) s"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(DEMO_STAMP)

install-demo: $(DEMO_STAMP)

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

# The tutorials keep their outputs, so the repository page shows their tables and plots: after changing a tutorial
# (or what it shows), execute them again in a fresh kernel with the inline backend, then clean them as nbdev does
TUTORIALS := 50_tutorial_drift 51_tutorial_pipeline
tutorials: install
	@for nb in $(TUTORIALS); do echo "executing nbs/$$nb.ipynb in a fresh kernel"; \
	  (cd nbs && MPLBACKEND=module://matplotlib_inline.backend_inline $(abspath $(BIN))/jupyter nbconvert --to notebook \
	    --execute --inplace --ExecutePreprocessor.timeout=1200 --ExecutePreprocessor.kernel_name=python3 $$nb.ipynb) || exit 1; \
	done; $(BIN)/nbdev_clean; echo "tutorials executed and cleaned: review and commit nbs/5*_tutorial_*.ipynb"

nbtest: install
	$(BIN)/nbdev_test --n_workers 2 --flags mlflow

# Debian's Chromium for the browser tests, where this machine allows it (root with apt-get); elsewhere the
# browser tests are skipped with their reason. Playwright drives it through `executable_path`: no browser download.
browser:
	@if [ -x /usr/bin/chromium ]; then echo "browser tests: using /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "browser tests: installing Debian's chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "browser tests: chromium could not be installed, they will be skipped"; \
	else echo "browser tests: no /usr/bin/chromium and no root apt-get, they will be skipped"; fi

# Two workers, one test file per worker at a time (module fixtures are built once); template steps run in-process
# unless a test is marked `kernel` (tests/conftest.py). pytest exits 5 when it collects nothing: that fails too.
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=25
pytest: install browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS) tests

# The declared minimum versions on the oldest supported Python: .ci/min-constraints.txt pins every floor of
# settings.ini and the extras; browser tests (JupyterLab, Playwright) run in the main environment only.
PY_MIN ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) python3.10)
MIN_VENV ?= .venv-min
PY310_MISSING = ! $(PY_MIN) -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1
install-min:
	@if $(PY310_MISSING); then echo "test-min: no Python 3.10 ($(PY_MIN)), nothing to install"; exit 0; fi; \
	set -e; [ -x $(MIN_VENV)/bin/python ] || $(PY_MIN) -m venv $(MIN_VENV); \
	$(MIN_VENV)/bin/python -m pip install --quiet -c .ci/min-constraints.txt -e ".[river,skops]" vega_datasets \
	  "nbdev==2.4.14" "fastcore<2" "execnb<0.2" "ghapi<2" pytest pytest-xdist; \
	$(MIN_VENV)/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null

# What the minimum versions can break, not every end-to-end test again: the notebooks' own tests (imports, numerics,
# pandas and scikit-learn API use), the test files marked `min_versions` (tests/conftest.py lists them), among them
# one set of Elec2 cycles run in real Jupyter kernels and in-process (tests/test_engines.py).
test-min: install-min
	@if $(PY310_MISSING); then \
	  echo "test-min: no Python 3.10 ($(PY_MIN)), so the minimum versions are NOT tested on this machine"; exit 0; fi; \
	set -e; echo "test-min: $$($(MIN_VENV)/bin/python -c 'import sys, numpy, pandas, scipy, sklearn; print("Python", sys.version.split()[0], "numpy", numpy.__version__, "pandas", pandas.__version__, "scipy", scipy.__version__, "scikit-learn", sklearn.__version__)')"; \
	$(MIN_VENV)/bin/nbdev_test --n_workers 2; \
	$(MIN_VENV)/bin/python -m pytest -q -n 2 --dist loadfile -m "min_versions and not browser" tests

# Each tier timed (wall and CPU seconds, load average) by .ci/timed.py; the split is printed at the end, pass or fail.
# A failing tier stops the run, as make's own prerequisites would.
TIMINGS := .test-timings.tsv
TEST_TIERS := install sync-check browser nbtest pytest install-min test-min
test:
	@rm -f $(TIMINGS); status=0; \
	for tier in $(TEST_TIERS); do \
	  $(PYTHON) .ci/timed.py $(TIMINGS) $$tier -- $(MAKE) --no-print-directory $$tier || { status=$$?; break; }; \
	done; $(PYTHON) .ci/timed.py $(TIMINGS) --report; exit $$status

demo: install-demo
	@echo "make demo: running the demo into $(DEMO_OUT)/: a drift report, then eight pipeline cycles (a few minutes)"
	$(BIN)/ctml demo --out $(DEMO_OUT)

# The site: every notebook executed into _docs_build/ (never into nbs/), then Quarto where it is installed, else
# nbconvert (Quarto has no offline install: see docs/build_site.py); then every link and image of every page is
# checked, and a broken one fails the build. Not part of `make test`; tests/test_docs.py builds and checks two pages.
docs: install
	$(BIN)/python docs/build_site.py --out _docs

bench-evidently: install
	@[ -x bench/.venv-evidently/bin/python ] || $(BIN)/python bench/drift_bench.py --setup-evidently

BENCHES := drift_bench drift_chunked_bench drift_dask_bench trigger_bench evaluation_bench pipeline_bench cycle_history_bench source_bench policy_bench default_policy_bench tune_bench cli_bench
bench: install bench-evidently
	@status=0; for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || status=1; done; exit $$status

clean:
	rm -rf $(VENV) $(MIN_VENV) bench/.venv-evidently $(TIMINGS) $(DEMO_OUT) _docs _docs_build _proc *.egg-info
