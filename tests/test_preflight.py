"""Mistakes a new user made, each caught by `ctml run` in under a second with exit 2, before any kernel starts.

Each case is a small change to the project of `test_pipeline.py` (a few hundred rows of Elec2). The real CLI entry
runs; `execute_step` is replaced by a function that fails the test, and no run folder may appear.
"""
import os
import re
import sys
from pathlib import Path

import pytest

from ctml_nb.cli import EXIT_OK, EXIT_USAGE, main
from ctml_nb.pipeline.builders import validate_config
from ctml_nb.pipeline.config import load_config
from ctml_nb.demo import demo_data
from ctml_nb.pipeline.preflight import preflight
from ctml_nb.pipeline.runner import RunRecord

from pipelines import elec2_pipeline  # noqa: E402 (tests/pipelines.py)
CONFIG = elec2_pipeline(floor=0.5, gate="")
NO_TIME = ("data: {source: live.csv, target: target, time_column: timestamp}", "data: {source: live.csv, target: target}")


def _live(tmp_path, drop_time=False):
    df = demo_data().iloc[:300]
    (df.drop(columns=["timestamp"]) if drop_time else df).to_csv(tmp_path / "live.csv", index=False)


def _project(tmp_path, *edits, extra="", drop_time=False):
    "The test project with `(old, new)` replacements applied to its config and `extra` lines appended"
    text = CONFIG
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    (tmp_path / "pipeline.yaml").write_text(text + extra)
    _live(tmp_path, drop_time)
    return tmp_path / "pipeline.yaml"


@pytest.fixture(autouse=True)
def no_kernel(monkeypatch):
    "Fail the test if a step would run"
    def boom(*a, **k): pytest.fail("a kernel was started")
    monkeypatch.setattr("ctml_nb.pipeline.runner.execute_step", boom)
    monkeypatch.setattr("ctml_nb.pipeline.steps.execute_step", boom)


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory):
    "Import what the checks import once, so that the timings below measure the checks rather than Python's imports"
    preflight(validate_config(load_config(_project(tmp_path_factory.mktemp("warm")))))


def _unwritable(tmp_path):
    "A runs folder that cannot be created: under a read-only folder, or under another process's /proc entry as root"
    if os.geteuid() == 0:
        if not sys.platform.startswith("linux"): pytest.skip("needs a folder root cannot write")
        return "/proc/1/ctml-runs"
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return "ro/runs"


CASES = {  # id: (edits, extra, drop_time, expected text naming the key and the value)
    "window without time column": ([NO_TIME], "", True,
                                   "strategy.params.window: '14D' is a time span, but data.time_column is not set"),
    "cooldown without time column": ([NO_TIME, ("strategy: {kind: full, params: {window: 14D}}\n", "")],
                                     "cooldown: {min_time: 7D}\n", True, "cooldown.min_time: '7D' is a time span"),
    "interval every without time column": ([NO_TIME, ("strategy: {kind: full, params: {window: 14D}}\n", "")],
                                           "triggers: [{kind: interval, params: {every: 7D}}]\n", True,
                                           "triggers[0].params.every: '7D' is a time span"),
    "budget per (default) without time column": ([NO_TIME, ("strategy: {kind: full, params: {window: 14D}}\n", "")],
                                                 "budget: {max_retrains: 2}\n", True,
                                                 "budget.per: '30D' (the default) is a time span"),
    "wrong target": ([("target: target,", "target: label,")], "", False,
                     "data.target: column 'label' is not in data.source 'live.csv'"),
    "missing feature": ([("time_column: timestamp}", "time_column: timestamp, features: [nswprice, nswdemnd]}")], "",
                        False, "data.features[1]: column 'nswdemnd' is not in data.source 'live.csv': did you mean 'nswdemand'?"),
    "time column not dates": ([("time_column: timestamp", "time_column: nswprice")], "", False,
                              "data.time_column: column 'nswprice' holds numbers (float64), not dates"),
    "gate alpha 2": ([("n_boot: 200,", "n_boot: 200, alpha: 2,")], "", False,
                     "promotion.params.alpha: 2 is not a probability"),
    "timeout nan": ([("timeout: 300", "timeout: .nan")], "", False,
                    "timeout: expected a positive, finite number of seconds (e.g. 600), got nan"),
    "timeout inf": ([("timeout: 300", "timeout: .inf")], "", False, "seconds (e.g. 600), got inf"),
    "timeout negative": ([("timeout: 300", "timeout: -5")], "", False, "seconds (e.g. 600), got -5.0"),
    "timeout zero": ([("timeout: 300", "timeout: 0")], "", False, "seconds (e.g. 600), got 0.0"),
    "runs is a file": ([], "runs: runs\n", False, "runs: 'runs' is a file"),
    "registry is a file": ([], "registry: models.txt\n", False, "registry: 'models.txt' is a file"),
    "runs not writable": ([], "runs: UNWRITABLE\n", False, "is not writable"),
    "trigger metric differs from gate": ([("floor: 0.5, min_rows: 20", "max_drop: 0.05, min_rows: 20"),
                                          ("gate, params: {metric: accuracy", "gate, params: {metric: f1")], "", False,
                                         "triggers[0].params.metric: 'accuracy' differs from promotion.params.metric 'f1'"),
    "regression metric on a classifier (trigger)": ([("metric: accuracy, floor", "metric: rmse, floor")], "", False,
                                                    "triggers[0].params.metric: 'rmse' is a regression metric"),
    "regression metric on a classifier (gate)": ([("gate, params: {metric: accuracy", "gate, params: {metric: mae")], "",
                                                 False, "promotion.params.metric: `metric` 'mae' is for regression"),
    "pipeline name with a newline": ([("name: elec2", 'name: "elec2\\n"')], "", False,
                                     "name: expected letters, digits, '.', '_' or '-', got 'elec2\\n'"),
    "model name with a control character": ([("  factory:", '  name: "elec\\x07"\n  factory:')], "", False,
                                            "model.name: `model.name` 'elec\\x07' is not allowed"),
    "trigger name with a tab": ([("min_rows: 20}", 'min_rows: 20, name: "acc\\tfloor"}')], "", False,
                                "triggers[0].params.name: 'acc\\tfloor' has control characters"),
    "drift column not a feature": ([("min_rows: 20}}\n", "min_rows: 20}}\n  - {kind: drift, params: {columns: [nswprice, target]}}\n")],
                                   "", False, "triggers[1].params.columns: 'target' is not a feature column"),
    "config is a list": ([], "", False, "(top level): expected a mapping of keys (name: ..., data: ..., model: ...), got a list"),
    "unknown templates folder": ([], "templates: no_such_templates\n", False, "templates: folder not found: "),
    "negative cooldown time": ([], "cooldown: {min_time: -1D}\n", False,
                               "cooldown.min_time: `min_time`='-1D' must be a positive time span"),
    "negative cooldown rows": ([], "cooldown: {min_rows: -5}\n", False,
                               "cooldown.min_rows: `min_rows` must be an integer >= 1, got -5"),
    "accuracy floor 1.5": ([("floor: 0.5", "floor: 1.5")], "", False,
                           "triggers[0].params.floor: `floor` 1.5 is outside the range of accuracy: it must be between 0 and 1"),
    "accuracy floor -0.1": ([("floor: 0.5", "floor: -0.1")], "", False,
                            "triggers[0].params.floor: `floor` -0.1 is outside the range of accuracy"),
    "gate floor of an unbounded metric below 0": ([("n_boot: 200,", "n_boot: 200, floors: {log_loss: -1},")], "", False,
                                                  "promotion.params: `floors['log_loss']` -1 is outside the range of log_loss: it must be >= 0"),
    "sequential gate on a metric that is not per row": ([("gate, params: {metric: accuracy", "gate, params: {metric: roc_auc, sequential: true")],
                                                        "", False, "promotion.params: `sequential=True` accumulates per-row losses: metric 'roc_auc'"),
    "sequential gate max_rows below its minimum": ([("n_boot: 200,", "n_boot: 200, sequential: true, max_rows: 10,")], "", False,
                                                   "promotion.params.max_rows: `max_rows` (10) must be at least `min_test_rows` (30)"),
    "sequential gate unknown score": ([("n_boot: 200,", "n_boot: 200, sequential: true, sequential_score: hinge,")], "", False,
                                      "promotion.params.sequential_score: `sequential_score` 'hinge' is unknown: choose one of brier, log_loss"),
    "sequential gate not a boolean": ([("n_boot: 200,", "n_boot: 200, sequential: 'yes',")], "", False,
                                      "promotion.params.sequential: `sequential` must be true or false, not 'yes'"),
    "holdout rows not a number": ([], "parameters: {retrain: {min_test_rows: many}}\n", False,
                                  "parameters.retrain: `min_test_rows` must be an integer >= 1, got 'many'"),
    "sequential gate unknown key": ([("n_boot: 200,", "n_boot: 200, max_cycles: 5,")], "", False, "max_cycles"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_caught_before_any_kernel(tmp_path, capsys, monkeypatch, case):
    edits, extra, drop_time, expected = CASES[case]
    import papermill
    def no_kernel(*a, **k): raise AssertionError("a template notebook was executed before the config error was caught")
    monkeypatch.setattr(papermill, "execute_notebook", no_kernel)
    if "UNWRITABLE" in extra: extra = extra.replace("UNWRITABLE", _unwritable(tmp_path))
    cfg = _project(tmp_path, *edits, extra=extra, drop_time=drop_time)
    if case == "runs is a file": (tmp_path / "runs").write_text("a file where the runs folder should be\n")
    if case == "registry is a file": (tmp_path / "models.txt").write_text("not a registry\n")
    if case == "config is a list":  # every top-level key made a list item: valid YAML, not a mapping
        cfg.write_text("".join(("- " if not l.startswith(" ") else "  ") + l + "\n" for l in cfg.read_text().splitlines()))
    code = main(["run", "--config", str(cfg), "--no-progress"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert expected in err, err
    assert err.startswith("ctml run: config error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    runs = tmp_path / "runs"
    assert not runs.is_dir() or not [p for p in runs.iterdir() if p.is_dir()], "a run folder was created"


def test_valid_config_passes_quickly(tmp_path, monkeypatch, capsys):
    cfg = _project(tmp_path, extra="cooldown: {min_time: 2D}\nbudget: {max_retrains: 3, per: 30D}\n")
    rep = preflight(validate_config(load_config(cfg)))
    assert rep.task == "classification" and rep.components == ["triggers[0]", "cooldown", "budget", "strategy", "promotion"]
    assert rep.columns["target"] == "int64" and "timestamp" in rep.columns
    reached = []  # the CLI gets past preflight to the cycle itself (stubbed: no kernel)
    def locked(cfg, plan, runs, *a):
        reached.append(list(plan))
        return RunRecord("stub", cfg.name, status="skipped", reason="stubbed cycle", run_dir=str(runs / "stub"))
    monkeypatch.setattr("ctml_nb.pipeline.runner._run_locked", locked)
    assert main(["run", "--config", str(cfg), "--no-progress"]) == EXIT_OK, capsys.readouterr().err
    assert reached == [["check", "retrain", "evaluate", "promote"]]
