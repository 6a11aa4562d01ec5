"`ctml ui` answers only requests that name this machine (issue 22: a DNS-rebinding page could read every run page)"
import http.client
import threading

import pytest

from ctml_nb.reports.runs_page import host_allowed, runs_server


@pytest.fixture
def ui(tmp_path):
    (tmp_path / "index.html").write_text("<html>runs</html>")
    srv = runs_server(tmp_path, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown(); srv.server_close()


def _get(port, host):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.putrequest("GET", "/index.html", skip_host=True); c.putheader("Host", host); c.endheaders()
    r = c.getresponse(); body = r.read(); c.close()
    return r.status, body


def test_a_rebinding_host_header_is_refused(ui):
    assert _get(ui, "attacker.example") [0] == 403
    assert _get(ui, f"attacker.example:{ui}")[0] == 403
    status, body = _get(ui, f"127.0.0.1:{ui}")
    assert status == 200 and b"runs" in body
    assert _get(ui, f"localhost:{ui}")[0] == 200
    assert _get(ui, "localhost:1")[0] == 403   # another port: another origin


def test_host_allowed():
    assert host_allowed("[::1]:80", "127.0.0.1", 80) and host_allowed("LOCALHOST", "127.0.0.1", 80)
    assert host_allowed("box.lan:80", "box.lan", 80) and not host_allowed(None, "127.0.0.1", 80)
    assert not host_allowed("127.0.0.1.evil.example:80", "127.0.0.1", 80)
