"""The page of every run (issue 15, item 8): `ctml report --index` and `ctml ui`, on a real project.

A real pipeline (the packaged templates, run by papermill on Elec2 in a temporary folder): a first cycle trains and
promotes version 1; a retrain request with a hostile reason (`<img src=x onerror=...>` and friends) makes the second
cycle retrain and gate. Then:

(a) `ctml report --index` writes `RUNS/index.html` alone, naming the runs without a report and the command that writes
    them; with `--build-missing` it writes the missing run reports too, saying what it does on stderr; the page
    is parsed (`html.parser`): one row per run, no element or handler a payload could make, the hostile reason only
    as the text of the trigger cell's tooltip;
(b) in headless Chromium (Debian's chromium through Playwright's `executable_path`, like `tests/test_browser.py`):
    the table, its statuses and links are visible, the plots are loaded images, no dialog fires, and a report link
    opens that run's report; a screenshot goes to `CTML_SCREENSHOTS` when set (`docs/images/runs.png`);
(c) `ctml ui --port 0` serves the same pages on 127.0.0.1 (and nothing but HTML pages), and stops on Ctrl-C with 0.
"""
import os
import re
import selectors
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from test_browser import ARGS, CHROMIUM, _keep, _missing
from test_html_escaping import HOSTILE, PAYLOADS, Scan, assert_safe

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ("name: elec2\ndata: {source: data.csv, target: target, time_column: timestamp}\n"
          "model: {factory: 'sklearn.tree:DecisionTreeClassifier', params: {max_depth: 6, random_state: 0}}\n"
          "triggers:\n  - {kind: drift}\ntimeout: 300\n")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    "Two real cycles: the first model, then a retrain asked for with a hostile reason; the config path"
    from ctml_nb.cli import EXIT_OK, main
    from ctml_nb.data.datasets import load_elec2
    tmp = tmp_path_factory.mktemp("runs_page")
    df = load_elec2()
    month = lambda end: df[(df["timestamp"] >= "1997-05-01") & (df["timestamp"] < end)]
    month("1997-06-01").to_csv(tmp / "data.csv", index=False)
    cfg = tmp / "pipeline.yaml"
    cfg.write_text(CONFIG)
    assert main(["run", "--config", str(cfg), "--no-progress"]) == EXIT_OK
    month("1997-06-08").to_csv(tmp / "data.csv", index=False)
    assert main(["retrain", "--config", str(cfg), "--reason", HOSTILE]) == EXIT_OK
    assert main(["run", "--config", str(cfg), "--no-progress"]) == EXIT_OK
    return cfg


@pytest.fixture(scope="module")
def index(project):
    "`ctml report --index` run once: (the page, what it said on stderr)"
    import contextlib
    import io
    from ctml_nb.cli import EXIT_OK, main
    runs = project.parent / "runs"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):   # the page alone: no report is written
        assert main(["report", "--index", "--config", str(project)]) == EXIT_OK
    assert Path(out.getvalue().strip()) == runs / "index.html" and not list(runs.glob("*/report"))
    assert "2 run(s) have no HTML report yet" in err.getvalue() and "--build-missing" in err.getvalue()
    assert "not written" in (runs / "index.html").read_text()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["report", "--index", "--build-missing", "--config", str(project)]) == EXIT_OK
    return Path(out.getvalue().strip()), err.getvalue()


def test_index_page_and_reports(project, index):
    from ctml_nb.pipeline.runner import read_index
    page, said = index
    runs = project.parent / "runs"
    assert page == runs / "index.html"
    ids = list(read_index(runs)["run_id"])
    assert len(ids) == 2
    for rid in ids:                                       # the missing run reports were written, each announced
        assert (runs / rid / "report" / "index.html").exists()
        assert f"run {rid}" in said
    assert said.splitlines()[-1] == f"page of every run: {page}"
    assert "page 1/4: " in said and "summary, plots and folded notebooks" in said  # each report page announced
    s = assert_safe(page.read_text(), "runs page", strict=False, shows=())
    assert [t for t, _ in s.elements].count("tr") == 3    # header + one row per run
    assert not [c for c in s.code if any(p in c for p in PAYLOADS[:3])]
    titles = [a.get("title", "") for t, a in s.elements if t == "td"]
    assert any(HOSTILE in t for t in titles), "the hostile retrain reason shows, as text, in the trigger's tooltip"
    links = [a["href"] for t, a in s.elements if t == "a"]
    assert sorted(links) == sorted(f"{rid}/report/index.html" for rid in ids)
    assert "2 runs of elec2: 2 succeeded" in s.data and "none \u2192 1" in s.data


HOOK = "window.__fired = []; window.alert = window.confirm = window.prompt = (m) => window.__fired.push(String(m));"


@pytest.mark.browser
@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_index_page_in_chromium(project, index, tmp_path):
    from playwright.sync_api import sync_playwright
    page_path, _ = index
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
                                                   args=ARGS, viewport={"width": 1400, "height": 1000})
        try:
            ctx.add_init_script(HOOK)
            page = ctx.new_page()
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_path.as_uri())
            rows = page.locator("table.ctml-runs tbody tr")
            assert rows.count() == 2 and rows.first.is_visible()
            newest, oldest = rows.nth(0).inner_text(), rows.nth(1).inner_text()
            assert "succeeded" in oldest and "promote" in oldest and "none \u2192 1" in oldest, oldest
            assert "on_demand" in newest and re.search(r"\b(promote|reject)\b", newest), newest
            assert page.locator("table.ctml-runs th").all_inner_texts()[:3] == ["started (UTC)", "data up to", "status"]
            imgs = page.locator(".ctml-figs img")
            assert imgs.count() >= 1                       # the metric history (and the drift heat map when recorded)
            for i in range(imgs.count()):
                img = imgs.nth(i)
                img.scroll_into_view_if_needed()
                assert img.evaluate("e => e.complete && e.naturalWidth > 0"), img.get_attribute("alt")
            assert page.evaluate("window.__fired") == [] and dialogs == []
            assert page.locator("img[onerror], svg[onload], img[src='x']").count() == 0
            page.evaluate("window.scrollTo(0, 0)")
            png = tmp_path / "runs.png"
            page.screenshot(path=str(png))
            assert png.stat().st_size > 10_000
            _keep(png, "runs.png")
            rid = rows.nth(1).locator("td.started").get_attribute("title").split()[-1]
            rows.nth(1).get_by_role("link", name="report").click()  # the row's report opens
            page.wait_for_load_state()
            header = page.locator(".ctml-run-header")
            assert header.is_visible() and rid in header.inner_text()
        finally:
            ctx.close()


HANG_GUARD = 600  # seconds; only a hang guard: every wait below ends on an event (a line printed, a reply, an exit)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=HANG_GUARD) as r: return r.status, r.read().decode()
    except urllib.error.HTTPError as e: return e.code, ""


def test_ui_serves_the_pages_on_localhost(project, index):
    runs = project.parent / "runs"
    code = "import sys; from ctml_nb.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", code, "ui", "--config", str(project), "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    try:
        ready = selectors.DefaultSelector()
        ready.register(proc.stdout, selectors.EVENT_READ)
        assert ready.select(timeout=HANG_GUARD), "ctml ui printed no address (hang guard)"
        line = proc.stdout.readline()  # printed once the server's socket listens: the port answers from here on
        m = re.match(r"runs page: (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops\)", line)
        assert m, line + proc.stderr.read() if proc.poll() is not None else line
        url = m.group(1)
        status, body = _get(url)
        assert status == 200 and body == (runs / "index.html").read_text()
        rid = sorted(p.parent.parent.name for p in runs.glob("*/report/index.html"))[0]
        status, body = _get(f"{url}{rid}/report/index.html")
        assert status == 200 and "ctml-run-header" in body
        for private in ("index.jsonl", f"{rid}/run.json", f"{rid}/", "../pipeline.yaml", f"{rid}/01_check.ipynb"):
            assert _get(url + private)[0] == 404, private
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=HANG_GUARD) == 0
        proc.stdout.close(); proc.stderr.close()
