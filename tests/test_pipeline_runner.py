"""The runner's record is right where papermill is wrong: small templates in tmp folders, run in-process (in real
kernels, marked `kernel`, for the dead kernel, the cell past its timeout and the killed runner).

These templates stand in for the packaged ones so that each failure mode is isolated: an exception in a cell, a
kernel killed by `os._exit`, a cell past its timeout, a bad config, an overlapping cycle, a failed step that had
moved the champion. `tests/test_pipeline.py` runs the packaged templates end to end.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from ctml_nb.cli import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE, main
from ctml_nb.pipeline.config import load_config
from ctml_nb.core import ConfigError
from ctml_nb.pipeline.runner import CycleLocked, RunRecord, read_index, request_retrain, run_cycle

PY = Path(sys.executable)


from notebooks import write_template as _template  # noqa: E402 (tests/notebooks.py)


CHECK = ("from ctml_nb.pipeline.runner import record\n"
         "import json, pathlib\n"
         "req = json.loads(pathlib.Path(request_path).read_text()) if request_path else None\n"
         "record('trigger', {'retrain': bool(fire or req), 'request': req})\n"
         "record('watermark', int(watermark or 0) + 10)\n"
         "if not (fire or req): record('skip', 'no trigger fired')")
WORK = ("from ctml_nb.pipeline.runner import record\n"
        "import os, time\n"
        "if mode == 'raise': raise ValueError('boom in the work step')\n"
        "if mode == 'exit': os._exit(3)\n"
        "if mode == 'sleep': time.sleep(seconds)\n"
        "record('decision', 'work done')")


@pytest.fixture
def project(tmp_path):
    (tmp_path / "data.csv").write_text("t,x,y\n1,0.5,0\n2,0.7,1\n")
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    _template(tpl / "01_check.ipynb", 'request_path = ""\nwatermark = ""\nfire = True', CHECK)
    _template(tpl / "02_work.ipynb", 'mode = "ok"\nseconds = 0.0', WORK, "print('last cell')")
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("name: toy\ndata: {source: data.csv, target: y}\n"
                   "model: {factory: 'sklearn.linear_model:LogisticRegression'}\n"
                   "templates: tpl\ntimeout: 60\n")
    return cfg


def _run(cfg, **params):
    return run_cycle(cfg, parameters={"work": params} if params else None, progress=False, champion=None)


def test_full_cycle_then_skipped_cycle(project):
    rec = _run(project)
    assert (rec.status, rec.reason) == ("succeeded", "work done")
    assert [s["status"] for s in rec.steps] == ["succeeded", "succeeded"]
    on_disk = json.loads((Path(rec.run_dir) / "run.json").read_text())
    assert on_disk["status"] == "succeeded" and on_disk["watermark"] == 10 and on_disk["trigger"]["retrain"]
    assert (Path(rec.run_dir) / "02_work.ipynb").exists()
    skipped = run_cycle(project, parameters={"check": {"fire": False}}, progress=False, champion=None)
    assert (skipped.status, skipped.reason, len(skipped.steps)) == ("skipped", "no trigger fired", 1)
    assert skipped.watermark == 20  # handed on from the last good cycle
    assert list(read_index(project.parent / "runs")["status"]) == ["succeeded", "skipped"]


def test_exception_in_a_cell(project):
    rec = _run(project, mode="raise")
    assert rec.status == "failed"
    assert "step work failed" in rec.reason and "ValueError: boom in the work step" in rec.reason
    nb = Path(rec.steps[-1]["notebook"])
    assert nb.exists() and "boom in the work step" in nb.read_text()


@pytest.mark.kernel
def test_kernel_killed_in_a_cell(project):
    rec = _run(project, mode="exit")
    assert rec.status == "failed", rec.reason
    assert "kernel died" in rec.reason and "cell 2" in rec.reason
    saved = nbformat.read(rec.steps[-1]["notebook"], as_version=4)
    assert "This step failed" in saved.cells[0].source  # papermill would have shown no banner
    assert saved.metadata.papermill.exception is True


@pytest.mark.kernel
def test_cell_past_its_timeout(project):
    project.write_text(project.read_text().replace("timeout: 60", "timeout: 10"))
    rec = _run(project, mode="sleep", seconds=120.0)
    assert rec.status == "failed"
    assert "cell 2" in rec.reason and "past the 10 s timeout" in rec.reason
    assert rec.steps[-1]["seconds"] < 60
    saved = nbformat.read(rec.steps[-1]["notebook"], as_version=4)
    assert "This step failed" in saved.cells[0].source


def test_next_cycle_after_a_failure_runs_normally(project):
    failed = _run(project, mode="raise")
    assert failed.status == "failed" and failed.watermark is None
    ok = _run(project)
    assert ok.status == "succeeded" and ok.watermark == 10  # the failed cycle did not advance the watermark
    assert list(read_index(project.parent / "runs")["status"]) == ["failed", "succeeded"]


def test_bad_config_fails_before_any_kernel(project, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(project.read_text().replace("timeout: 60", "timeout: five"))
    with pytest.raises(ConfigError, match="timeout: expected number, got str 'five'"):
        run_cycle(bad, progress=False, champion=None)
    with pytest.raises(ConfigError, match="parameter 'seconds' of 02_work.ipynb: expected float, got str"):
        run_cycle(project, parameters={"work": {"seconds": "1"}}, progress=False, champion=None)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").glob("*/run.json"))
    assert main(["run", "--config", str(bad), "--no-progress"]) == EXIT_USAGE


def test_template_without_its_required_record_fails(project):
    _template(project.parent / "tpl" / "01_check.ipynb", 'fire = True', "x = 1")
    rec = _run(project)
    assert rec.status == "failed" and "without recording ['trigger']" in rec.reason


def test_overlapping_cycle_is_refused(project):
    code = ("import sys; from ctml_nb.pipeline.runner import run_cycle; "
            f"r = run_cycle({str(project)!r}, parameters={{'work': {{'mode': 'sleep', 'seconds': 4.0}}}}, "
            "progress=False, champion=None); print(r.status)")
    first = subprocess.Popen([str(PY), "-c", code], stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not any((project.parent / "runs").glob("*/run.json")) and time.time() < deadline:
        time.sleep(0.2)
    with pytest.raises(CycleLocked, match="Another cycle of pipeline 'toy' is running"):
        run_cycle(project, progress=False, champion=None)
    assert main(["run", "--config", str(project), "--no-progress"]) == EXIT_LOCKED
    out, _ = first.communicate(timeout=120)
    assert out.strip().endswith("succeeded")
    assert list(read_index(project.parent / "runs")["status"]) == ["succeeded"]  # refused ones left no run


def test_retrain_request_is_consumed_once(project):
    cfg = load_config(project)
    request_retrain(cfg, "new tariff from Monday", requested_by="tester")
    rec = run_cycle(project, parameters={"check": {"fire": False}}, progress=False, champion=None)
    assert rec.status == "succeeded" and rec.trigger["request"]["requests"][0]["reason"] == "new tariff from Monday"
    assert rec.request["requests"][0]["requested_by"] == "tester"
    assert (Path(rec.run_dir) / "requests" / f"{rec.request['requests'][0]['id']}.json").exists()
    again = run_cycle(project, parameters={"check": {"fire": False}}, progress=False, champion=None)
    assert again.status == "skipped"


def test_failed_step_that_moved_the_champion_is_undone(project, tmp_path):
    registry = pytest.importorskip("ctml_nb.registry.files")
    from sklearn.dummy import DummyClassifier
    reg = registry.ModelRegistry(tmp_path / "registry")
    for _ in range(2):
        reg.register(DummyClassifier().fit([[0], [1]], [0, 1]), "toy")
    reg.promote("toy", 1, reason="first")
    _template(project.parent / "tpl" / "02_work.ipynb", 'registry_root = ""',
              "from ctml_nb.registry.files import ModelRegistry\n"
              "ModelRegistry(registry_root).promote('toy', 2, reason='about to crash')\n"
              "raise RuntimeError('crash after promoting')")
    rec = run_cycle(project, parameters={"work": {"registry_root": str(tmp_path / "registry")}}, progress=False)
    assert rec.status == "failed" and "crash after promoting" in rec.reason
    assert "restored to 1" in rec.reason
    assert rec.model_before == 1 and rec.model_after == 1
    assert reg.resolve("toy", "champion") == 1


def test_cli_run_show_runs_report(project, capsys):
    assert main(["run", "--config", str(project), "--no-progress"]) == EXIT_OK
    assert main(["run", "--config", str(project), "--no-progress", "-p", "work.mode", "raise"]) == EXIT_FAILED
    capsys.readouterr()
    assert main(["runs", "--config", str(project)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "succeeded" in out and "failed" in out and "boom" in out
    assert main(["show", "last", "--config", str(project)]) == EXIT_OK
    assert "step work failed" in capsys.readouterr().out
    assert main(["report", "last", "--config", str(project), "--html"]) == EXIT_OK
    index = Path(capsys.readouterr().out.strip())
    assert index.name == "index.html" and "boom in the work step" in index.read_text()
    check_html = (index.parent / "01_check.html").read_text()
    assert "recorded <code>trigger</code>" in check_html  # recorded values stay visible in the export
    assert '<span class="n">record</span>' in check_html  # code visible by default
    assert main(["report", "last", "--config", str(project), "--html", "--no-input",
                 "--out", str(project.parent / "r2")]) == EXIT_OK
    no_input = (project.parent / "r2" / "01_check.html").read_text()
    assert '<span class="n">record</span>' not in no_input and "recorded <code>trigger</code>" in no_input
    assert main(["run", "--config", str(project), "-p", "work.seconds", "007"]) == EXIT_USAGE


def test_schedule_bounded(project, capsys):
    assert main(["schedule", "--config", str(project), "--every", "1s", "--max-cycles", "2", "--no-progress"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "[cycle 1]" in out and "[cycle 2]" in out
    assert "[cycle 1 of 2]" in err and "started" in err and "next cycle at" in err  # progress while it waits, on stderr
    assert len(read_index(project.parent / "runs")) == 2


def test_unreadable_champion_fails_the_cycle_before_any_kernel(project):
    from ctml_nb.core import IntegrityError

    def broken(cfg):
        raise IntegrityError("models/toy/versions/1/model.joblib does not match its SHA-256")
    rec = run_cycle(project, progress=False, champion=broken)
    assert rec.status == "failed" and "cannot read the champion" in rec.reason and "SHA-256" in rec.reason
    assert rec.steps == []
    assert RunRecord.load(rec.run_dir).status == "failed"
    assert list(read_index(project.parent / "runs")["status"]) == ["failed"]


def test_cli_retrain_request(project, capsys):
    assert main(["retrain", "--config", str(project), "--reason", "new labels for March"]) == EXIT_OK
    assert main(["retrain", "--config", str(project), "--reason", "and April"]) == EXIT_OK
    queued = sorted((project.parent / "runs" / "requests" / "toy").glob("*.json"))
    assert [json.loads(q.read_text())["reason"] for q in queued] == ["new labels for March", "and April"]
    out = capsys.readouterr().out
    assert "the next `ctml run` will retrain" in out and f"request {queued[0].stem}" in out
    assert main(["retrain", "--config", str(project)]) == EXIT_USAGE  # --reason is required
    assert main(["retrain", "--config", str(project), "--reason", "  "]) == 4


@pytest.mark.kernel
def test_killed_runner_is_recorded_by_the_next_cycle(project):
    code = ("from ctml_nb.pipeline.runner import run_cycle; "
            f"run_cycle({str(project)!r}, parameters={{'work': {{'mode': 'sleep', 'seconds': 5.0}}}}, "
            "progress=False, champion=None)")
    runner = subprocess.Popen([str(PY), "-c", code])
    deadline = time.time() + 90
    while not list((project.parent / "runs").glob("*/01_check.ipynb")) and time.time() < deadline:
        time.sleep(0.2)
    runner.kill()  # SIGKILL: the runner cannot write its record
    runner.wait()
    time.sleep(6)  # let the orphaned kernel's sleep end
    rec = _run(project)
    assert rec.status == "succeeded"
    idx = read_index(project.parent / "runs")
    assert list(idx["status"]) == ["failed", "succeeded"]
    assert "runner stopped before finishing" in idx["reason"].iloc[0]
    assert RunRecord.load(idx["run_dir"].iloc[0]).status == "failed"
