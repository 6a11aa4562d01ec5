"""Shared pytest configuration for the integration tests.

Template steps run in the test process (`tests/inprocess_engine.py`, selected through `$CTML_PAPERMILL_ENGINE`, which
`ctml run` subprocesses inherit with this folder on their `PYTHONPATH`). A test marked `kernel` gets real Jupyter
kernels: the variable is removed for its duration.
"""
import os
from pathlib import Path

import pytest

from inprocess_engine import ENGINE
from ctml_nb.steps import ENGINE_ENV

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


@pytest.fixture(autouse=True)
def _step_engine(request, monkeypatch):
    "Real Jupyter kernels for tests marked `kernel` (and their subprocesses), the in-process engine for the others"
    if request.node.get_closest_marker("kernel") or request.node.get_closest_marker("browser"):
        monkeypatch.delenv(ENGINE_ENV, raising=False)
    else: monkeypatch.setenv(ENGINE_ENV, ENGINE)
