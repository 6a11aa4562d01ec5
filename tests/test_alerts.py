"""Alerts from real cycles, delivered to a local HTTP server on 127.0.0.1 that the test starts.

Small templates (`tests/notebooks.py`) stand in for the packaged ones so that every kind of cycle is quick: a check
step that skips or fires (recording a drift report), and a promote step that records a gate decision and its
outcome, or raises. The runner reads the champion from the steps' records (`champion=None`).
"""
import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from ctml_nb.cli import EXIT_OK, main
from ctml_nb.pipeline.runner import RunRecord, run_cycle

from notebooks import write_template  # noqa: E402 (tests/notebooks.py)

SECRET = "s3cr3t-T0KEN-9f8e7d"   # part of every notifier URL: it must appear in no file of the project

CHECK = ("from ctml_nb.pipeline.runner import record\n"
         "record('trigger', {'retrain': fire, 'fired': ['acc<floor>'] if fire else [], 'reasons': []})\n"
         "record('drift', {'dataset_drift': drift, 'share': 0.5 if drift else 0.0, 'drifted': ['x&y'] if drift else []})\n"
         "if not fire: record('skip', 'no trigger fired')")
PROMOTE = ("from ctml_nb.pipeline.runner import record\n"
           "if mode == 'raise': raise ValueError('boom in the promote step')\n"
           "record('gate', {'promote': mode == 'promote', 'metric': 'accuracy', 'reason': 'gate <said> so'})\n"
           "record('promotion', {'version': 2, 'promoted': True, 'rolled_back': False} if mode == 'promote' else None)\n"
           "record('model_after', 2 if mode == 'promote' else 1)\n"
           "record('decision', 'promoted' if mode == 'promote' else 'rejected')")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.got.append((self.path, json.loads(body or b"null")))
        if "/slow" in self.path: time.sleep(3)
        try:
            self.send_response(500 if "/broken" in self.path else 200)
            self.end_headers()
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.got = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def project(tmp_path, server, monkeypatch):
    base = f"http://127.0.0.1:{server.server_port}"
    for env, path in [("CTML_T_OK", "ok"), ("CTML_T_BROKEN", "broken"), ("CTML_T_SLOW", "slow")]:
        monkeypatch.setenv(env, f"{base}/{path}/{SECRET}")
    monkeypatch.setenv("CTML_T_BAD", f"hooks.example/{SECRET}")   # no scheme: urllib's error quotes it, redacted
    monkeypatch.setenv("CTML_T_APPRISE", f"json://127.0.0.1:{server.server_port}/apprise/{SECRET}")
    (tmp_path / "data.csv").write_text("t,x,y\n1,0.5,0\n2,0.7,1\n")
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    write_template(tpl / "01_check.ipynb", "fire = True\ndrift = False", CHECK)
    write_template(tpl / "02_promote.ipynb", 'mode = "promote"', PROMOTE)
    return tmp_path


def _config(project, alerts: str) -> Path:
    cfg = project / "pipeline.yaml"
    cfg.write_text("name: toy\ndata: {source: data.csv, target: y}\n"
                   "model: {factory: 'sklearn.linear_model:LogisticRegression'}\n"
                   f"templates: tpl\ntimeout: 60\nalerts:\n{alerts}")
    return cfg


def _cycle(cfg, fire=True, drift=False, mode="promote"):
    return run_cycle(cfg, parameters={"check": {"fire": fire, "drift": drift}, "promote": {"mode": mode}},
                     progress=False, champion=None)


def _events(server, since=0):
    return [body["event"] for _, body in server.got[since:]]


ALL_EVENTS = ("  notifiers: {hook: {kind: webhook, url_env: CTML_T_OK}}\n"
              "  events: {drift: [hook], retrain_fired: [hook], promoted: [hook], rejected: [hook], rolled_back: [hook],\n"
              "           failed: [hook], skipped: [hook]}\n"
              "  cooldown: 0\n")


def test_the_right_events_for_each_kind_of_cycle(project, server):
    cfg = _config(project, ALL_EVENTS)
    expected = [(dict(fire=False), "skipped", ["skipped"]),
                (dict(drift=True), "succeeded", ["drift", "retrain_fired", "promoted"]),
                (dict(mode="reject"), "succeeded", ["retrain_fired", "rejected"]),
                (dict(mode="raise"), "failed", ["retrain_fired", "failed"])]
    for kw, status, events in expected:
        n = len(server.got)
        rec = _cycle(cfg, **kw)
        assert rec.status == status, rec.reason
        assert _events(server, n) == events, kw
        on_disk = RunRecord.load(rec.run_dir)
        assert [(a["event"], a["status"]) for a in on_disk.alerts] == [(e, "sent") for e in events]
    promoted = next(body for _, body in server.got if body["event"] == "promoted")
    assert promoted["title"] == "ctml-nb toy: version 2 promoted" and promoted["run"]["model_after"] == 2
    assert promoted["run"]["drift"]["drifted"] == ["x&y"] and promoted["pipeline"] == "toy"
    assert promoted["report"].startswith(str(project / "runs")) and "ctml report" in promoted["report"]
    failed = next(body for _, body in server.got if body["event"] == "failed")
    assert "boom in the promote step" in failed["reason"]


def test_a_forged_cooldown_state_cannot_silence_an_event_for_ever(project, server):
    "Issue 22: `RUNS/.<pipeline>.alerts.json` is unsigned; a writer of runs/ setting a far-future time is ignored"
    cfg = _config(project, "  notifiers: {hook: {kind: webhook, url_env: CTML_T_OK}}\n"
                           "  events: {skipped: [hook]}\n  cooldown: 1h\n")
    state = project / "runs" / ".toy.alerts.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"skipped/hook": "9999-12-31T00:00:00+00:00"}))
    first, second = _cycle(cfg, fire=False), _cycle(cfg, fire=False)
    assert [a["status"] for a in first.alerts] == ["sent"] and len(server.got) == 1
    assert [a["status"] for a in second.alerts] == ["suppressed"]   # the real cooldown still holds
    assert not json.loads(state.read_text())["skipped/hook"].startswith("9999")
    # the most a forged (past) time can do: hold one event back for one cooldown span, and the record says so
    from datetime import datetime, timedelta, timezone
    from ctml_nb.pipeline.alerts import notify_run
    from ctml_nb.pipeline.config import load_config
    now = datetime.now(timezone.utc)
    state.write_text(json.dumps({"skipped/hook": (now - timedelta(minutes=59)).isoformat()}))
    rec = RunRecord.load(second.run_dir).to_dict()
    assert [a["status"] for a in notify_run(load_config(cfg), rec, now=now)] == ["suppressed"]
    assert [a["status"] for a in notify_run(load_config(cfg), rec, now=now + timedelta(minutes=2))] == ["sent"]


def test_events_not_configured_are_not_sent(project, server):
    cfg = _config(project, "  notifiers: {hook: {kind: webhook, url_env: CTML_T_OK}}\n  events: {failed: [hook]}\n")
    rec = _cycle(cfg, fire=False)
    assert rec.status == "skipped" and rec.alerts == [] and server.got == []


def test_cooldown_suppresses_a_repeated_event(project, server):
    cfg = _config(project, "  notifiers: {hook: {kind: slack, url_env: CTML_T_OK}}\n"
                           "  events: {skipped: [hook]}\n  cooldown: 1h\n")
    first, second = _cycle(cfg, fire=False), _cycle(cfg, fire=False)
    assert [a["status"] for a in first.alerts] == ["sent"]
    assert [a["status"] for a in second.alerts] == ["suppressed"] and "cooldown" in second.alerts[0]["error"]
    assert len(server.got) == 1
    text = server.got[0][1]["text"]   # a Slack payload: the user's text escaped, not markup
    assert text.startswith("*ctml-nb toy: cycle skipped*") and "no trigger fired" in text
    state = json.loads((project / "runs" / ".toy.alerts.json").read_text())
    assert list(state) == ["skipped/hook"]


def test_a_failing_or_slow_server_is_recorded_and_the_cycle_is_unaffected(project, server, capsys):
    cfg = _config(project, "  notifiers: {broken: {kind: webhook, url_env: CTML_T_BROKEN},\n"
                           "              slow: {kind: teams, url_env: CTML_T_SLOW},\n"
                           "              bad: {kind: slack, url_env: CTML_T_BAD},\n"
                           "              unset: {kind: webhook, url_env: CTML_T_NOT_SET},\n"
                           "              ok: {kind: webhook, url_env: CTML_T_OK}}\n"
                           "  events: {promoted: [broken, slow, bad, unset, ok]}\n  timeout: 0.5\n")
    code = main(["run", "--config", str(cfg), "--no-progress"])   # the CLI writes the HTML report the alert links to
    assert code == EXIT_OK   # the slow server's deadline below shows the timeout bounded the wait
    rec = RunRecord.load(next((project / "runs").glob("*/run.json")).parent)
    assert rec.status == "succeeded" and rec.reason == "promoted"
    got = {a["notifier"]: a for a in rec.alerts}
    assert [got[n]["status"] for n in ("broken", "slow", "bad", "unset", "ok")] == ["failed"] * 4 + ["sent"]
    assert "500" in got["broken"]["error"]
    assert "no complete answer within 0.5 s" in got["slow"]["error"]   # one overall deadline per delivery
    assert "$CTML_T_BAD" in got["bad"]["error"]
    assert "CTML_T_NOT_SET is not set" in got["unset"]["error"]
    out = capsys.readouterr().out
    assert "alert promoted -> broken: failed" in out
    report = Path(rec.run_dir) / "report" / "index.html"
    assert report.exists()
    ok = next(body for path, body in server.got if path.startswith("/ok/"))
    assert ok["report"] == str(report)
    # no secret anywhere: run records, index, config copies, notebooks, reports, cooldown state
    files = [p for p in project.rglob("*") if p.is_file()]
    assert len(files) > 8
    leaked = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert not leaked, f"the secret URL was written to {leaked}"


def test_report_url_template_in_the_message(project, server):
    cfg = _config(project, "  notifiers: {hook: {kind: slack, url_env: CTML_T_OK}}\n  events: {skipped: [hook]}\n"
                           "  report_url: 'https://ci.example/{pipeline}/{run_id}/report/index.html'\n")
    rec = _cycle(cfg, fire=False)
    text = server.got[0][1]["text"]
    assert text.endswith(f"report: <https://ci.example/toy/{rec.run_id}/report/index.html|report>")


def test_apprise_notifier_against_the_local_server(project, server):
    pytest.importorskip("apprise", reason="the `alerts` extra (apprise) is not installed")
    cfg = _config(project, "  notifiers: {mail: {kind: apprise, url_env: CTML_T_APPRISE}}\n  events: {skipped: [mail]}\n")
    rec = _cycle(cfg, fire=False)
    assert [a["status"] for a in rec.alerts] == ["sent"], rec.alerts
    (path, body), = server.got
    assert path.startswith("/apprise/") and body["title"] == "ctml-nb toy: cycle skipped"
    assert "no trigger fired" in body["message"] and rec.run_id in body["message"]
    assert SECRET not in (Path(rec.run_dir) / "run.json").read_text()
