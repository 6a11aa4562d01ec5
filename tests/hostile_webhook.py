"""A hostile webhook on 127.0.0.1, for the alert tests and `bench/trust_soak.py` (a helper module: pytest collects only
test_*.py files). Paths: `/redirect` answers 302 to `srv.elsewhere` (another host:port), `/drip` sends a 100-byte body
one byte a second, `/huge` a 400 MB body, `/collect` counts the `Authorization` headers that reach it (`leaked`), any
other path answers `ok`. Every request is kept in `seen` (path, Authorization) and counted in `hits` by first segment.
"""
import http.server
import threading
from collections import Counter


class _Hostile(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        srv = self.server
        srv.seen.append((self.path, self.headers.get("Authorization"))); srv.hits[self.path.split("/")[1]] += 1
        try:
            if self.path.startswith("/redirect"):
                self.send_response(302); self.send_header("Location", srv.elsewhere)
                self.send_header("Content-Length", "0"); self.end_headers()
            elif self.path.startswith("/drip"):
                self.send_response(200); self.send_header("Content-Length", "100"); self.end_headers()
                for _ in range(100):
                    if srv.stop.wait(1): break
                    self.wfile.write(b"x"); self.wfile.flush()
            elif self.path.startswith("/huge"):
                size = 400 * 2**20
                self.send_response(200); self.send_header("Content-Length", str(size)); self.end_headers()
                chunk = b"\0" * 2**20
                for _ in range(400): self.wfile.write(chunk); srv.sent += len(chunk)
            else:   # /collect (where a redirect points: a credential arriving here is a leak) and plain endpoints
                srv.leaked += self.path.startswith("/collect") and bool(self.headers.get("Authorization"))
                self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
        except OSError: pass   # the client hung up: what a bounded client does
    def log_message(self, *a): pass


def serve(elsewhere:str|None=None):
    "Start the server on a free port of 127.0.0.1 (`elsewhere`: where /redirect points; default its own /collect as localhost)"
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    srv.daemon_threads, srv.seen, srv.hits, srv.leaked, srv.sent, srv.stop = True, [], Counter(), 0, 0, threading.Event()
    srv.elsewhere = elsewhere or f"http://localhost:{srv.server_port}/collect"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def stop(srv):
    "End the drips, then the server"
    srv.stop.set(); srv.shutdown(); srv.server_close()
