"""The scheduler recipes in `recipes/`: each parses, agrees with the CLI's exit codes, and maps every exit code of
`ctml run` to the orchestrator's outcome.

Prefect and Dagster are heavy and not part of `make test`'s install: where one is installed its recipe is imported
for real; the exit-code handling is always run against small stand-ins of the few names a recipe uses, with a fake
`ctml` executable that exits with the code under test.
"""
import ast
import importlib.util
import logging
import sys
import types
from pathlib import Path

import pytest

from ctml_nb import cli

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
FILES = {"prefect": RECIPES / "prefect_flow.py", "dagster": RECIPES / "dagster_asset.py"}


def _constants(path: Path) -> dict:
    out = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Tuple):
            for t, v in zip(node.targets[0].elts, node.value.elts):
                if isinstance(t, ast.Name) and t.id.startswith("EXIT_"):
                    out[t.id] = ast.literal_eval(v)
    return out


@pytest.mark.parametrize("name", sorted(FILES))
def test_recipe_parses_and_agrees_with_the_cli_exit_codes(name):
    consts = _constants(FILES[name])
    assert consts == {k: getattr(cli, k) for k in ("EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_LOCKED")}
    lists = [[getattr(e, "value", None) for e in n.elts] for n in ast.walk(ast.parse(FILES[name].read_text()))
             if isinstance(n, ast.List)]
    assert any(xs[1:4] == ["run", "--config", None] and "--no-progress" in xs for xs in lists)   # [ctml, "run", ...]


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def fake_ctml(tmp_path, monkeypatch):
    "An executable `ctml`: `run` prints and exits with $FAKE_CTML_CODE; `show last --json` prints a record"
    exe = tmp_path / "ctml"
    exe.write_text(f"#!{sys.executable}\n"
                   "import json, os, sys\n"
                   "if sys.argv[1] == 'show':\n"
                   "    print(json.dumps({'run_id': 'r1', 'status': os.environ['FAKE_STATUS'], 'reason': 'because',\n"
                   "                      'model_before': 1, 'model_after': 2})); sys.exit(0)\n"
                   "print('run r1: ' + os.environ['FAKE_STATUS']); print('details', file=sys.stderr)\n"
                   "sys.exit(int(os.environ['FAKE_CTML_CODE']))\n")
    exe.chmod(0o755)

    def set_code(code, status="succeeded"):
        monkeypatch.setenv("FAKE_CTML_CODE", str(code))
        monkeypatch.setenv("FAKE_STATUS", status)
    return str(exe), set_code


def _decorator(*args, **kwargs):
    "Stands in for @flow / @task / @asset, with or without arguments"
    if args and callable(args[0]) and not kwargs:
        return args[0]
    return lambda fn: fn


def test_prefect_recipe_maps_exit_codes(fake_ctml, monkeypatch):
    prefect = types.ModuleType("prefect")
    prefect.flow = prefect.task = _decorator
    prefect.get_run_logger = lambda: logging.getLogger("prefect-stand-in")
    states = types.ModuleType("prefect.states")
    states.Completed = lambda **kw: ("COMPLETED", kw)
    states.Failed = lambda **kw: ("FAILED", kw)
    monkeypatch.setitem(sys.modules, "prefect", prefect)
    monkeypatch.setitem(sys.modules, "prefect.states", states)
    mod = _import(FILES["prefect"], "prefect_flow_under_test")
    exe, set_code = fake_ctml
    set_code(0)
    assert mod.ctml_cycle("p.yaml", ctml=exe) == ("COMPLETED", {"message": "run r1: succeeded"})
    set_code(3)
    kind, kw = mod.ctml_cycle("p.yaml", ctml=exe)
    assert kind == "COMPLETED" and kw["name"] == "Skipped"
    for code, words in [(1, "the cycle failed"), (2, "config or usage error"), (4, "ctml error")]:
        set_code(code, "failed")
        kind, kw = mod.ctml_cycle("p.yaml", ctml=exe)
        assert kind == "FAILED" and f"exited {code}: {words}" in kw["message"] and "details" in kw["message"]


def test_dagster_recipe_maps_exit_codes(fake_ctml, monkeypatch):
    dagster = types.ModuleType("dagster")

    class Failure(Exception):
        def __init__(self, description=None, metadata=None):
            super().__init__(description)
            self.description, self.metadata = description, metadata

    class Output:
        def __init__(self, value=None, metadata=None):
            self.value, self.metadata = value, metadata

    dagster.asset, dagster.Failure, dagster.Output = _decorator, Failure, Output
    dagster.AssetExecutionContext = object
    dagster.define_asset_job = lambda name, selection: ("job", name)
    dagster.ScheduleDefinition = lambda **kw: ("schedule", kw)
    dagster.Definitions = lambda **kw: kw
    monkeypatch.setitem(sys.modules, "dagster", dagster)
    exe, set_code = fake_ctml
    monkeypatch.setenv("CTML_BIN", exe)
    monkeypatch.setenv("CTML_CONFIG", "p.yaml")
    mod = _import(FILES["dagster"], "dagster_asset_under_test")
    ctx = types.SimpleNamespace(log=logging.getLogger("dagster-stand-in"))
    set_code(0)
    (out,) = list(mod.ctml_cycle(ctx))
    assert out.value == "r1" and out.metadata["model_after"] == "2" and out.metadata["status"] == "succeeded"
    set_code(3)
    assert list(mod.ctml_cycle(ctx)) == []   # locked: not materialized
    set_code(1, "failed")
    with pytest.raises(Failure, match="exited 1: the cycle failed") as e:
        list(mod.ctml_cycle(ctx))
    assert e.value.metadata["status"] == "failed"
    assert mod.defs["schedules"][0][1]["cron_schedule"] == "*/30 * * * *"


def test_prefect_recipe_imports_with_prefect():
    pytest.importorskip("prefect", reason="Prefect is not installed (pip install prefect): the recipe is checked with stand-ins only")
    mod = _import(FILES["prefect"], "prefect_flow_real")
    assert mod.ctml_flow.name == "ctml-nb cycle" and mod.ctml_cycle.name == "ctml run"


def test_dagster_recipe_imports_with_dagster(monkeypatch):
    pytest.importorskip("dagster", reason="Dagster is not installed (pip install dagster): the recipe is checked with stand-ins only")
    mod = _import(FILES["dagster"], "dagster_asset_real")
    assert mod.defs.get_job_def("ctml_cycle_job") is not None
    assert mod.ctml_cycle.key.to_user_string() == "ctml_cycle"
