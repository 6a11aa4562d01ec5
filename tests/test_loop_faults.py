"""Crashes and concurrency around the cycle: the retrain request queue and a promotion interrupted by SIGKILL.

Small templates stand in for the packaged ones (as in `test_pipeline_runner.py`), through papermill (in-process; the
SIGKILL tests in real kernels): a check step that can queue a request while it runs, a work step that can fail, and
a promote step that calls the real `promote_candidate` and can kill its runner and itself right after the `champion`
alias moved.
"""
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from ctml_nb.cli import EXIT_INTERRUPTED, EXIT_OK, main
from ctml_nb.pipeline.config import load_config
from ctml_nb.core import write_json
from ctml_nb.pipeline.journal import begin_promotion, predictions_digest, queued_requests, read_promotion
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.pipeline.runner import RunRecord, read_index, request_retrain, run_cycle
from ctml_nb.pipeline.steps import ENGINE_ENV

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


from notebooks import write_template as _template  # noqa: E402 (tests/notebooks.py)


CHECK = """\
import json, pathlib
from ctml_nb.pipeline.runner import load_run_config, record, request_retrain
reqs = json.loads(pathlib.Path(request_path).read_text())["requests"] if request_path else []
if inject: request_retrain(load_run_config(config_path), inject, requested_by="mid-cycle")  # arrives during the cycle
record("requests", [r["id"] for r in reqs])
record("trigger", {"retrain": bool(fire or reqs), "reasons": [r["reason"] for r in reqs]})
if not (fire or reqs): record("skip", "no trigger fired")"""
WORK = """\
from ctml_nb.pipeline.runner import record
if mode == "raise": raise ValueError("boom in the work step")
record("decision", "work done")"""
PROMOTE = """\
import os, signal
import pandas as pd
from sklearn.linear_model import LogisticRegression
from ctml_nb.pipeline.context import open_context, promote_candidate
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.pipeline.runner import record
ctx = open_context(config_path)
test = pd.DataFrame({"t": [1., 2, 3, 4, 5, 6], "x": [.1, .9, .2, .8, .3, .7], "y": [0, 1, 0, 1, 0, 1]})
cand = LogisticRegression(C=0.5).fit(test[["t", "x"]], test["y"])
if kill:
    real = ModelRegistry.promote
    def promote_then_die(self, *a, **kw):
        real(self, *a, **kw)              # the champion alias has moved ...
        os.kill(os.getppid(), signal.SIGKILL)   # ... and the runner
        os.kill(os.getpid(), signal.SIGKILL)    # and this kernel die before the health check
    ModelRegistry.promote = promote_then_die
gate = {"metric": "accuracy", "candidate": 1.0, "reason": "test gate", "promote": True}
out = promote_candidate(ctx, cand, gate, test, {"test": test}, {}, run_id, parent=ctx.registry.resolve("toy", "champion"))
record("promotion", out)
record("decision", f"version {out['version']} promoted")"""


def _project(tmp_path, second):
    (tmp_path / "data.csv").write_text("t,x,y\n1,0.5,0\n2,0.7,1\n")
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    _template(tpl / "01_check.ipynb", 'request_path = ""\nconfig_path = ""\nfire = False\ninject = ""', CHECK)
    if second == "work": _template(tpl / "02_work.ipynb", 'mode = "ok"', WORK)
    else: _template(tpl / "02_promote.ipynb", 'run_id = ""\nconfig_path = ""\nkill = False', PROMOTE)
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("name: toy\ndata: {source: data.csv, target: y}\n"
                   "model: {factory: 'sklearn.linear_model:LogisticRegression'}\ntemplates: tpl\ntimeout: 120\n")
    return cfg


def _run(cfg, **params):
    return run_cycle(cfg, parameters=params, progress=False, champion=None)


def _queue(tmp_path):
    return sorted(p.stem for p in (tmp_path / "runs" / "requests" / "toy").glob("*.json"))


# ---------------------------------------------------------------- the request queue
def test_requests_made_at_the_same_instant_are_all_kept(tmp_path):
    cfg = load_config(_project(tmp_path, "work"))
    start, ids = threading.Barrier(16), []
    def ask(i):
        start.wait()
        ids.append(request_retrain(cfg, f"thread {i}", requested_by="pytest")["id"])
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads: t.start()
    for t in threads: t.join()
    go = tmp_path / "go"
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from ctml_nb.pipeline.config import load_config
        from ctml_nb.pipeline.runner import request_retrain
        cfg = load_config({str(tmp_path / 'pipeline.yaml')!r})
        while not Path({str(go)!r}).exists(): time.sleep(0.001)
        for i in range(10): request_retrain(cfg, f"process {{sys.argv[1]}} #{{i}}")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, w], env=ENV) for w in "AB"]
    time.sleep(2.0)  # both interpreters import ctml-nb, then start together
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    queued = queued_requests(cfg)
    assert len(queued) == len({r["id"] for r in queued}) == 36 and set(ids) <= {r["id"] for r in queued}
    assert sorted(r["reason"] for r in queued) == sorted([f"thread {i}" for i in range(16)] +
                                                         [f"process {w} #{i}" for w in "AB" for i in range(10)])
    assert not list((tmp_path / "runs").rglob("*.tmp"))


def test_request_made_during_a_cycle_waits_for_the_next(tmp_path):
    cfg = _project(tmp_path, "work")
    first = request_retrain(load_config(cfg), "before the cycle", requested_by="pytest")
    rec = _run(cfg, check={"inject": "during the cycle"})
    assert rec.status == "succeeded" and rec.trigger["reasons"] == ["before the cycle"]
    assert [r["id"] for r in rec.request["requests"]] == [first["id"]]          # exactly what it acted on
    assert [p.stem for p in (Path(rec.run_dir) / "requests").iterdir()] == [first["id"]]
    (late,) = _queue(tmp_path)                                                   # the late one is still queued
    nxt = _run(cfg)
    assert nxt.status == "succeeded" and nxt.trigger["reasons"] == ["during the cycle"]
    assert [r["id"] for r in nxt.request["requests"]] == [late] and _queue(tmp_path) == []
    assert _run(cfg).status == "skipped"                                         # each request is consumed once


def test_failed_cycle_consumes_no_request(tmp_path):
    cfg = _project(tmp_path, "work")
    req = request_retrain(load_config(cfg), "new labels", requested_by="pytest")
    failed = _run(cfg, work={"mode": "raise"})
    assert failed.status == "failed" and failed.request is None
    assert _queue(tmp_path) == [req["id"]] and not (Path(failed.run_dir) / "requests").exists()
    ok = _run(cfg)
    assert ok.status == "succeeded" and ok.trigger["reasons"] == ["new labels"] and _queue(tmp_path) == []


def test_request_in_the_old_single_file_is_honoured(tmp_path):
    cfg = _project(tmp_path, "work")
    old = tmp_path / "runs" / "toy.retrain-request.json"
    write_json(old, {"requests": [{"reason": "queued by ctml-nb 0.1", "requested_at": "2024-05-01T10:00:00+00:00",
                                   "requested_by": "carol"}]})
    rec = _run(cfg)
    assert rec.status == "succeeded" and rec.trigger["reasons"] == ["queued by ctml-nb 0.1"]
    assert rec.request["requests"][0]["requested_by"] == "carol" and not old.exists()
    assert _queue(tmp_path) == [] and _run(cfg).status == "skipped"


# ---------------------------------------------------------------- a promotion interrupted by SIGKILL
def _seed(tmp_path):
    X = pd.DataFrame({"t": [1., 2, 3, 4], "x": [.5, .7, .1, .9]})
    reg = ModelRegistry(tmp_path / "registry")
    reg.register(LogisticRegression().fit(X, [0, 1, 0, 1]), "toy")
    reg.promote("toy", 1, reason="first")
    return reg


def _kill_after_promotion(tmp_path):
    "A cycle whose promote step is SIGKILLed, with its runner, just after the champion alias moved"
    cfg = _project(tmp_path, "promote")
    reg = _seed(tmp_path)
    code = (f"from ctml_nb.pipeline.runner import run_cycle; run_cycle({str(cfg)!r}, "
            "parameters={'check': {'fire': True}, 'promote': {'kill': True}}, progress=False)")
    env = {k: v for k, v in ENV.items() if k != ENGINE_ENV}  # a real kernel: this step kills its own process
    runner = subprocess.Popen([sys.executable, "-c", code], env=env)
    assert runner.wait(timeout=300) == -9
    (killed,) = [p.parent for p in (tmp_path / "runs").glob("*/run.json")]
    assert json.loads((killed / "run.json").read_text())["status"] == "running"
    assert reg.resolve("toy", "champion") == 2 and read_promotion(load_config(cfg))["state"] == "started"
    return cfg, reg, killed


def _assert_recovered(tmp_path, cfg, reg, killed):
    rec = RunRecord.load(killed)
    assert rec.status == "failed" and (rec.model_before, rec.model_after) == (1, 2)
    assert rec.recovery["outcome"] == "confirmed" and rec.recovery["health"]["passed"]
    assert rec.recovery["health"]["rows"] == 6 and "version 2 kept as champion" in rec.reason
    h = reg.history("toy")
    assert list(h["action"]) == ["promote", "promote", "confirm"] and (h["from"].iloc[-1], h["to"].iloc[-1]) == (2, 2)
    assert f"recovery of run {killed.name}" in h["reason"].iloc[-1] and "health check run again" in h["reason"].iloc[-1]
    j = read_promotion(load_config(cfg))
    assert (j["state"], j["recovery"]["outcome"], j["run_id"]) == ("done", "confirmed", killed.name)
    # nothing half-written: no temporary file, every record readable, one index line for the killed run
    assert not list(tmp_path.rglob(".*.tmp"))
    assert reg.verify(snapshots=True)["ok"].all()
    idx = read_index(tmp_path / "runs")
    assert list(idx["run_id"]).count(killed.name) == 1
    assert idx.set_index("run_id").loc[killed.name, "model_after"] == 2


@pytest.mark.kernel
def test_sigkill_after_the_alias_moved_is_recovered_by_the_next_run(tmp_path):
    cfg, reg, killed = _kill_after_promotion(tmp_path)
    assert main(["run", "--config", str(cfg), "--no-progress", "-p", "check.fire", "false"]) == EXIT_OK
    _assert_recovered(tmp_path, cfg, reg, killed)
    nxt = RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1])
    assert (nxt.status, nxt.model_before, nxt.model_after) == ("skipped", 2, 2)   # the checked champion serves on


@pytest.mark.kernel
def test_sigkill_after_the_alias_moved_is_recovered_by_ctml_registry(tmp_path, capsys):
    cfg, reg, killed = _kill_after_promotion(tmp_path)
    assert main(["registry", "list", "--config", str(cfg)]) == EXIT_OK
    assert "version 2 kept as champion" in capsys.readouterr().err
    _assert_recovered(tmp_path, cfg, reg, killed)
    assert main(["registry", "list", "--config", str(cfg)]) == EXIT_OK   # recovered once
    assert capsys.readouterr().err == "" and len(reg.history("toy")) == 3


def _interrupted_by_hand(tmp_path):
    "The state a kill right after the alias move leaves, built without kernels"
    cfg = _project(tmp_path, "promote")
    reg = _seed(tmp_path)
    test = pd.DataFrame({"t": [1., 2, 3, 4, 5, 6], "x": [.1, .9, .2, .8, .3, .7], "y": [0, 1, 0, 1, 0, 1]})
    m2 = LogisticRegression(C=0.5).fit(test[["t", "x"]], test["y"])
    mv = reg.register(m2, "toy", data_snapshot={"test": test})
    run = tmp_path / "runs" / "20260101T000000Z-dead00"
    write_json(run / "run.json", RunRecord(run.name, "toy", started="2026-01-01T00:00:00+00:00", model_before=1,
                                           run_dir=str(run)).to_dict())
    begin_promotion(load_config(cfg), run.name, "toy", 1, 2, mv.data_snapshots["test"],
                    predictions_digest(m2.predict(test[["t", "x"]])))
    reg.promote("toy", 2, reason="test gate")
    return cfg, reg, run


def test_failed_health_check_after_a_kill_restores_the_previous_champion(tmp_path, capsys):
    cfg, reg, run = _interrupted_by_hand(tmp_path)
    f = tmp_path / "registry" / reg.get_version("toy", 2).file
    raw = bytearray(f.read_bytes()); raw[len(raw) // 2] ^= 0x01; f.write_bytes(bytes(raw))   # the deployed copy is bad
    assert main(["registry", "list", "--config", str(cfg)]) == EXIT_OK
    assert "champion restored to 1" in capsys.readouterr().err
    assert reg.resolve("toy", "champion") == 1
    h = reg.history("toy")
    assert (h["action"].iloc[-1], h["from"].iloc[-1], h["to"].iloc[-1]) == ("promote", 2, 1)
    assert "IntegrityError" in h["reason"].iloc[-1] and f"recovery of run {run.name}" in h["reason"].iloc[-1]
    rec = RunRecord.load(run)
    assert (rec.status, rec.model_after, rec.recovery["outcome"]) == ("failed", 1, "restored")
    assert "champion restored to 1" in rec.reason and read_promotion(load_config(cfg))["state"] == "done"


def test_recovery_stopped_in_its_middle_is_run_again(tmp_path, monkeypatch):
    import ctml_nb.pipeline.journal as journal
    cfg, reg, run = _interrupted_by_hand(tmp_path)
    def stop(*a, **kw): raise KeyboardInterrupt   # stands in for a kill between the registry write and run.json
    monkeypatch.setattr(journal, "_annotate_run", stop)
    assert main(["registry", "list", "--config", str(cfg)]) == EXIT_INTERRUPTED
    assert RunRecord.load(run).status == "running" and read_promotion(load_config(cfg))["state"] == "started"
    monkeypatch.undo()
    assert main(["registry", "list", "--config", str(cfg)]) == EXIT_OK
    rec = RunRecord.load(run)
    assert (rec.status, rec.model_after, rec.recovery["outcome"]) == ("failed", 2, "confirmed")
    assert list(reg.history("toy")["action"]).count("confirm") == 2   # checked twice, said twice
    assert read_promotion(load_config(cfg))["state"] == "done" and not list(tmp_path.rglob(".*.tmp"))
