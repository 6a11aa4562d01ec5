"""Alerts against a hostile webhook on 127.0.0.1 (issue 22): a redirect to another host, a server that drips one byte
a second, and a 400 MB answer. Each delivery is recorded failed or bounded; none holds the cycle past `alerts.timeout`.
"""
import resource
import time

import pytest

from ctml_nb.pipeline.alerts import MAX_RESPONSE, AlertMessage, WebhookNotifier, within

from hostile_webhook import serve, stop  # tests/hostile_webhook.py


@pytest.fixture
def servers():
    b = serve()
    a = serve(elsewhere=f"http://localhost:{b.server_port}/collect")   # another host:port
    yield a, b
    for s in (a, b): stop(s)


def _msg(): return AlertMessage(event="failed", title="t", pipeline="p", run_id="r", status="failed", reason="x", report="")


def test_a_redirect_is_refused_and_the_token_never_leaves(servers, monkeypatch):
    a, b = servers
    monkeypatch.setenv("HOOK_TOKEN", "Bearer secret-token-123")
    hook = WebhookNotifier(f"http://127.0.0.1:{a.server_port}/redirect", timeout=5, headers_env={"Authorization": "HOOK_TOKEN"})
    with pytest.raises(Exception, match="never follow redirects"): hook.send(_msg())
    assert a.seen == [("/redirect", "Bearer secret-token-123")] and b.seen == []


def test_a_dripping_server_cannot_hold_a_delivery_past_its_deadline(servers):
    a, _ = servers
    hook = WebhookNotifier(f"http://127.0.0.1:{a.server_port}/drip", timeout=1)   # each read answers within 1 s
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="within 1 s"): within(1, lambda: hook.send(_msg()))
    assert time.monotonic() - t0 < 30   # a hang guard, not a speed figure: 100 bytes take 100 s


def test_a_huge_answer_is_not_read(servers):
    a, _ = servers
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    within(60, lambda: WebhookNotifier(f"http://127.0.0.1:{a.server_port}/huge", timeout=10).send(_msg()))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, grown_mb   # the 400 MB body is never held
    assert MAX_RESPONSE <= 1 << 20


def test_notify_run_records_the_abandoned_delivery_and_returns(servers, tmp_path, monkeypatch):
    "Issue 22: `alerts.timeout: 2` and a dripping server kept `ctml run` in `_finish` for more than 45 s"
    from ctml_nb.pipeline.alerts import notify_run
    from ctml_nb.pipeline.config import parse_config
    a, _ = servers
    monkeypatch.setenv("CTML_T_DRIP", f"http://127.0.0.1:{a.server_port}/drip")
    cfg = parse_config({"name": "toy", "data": {"source": "data.csv", "target": "y"},
                        "model": {"factory": "sklearn.linear_model:LogisticRegression"}, "runs": str(tmp_path / "runs"),
                        "alerts": {"notifiers": {"hook": {"kind": "webhook", "url_env": "CTML_T_DRIP"}},
                                   "events": {"failed": ["hook"]}, "timeout": 2}}, tmp_path)
    t0 = time.monotonic()
    out = notify_run(cfg, {"run_id": "r1", "pipeline": "toy", "status": "failed", "reason": "boom", "run_dir": str(tmp_path)})
    assert time.monotonic() - t0 < 40   # hang guard
    assert [(e["status"], "within 2 s" in e["error"]) for e in out if e["event"]] == [("failed", True)], out


def test_the_clients_own_timeout_reads_as_the_deliverys_deadline():
    "Under load the socket's read timeout (also `alerts.timeout`) can fire before the overall deadline: one message for both"
    import socket
    import urllib.error
    def times_out(): raise socket.timeout("timed out")
    def connect_times_out(): raise urllib.error.URLError(socket.timeout("timed out"))
    for send in (times_out, connect_times_out):
        with pytest.raises(TimeoutError, match="no complete answer within 5 s"): within(5, send)
    with pytest.raises(ValueError, match="other"): within(5, lambda: (_ for _ in ()).throw(ValueError("other")))
