"""Plug-ins (issue 21), as the guide `nbs/52_guide_pipeline.ipynb` shows them: a user's module beside `pipeline.yaml`
registers a drift test and an engine by name; the config names the module in `plugins:` and uses both names; a
`ctml run` cycle records them, in-process and, in a real Jupyter kernel, from the kernel's own process; `ctml drift
--test` uses the same test (its module on the Python path)."""
import json
import os
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from ctml_nb.cli import EXIT_OK, EXIT_USAGE, main
from ctml_nb.core import ConfigError
from ctml_nb.pipeline.builders import validate_config
from ctml_nb.pipeline.config import load_config
from ctml_nb.pipeline.runner import run_cycle

from pipelines import elec2_pipeline
from seeded import live_days

GUIDE = Path(__file__).resolve().parents[1] / "nbs" / "52_guide_pipeline.ipynb"
HEADING = "## Your own drift test, engine, trigger or notifier"


def _guide_blocks()->dict:
    "{'python': code, 'yaml': text} of the guide's section on plug-ins: what this file runs is what the guide shows"
    text = next("".join(c["source"]) for c in json.loads(GUIDE.read_text(encoding="utf-8"))["cells"]
                if c["cell_type"] == "markdown" and "".join(c["source"]).startswith(HEADING))
    return dict(re.findall(r"```(python|yaml)\n(.*?)```", text, re.S))


MODULE = "ctml_test_mytests"   # the guide's mytests.py under a name no other test imports (each test imports it afresh)
PLUGIN = _guide_blocks()["python"]
EXTRA = _guide_blocks()["yaml"].replace("plugins: [mytests]", f"plugins: [{MODULE}]")
assert EXTRA.startswith(f"plugins: [{MODULE}]")


def _forget(folder:Path):
    "Undo what importing the module did in this process: its registrations, the module, its folder on sys.path"
    from ctml_nb.drift.columns import DRIFT_TESTS
    from ctml_nb.drift.engine_table import ENGINES
    DRIFT_TESTS.pop("median_shift", None); ENGINES.pop("pid", None)
    sys.modules.pop(MODULE, None)
    sys.path[:] = [p for p in sys.path if p != str(folder.resolve())]


@pytest.fixture
def project(seeded, tmp_path):
    "A seeded Elec2 project (version 1 champion) whose config now names the user's module, its test and its engine"
    cfg = seeded(tmp_path, elec2_pipeline())
    (tmp_path / f"{MODULE}.py").write_text(PLUGIN)
    cfg.write_text(cfg.read_text() + EXTRA)
    live_days(tmp_path, 21)
    yield cfg
    _forget(tmp_path)


def _check_record(cfg:Path)->dict:
    "The last cycle's drift rows and engine record, checked to come from the user's test and engine"
    run = json.loads(sorted((cfg.parent / "runs").glob("*/run.json"))[-1].read_text())
    assert run["status"] in ("succeeded", "skipped"), run["reason"]
    vals = run["values"]["check"]
    rows = {r["column"]: r for r in vals["drift"]["columns"]}
    assert rows["nswprice"]["test"] == "median_shift" and rows["nswprice"]["threshold"] == 0.25
    assert rows["nswdemand"]["test"] == "ks" and rows["nswdemand"]["threshold"] is None
    assert rows["vicprice"]["test"] == "wasserstein"   # columns the config leaves alone keep the default
    assert vals["engine"]["kind"] == "pid"
    return vals


def test_a_registered_drift_test_and_engine_run_in_a_cycle(project):
    validate_config(load_config(project))
    rec = run_cycle(project, progress=False)
    assert rec.status in ("succeeded", "skipped"), rec.reason
    vals = _check_record(project)
    assert vals["engine"]["pid"] == os.getpid()   # in-process steps: this process


@pytest.mark.kernel
def test_the_step_kernel_imports_the_plugins_itself(project):
    rec = run_cycle(project, progress=False)
    assert rec.status in ("succeeded", "skipped"), rec.reason
    vals = _check_record(project)
    assert vals["engine"]["pid"] != os.getpid()   # built in the kernel, which imported the module from `plugins:`


def test_bad_plugins_and_tests_are_config_errors(tmp_path, capsys):
    (tmp_path / "live.csv").write_text("timestamp,x,target\n2020-01-01,1,0\n")
    base = elec2_pipeline()
    for extra, msg in ((f"plugins: [ctml_no_such_plugin]\n", "plugins[0]: cannot import module 'ctml_no_such_plugin'"),
                       ("drift: {tests: {x: median_shift}}\n", "drift.tests.x: expected one of wasserstein, psi"),
                       ("drift: {alfa: 0.01}\n", "drift: got an unexpected keyword argument 'alfa'"),
                       ("engine: {kind: pid}\n", "engine.kind: expected one of local, dask or 'module:Class', got 'pid'")):
        (tmp_path / "pipeline.yaml").write_text(base + extra)
        with pytest.raises(ConfigError, match=msg.replace("[", r"\[").replace("(", r"\(")):
            validate_config(load_config(tmp_path / "pipeline.yaml"))
        assert main(["run", "--config", str(tmp_path / "pipeline.yaml")]) == EXIT_USAGE
        assert msg in capsys.readouterr().err


def test_ctml_drift_uses_the_users_test(tmp_path, monkeypatch, capsys):
    (tmp_path / f"{MODULE}.py").write_text(PLUGIN)
    g = pd.DataFrame({"x": range(200), "k": ["a", "b"] * 100})
    g.to_csv(tmp_path / "ref.csv", index=False)
    g.assign(x=g.x + 150).to_csv(tmp_path / "cur.csv", index=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))   # the module is importable (`PYTHONPATH=.`), as any `module:function`
    try:
        assert main(["drift", "ref.csv", "cur.csv", "--test", f"x={MODULE}:median_shift", "--sort", "column"]) == EXIT_OK
        out = capsys.readouterr().out
        assert "median_shift" in out and "x" in out
        assert main(["drift", "ref.csv", "cur.csv", "--test", "x=energy"]) == EXIT_USAGE
        assert "config error: DriftDetector: `tests['x']`: expected one of wasserstein" in capsys.readouterr().err
        assert main(["drift", "ref.csv", "cur.csv", "--test", "k=ks"]) != EXIT_OK
        assert "'ks' is not available for a categorical column" in capsys.readouterr().err
        assert main(["drift", "ref.csv", "cur.csv", "--test", "zz=ks"]) == EXIT_USAGE
        assert "--test: 'zz' is not a column of ref.csv" in capsys.readouterr().err
        assert main(["drift", "ref.csv", "cur.csv", "--test", "x"]) == EXIT_USAGE
        assert "--test: expected COLUMN=TEST, got 'x'" in capsys.readouterr().err
    finally: _forget(tmp_path)


def test_the_users_test_on_tables_it_was_not_written_for(tmp_path, monkeypatch):
    "The guide's median_shift on public tables: it flags Seattle's seasons and leaves a stationary table (bananas) alone"
    import importlib
    from ctml_nb.data.datasets import public_table
    from ctml_nb.drift.detector import DriftDetector
    (tmp_path / f"{MODULE}.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        importlib.import_module(MODULE)
        w = public_table("seattle_weather").frame
        month, cols = pd.to_datetime(w["date"]).dt.month, ["temp_max", "wind", "weather"]
        summer, winter = w.loc[month.isin([6, 7, 8]), cols], w.loc[month.isin([12, 1, 2]), cols]
        rows = DriftDetector(tests={"temp_max": "median_shift", "wind": f"{MODULE}:median_shift"}).fit(summer).test(winter)
        rows = rows.to_frame().set_index("column")
        assert rows.loc["temp_max", "test"] == "median_shift" and rows.loc["temp_max", "drift"]
        assert rows.loc["temp_max", "statistic"] > 1 and rows.loc["temp_max", "threshold"] == 0.25
        assert rows.loc["wind", "test"] == f"{MODULE}:median_shift" and rows.loc["weather", "test"] == "jensen_shannon"
        b = public_table("bananas").frame[["x1", "x2"]]
        rep = DriftDetector(tests={"x1": "median_shift", "x2": "median_shift"}).fit(b.iloc[::2]).test(b.iloc[1::2])
        assert rep.drifted == [] and (rep.to_frame()["statistic"] < 0.1).all()
    finally: _forget(tmp_path)
