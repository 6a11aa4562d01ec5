"""Shared pytest configuration for the integration tests.

Template steps run in the test process (`tests/inprocess_engine.py`, selected through `$CTML_PAPERMILL_ENGINE`, which
`ctml run` subprocesses inherit with this folder on their `PYTHONPATH`). A test marked `kernel` gets real Jupyter
kernels: the variable is removed for its duration.
"""
import os
from pathlib import Path

import pytest

from inprocess_engine import ENGINE
from ctml_nb.pipeline.steps import ENGINE_ENV

HERE = str(Path(__file__).resolve().parent)
os.environ[ENGINE_ENV] = ENGINE
os.environ["PYTHONPATH"] = os.pathsep.join([HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                                      if p and p != HERE])


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: needs Debian's chromium (/usr/bin/chromium or $CTML_CHROMIUM), Playwright and JupyterLab; "
        "skipped with the reason otherwise",
    )
    config.addinivalue_line(
        "markers",
        "kernel: the template steps run in real Jupyter kernels (the kernel itself is under test: timeouts, dead "
        "kernels, kills, the demo, the browser); other tests run them in-process (tests/inprocess_engine.py)",
    )
    config.addinivalue_line("markers", "min_versions: run again by `make test-min` (set from MIN_VERSIONS below)")


@pytest.fixture(scope="session")
def _seeds(tmp_path_factory):
    from seeded import Seeds
    return Seeds(tmp_path_factory.mktemp("seeds"))


@pytest.fixture
def seeded(_seeds):
    "`seeded(tmp_path, config_text, days=14)`: a copy of a project whose first Elec2 cycle made version 1 champion"
    return _seeds


@pytest.fixture(autouse=True)
def _step_engine(request, monkeypatch):
    "Real Jupyter kernels for tests marked `kernel` (and their subprocesses), the in-process engine for the others"
    if request.node.get_closest_marker("kernel") or request.node.get_closest_marker("browser"):
        monkeypatch.delenv(ENGINE_ENV, raising=False)
    else: monkeypatch.setenv(ENGINE_ENV, ENGINE)


# What the declared minimum versions can break, run again by `make test-min` on Python 3.10 (with the notebooks' own
# tests): imports and packaging, numerics, pandas and scikit-learn API use, file formats, and one set of Elec2 cycles
# through the packaged templates in real Jupyter kernels and in-process (test_engines.py). The other files test the
# project's own logic end to end; they run once, in the main environment.
MIN_VERSIONS = {"test_package.py", "test_engines.py", "test_drift_synthetic.py", "test_drift_io.py", "test_sources.py",
                "test_triggers.py", "test_registry_contract.py", "test_data_contract.py", "test_backtest.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in MIN_VERSIONS: item.add_marker(pytest.mark.min_versions)
