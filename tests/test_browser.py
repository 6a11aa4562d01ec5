"""What a person sees, checked in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

(a) The HTML report (`ctml report last --html`) of a real pipeline cycle (the packaged templates, run by papermill
    on Elec2 in a temporary folder): the run header, the decision text and the plots are present and visible; the
    code is folded below.
(b) JupyterLab on a free loopback port with a token: the drift tutorial is opened and run, and the drift explorer
    widget renders.

Both are marked `browser` and skipped, with the reason, where Chromium or Playwright is missing. Playwright's own
browser download is never used: the system browser is launched through `executable_path`. Screenshots go to the
test's `tmp_path`; set `CTML_SCREENSHOTS=docs/images` to also copy them there (the README's pictures).
"""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CTML_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[1]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set CTML_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright; no `playwright install` needed)"
    return None


pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


@pytest.fixture
def browser(tmp_path):
    "A fresh headless Chromium (own user-data-dir), closed afterwards"
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "chromium-profile"), executable_path=CHROMIUM,
                                                   headless=True, args=ARGS, viewport={"width": 1280, "height": 900})
        try:
            yield ctx
        finally:
            ctx.close()


def _keep(png: Path, name: str):
    "Copy a screenshot to $CTML_SCREENSHOTS when set"
    dest = os.environ.get("CTML_SCREENSHOTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(dest) / name)


# --- (a) the report of a real run -------------------------------------------------------------------------------

def _real_run(tmp_path: Path) -> Path:
    "One real cycle of the packaged pipeline on Elec2 (first model trained, gated and promoted); its run folder"
    from ctml_nb.data.datasets import load_elec2
    from ctml_nb.pipeline.runner import run_cycle
    df = load_elec2()
    df[(df["timestamp"] >= "1997-05-01") & (df["timestamp"] < "1997-06-01")].to_csv(tmp_path / "data.csv", index=False)
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("name: elec2\ndata: {source: data.csv, target: target, time_column: timestamp}\n"
                   "model: {factory: 'sklearn.tree:DecisionTreeClassifier', params: {max_depth: 6, random_state: 0}}\n"
                   "triggers:\n  - {kind: drift}\ntimeout: 300\n")
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "succeeded", rec.reason
    return cfg, Path(rec.run_dir)


def test_report_of_a_real_run(tmp_path, browser, capsys):
    from ctml_nb.cli import EXIT_OK, main
    from ctml_nb.pipeline.runner import RunRecord
    cfg, run_dir = _real_run(tmp_path)
    rec = RunRecord.load(run_dir)
    capsys.readouterr()
    assert main(["report", "last", "--html", "--config", str(cfg), "--out", str(tmp_path / "report")]) == EXIT_OK
    index = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert index == tmp_path / "report" / "index.html"
    page = browser.new_page()
    page.goto(index.as_uri())
    header = page.locator(".ctml-run-header")
    assert header.is_visible() and rec.run_id in header.inner_text() and "elec2" in header.inner_text()
    decision = page.locator(".ctml-decision")
    assert decision.is_visible()
    text = decision.inner_text()
    # the banner says what happened to the champion, then the cycle's status (issue 15, item 4)
    assert text.lower().startswith("version 1 promoted") and "(cycle succeeded)" in text.lower(), text
    assert page.get_by_text("Gate: Promote").is_visible()
    # the decisions and plots come before the code, which is folded
    box = lambda sel: page.locator(sel).first.bounding_box()
    assert box(".ctml-decisions")["y"] < box(".ctml-plots")["y"] < box("details.ctml-notebook")["y"]
    imgs = page.locator(".ctml-plots img")
    assert imgs.count() >= 1  # the gate's decision rule, once: the evaluate step's copy is not repeated (item 5)
    assert page.locator(".ctml-plots figcaption", has_text="Champion against challenger").count() == 1
    for i in range(imgs.count()):
        img = imgs.nth(i)
        img.scroll_into_view_if_needed()
        assert img.is_visible()
        assert img.evaluate("e => e.complete && e.naturalWidth > 0 && e.naturalHeight > 0"), img.get_attribute("alt")
    code = page.locator("details.ctml-notebook .input_area").first
    assert not code.is_visible()
    page.locator("details.ctml-notebook summary").first.click()
    assert code.is_visible()
    page.locator("details.ctml-notebook summary").first.click()
    page.evaluate("window.scrollTo(0, 0)")
    png = tmp_path / "report.png"
    page.screenshot(path=str(png), full_page=False)  # what a reader sees first
    assert png.stat().st_size > 10_000
    _keep(png, "report.png")


# --- (b) a widget in JupyterLab -------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    "JupyterLab on a free loopback port with a token, serving a copy of the drift tutorial; stopped afterwards"
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (it comes with the dev extra)")
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(ROOT / "nbs" / "50_tutorial_drift.ipynb", root / "tutorial.ipynb")
    settings = tmp_path / "settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True)
    # render every cell (JupyterLab 4 otherwise only renders the cells in view), and ask nothing about news
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "apputils-extension").mkdir()
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # a hang guard: the loop ends when the server answers
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"JupyterLab exited ({proc.returncode}): {(tmp_path / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200: break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("JupyterLab did not answer within 600 s: " + (tmp_path / "lab.log").read_text()[-2000:])
            time.sleep(0.5)
        yield url, token
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started (its own session)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def test_widget_renders_in_jupyterlab(tmp_path, browser, lab):
    url, token = lab
    page = browser.new_page()
    page.set_viewport_size({"width": 1500, "height": 1600})  # room for the whole widget in its screenshot
    try:
        _run_tutorial_and_check_widget(tmp_path, page, url, token)
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"))  # what the browser showed, for the failure report
        raise


HANG_GUARD_MS = 900_000  # only a hang guard: each wait below ends on an event (a kernel state, a DOM node)


def _kernel_idle(url, token) -> bool:
    "The tutorial's kernel, as the server sees it, is started and idle"
    import json
    try:
        with urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=30) as r:
            sessions = json.loads(r.read())
    except OSError:
        return False
    return any(s.get("path", "").endswith("tutorial.ipynb") and (s.get("kernel") or {}).get("execution_state") == "idle"
               for s in sessions)


def _run_tutorial_and_check_widget(tmp_path, page, url, token):
    page.set_default_timeout(HANG_GUARD_MS)
    page.goto(f"{url}/lab/tree/tutorial.ipynb?token={token}")
    page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(state="visible")
    widget = page.locator(".jupyter-widgets.ctml-drift-explorer, .ctml-drift-explorer.widget-vbox")
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")  # "Select Kernel" when none is attached yet
    error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                         has_text="Traceback (most recent call last)")  # how JupyterLab shows a cell's exception
    deadline = time.monotonic() + HANG_GUARD_MS / 1000

    # events, in order: the kernel is started and idle; Run All Cells was taken (a cell shows [*] or a count);
    # the widget's node is in the page. Run All is clicked once: a second click would queue the tutorial again.
    while not _kernel_idle(url, token):
        if accept.count() and accept.first.is_visible():
            accept.first.click()
        assert time.monotonic() < deadline, "the tutorial's kernel never became idle"
        page.wait_for_timeout(500)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                           ".some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))")
    while not widget.first.is_visible():
        assert not error.count(), "a tutorial cell failed: " + error.first.inner_text()[:2000]
        assert time.monotonic() < deadline, "the drift explorer widget never rendered (hang guard)"
        page.wait_for_timeout(500)
    assert widget.first.locator("select").count() >= 2      # column and correction pickers
    assert widget.first.locator(".widget-slider").count() >= 2  # alpha and threshold
    widget.first.locator("img").first.wait_for(state="visible")
    assert widget.first.locator("img").first.evaluate("e => e.naturalWidth > 0")
    assert page.get_by_text("Error displaying widget").count() == 0
    # the widget talks to the kernel: the threshold slider pushed to its end flips the shown column
    shown = widget.first.locator("select").first.input_value()
    flips = widget.first.locator(".ctml-flips")
    assert "no column changed" in flips.inner_text()
    handle = widget.first.locator(".widget-slider .noUi-handle").nth(1)
    handle.focus()
    handle.press("End")
    from playwright.sync_api import expect
    expect(flips).to_contain_text(f"no longer drifted: {shown}", timeout=HANG_GUARD_MS)  # re-rendered: a locator, not a handle
    widget.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    png = tmp_path / "drift_explorer.png"
    widget.first.screenshot(path=str(png))
    assert png.stat().st_size > 5_000
    _keep(png, "drift_explorer.png")
