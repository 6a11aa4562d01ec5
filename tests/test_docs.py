"""The documentation site: its navigation covers every notebook, its front page agrees with the README, and
`docs/build_site.py` (what `make docs` runs) builds pages that show executed outputs, plots and the API reference.

The build check executes two notebooks (the front page and `30e_alerts`) into a temporary folder: about half a
minute. `make docs` builds all of them. The build checks every link and image of the pages it built
(`build_site.broken_links`, which fails `make docs` over the whole site); the checker itself is tested on a small
hand-made site with each kind of fault. The search box is tried in Chromium when it is there.
"""
import configparser
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
sys.path.insert(0, str(ROOT / "docs"))
from build_site import broken_links, sidebar  # noqa: E402


def _cells(name):
    return json.loads((NBS / name).read_text(encoding="utf-8"))["cells"]


def test_the_sidebar_lists_every_notebook_once():
    side = yaml.safe_load((NBS / "sidebar.yml").read_text())["website"]["sidebar"]["contents"]
    listed = [x for item in side for x in ([item] if isinstance(item, str) else item["contents"])]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in NBS.glob("*.ipynb"))
    assert listed[0] == "index.ipynb"
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "settings.ini")
    assert ini["DEFAULT"]["readme_nb"] == "index.ipynb"
    assert ini["DEFAULT"]["custom_sidebar"] == "True"   # nbdev never rewrites nbs/sidebar.yml


def test_the_front_page_agrees_with_the_readme():
    "index.ipynb quotes the README (which stays hand-written: nothing runs nbdev_readme over it)"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    md = ["".join(c["source"]) for c in _cells("index.ipynb") if c["cell_type"] == "markdown"]
    assert md[0].startswith("# ctml-nb\n")
    intro, two_commands = md[1], md[2]
    assert intro in readme and len(intro) > 400
    assert two_commands.startswith("## Two commands") and two_commands in readme
    code = "".join(next(c["source"] for c in _cells("index.ipynb") if c["cell_type"] == "code"))
    block = re.search(r"```python\n(from ctml_nb.data import load_elec2.*?)```", readme, re.S).group(1)
    assert all(line in block.splitlines() for line in code.splitlines())
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", "\n".join(md))
    assert links and all((NBS / link).exists() for link in links)


def test_the_readme_is_short_and_maps_every_notebook():
    "At most 25,000 characters; its map links every notebook of nbs/, so the layout is there in reading order"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme) <= 25_000, f"README.md has {len(readme):,} characters: move detail into an nbs/ guide page"
    mapped = re.search(r"^## Map of the documentation\n(.*?)^## ", readme, re.S | re.M).group(1)
    linked = re.findall(r"\]\(nbs/([^)#]+\.ipynb)\)", mapped)
    missing = sorted(p.name for p in NBS.glob("*.ipynb") if p.name != "index.ipynb" and p.name not in linked)
    assert not missing, f"notebooks missing from the README's map: {missing}"
    for link in re.findall(r"\]\((nbs/[^)#]+)", readme): assert (ROOT / link).exists(), link


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "Two pages built as `make docs` builds them: (site folder, what the build printed)"
    tmp = tmp_path_factory.mktemp("docs")
    out = tmp / "site"
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "build_site.py"), "--only", "index", "30e_alerts",
                           "--out", str(out), "--work", str(tmp / "work"), "--no-quarto", "--force"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out, proc.stdout


def test_the_site_builds_with_outputs_plots_and_api_pages(site):
    out, said = site
    assert not list(NBS.glob("*.html")) and not (NBS / "_docs").exists()   # nothing written into nbs/
    front = (out / "index.html").read_text(encoding="utf-8")
    assert '<nav class="ctml-side">' in front and 'href="30e_alerts.html"' in front
    assert "<img" in front and "data:image/png;base64" in front            # the drift plot, executed
    assert "nswprice" in front and "<table" in front                        # the report's table
    assert 'href="50_tutorial_drift.html"' in front                         # .ipynb links point at pages
    api = (out / "30e_alerts.html").read_text(encoding="utf-8")
    assert "ctml_nb.pipeline.alerts" in api and 'id="notify_run"' in api            # module and API reference
    assert "#| export" not in api and "#| hide" not in api and "_srv.shutdown()" not in api
    assert api.index('id="notify_run"') < api.index("def notify_run(")         # documentation before source
    assert '<details class="ctml-source">' in api                           # the source, folded


def test_the_built_pages_have_no_broken_links_or_images(site):
    out, said = site
    assert "docs: links and images checked on 2 pages: 0 broken" in said
    pages = [Path(n).stem + ".html" for _, n in sidebar()]
    others = tuple(p for p in pages if p not in ("index.html", "30e_alerts.html"))
    assert broken_links(out, not_built=others) == []
    to_others = broken_links(out)                                           # the pages this build left out, only
    assert to_others and all(re.search(r": (\S+\.html) is not there$", b).group(1) in others for b in to_others)
    front = (out / "index.html").read_text(encoding="utf-8")
    pics = re.findall(r'<img[^>]+src="(images/[^"]+)"', front)
    assert len(pics) >= 2 and all((out / p).stat().st_size > 10_000 for p in pics)   # the README's pictures
    assert "docs/images/" not in front
    assert 'href="https://github.com/' in front and 'href="bench/README.md"' not in front   # repo files: on GitHub


def test_the_link_checker_finds_each_kind_of_fault(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "ok.png").write_bytes(b"png")
    (tmp_path / "b.html").write_text("<h2 id='there'>B</h2>")
    (tmp_path / "a.html").write_text(
        "<a href='b.html'>ok</a><a href='b.html#there'>ok</a><a href='#top' id='top'>ok</a><img src='images/ok.png'>"
        "<a href='https://example.org/x'>outside</a><img src='data:image/png;base64,AA=='>"
        "<a href='c.html'>no page</a><img src='docs/images/ok.png'><a href='b.html#gone'>no anchor</a>"
        "<a href='javascript:alert(1)'>script</a><link rel='stylesheet' href='site_libs/x.css'><a href='skipped.html'>x</a>")
    got = broken_links(tmp_path, not_built=("skipped.html",))
    assert got == ["a.html: <a href='c.html'>: c.html is not there",
                   "a.html: <img src='docs/images/ok.png'>: docs/images/ok.png is not there",
                   "a.html: <a href='b.html#gone'>: b.html has no anchor #gone",
                   "a.html: <a href='javascript:alert(1)'>: a javascript: link",
                   "a.html: <link href='site_libs/x.css'>: site_libs/x.css is not there"], got
    assert broken_links(tmp_path, not_built=("skipped.html", "c.html")) != []   # not_built excuses pages only by name


def test_the_search_index(site):
    out, _ = site
    text = (out / "search.js").read_text(encoding="utf-8")
    assert text.startswith("window.CTML_SEARCH = ") and len(text) < 200_000
    index = json.loads(text[len("window.CTML_SEARCH = "):].rstrip().rstrip(";"))
    assert [p["page"] for p in index] == ["index.html", "30e_alerts.html"]
    alerts = index[1]
    assert any(a == "notify_run" for a, _, _ in alerts["sections"])          # API entries are searchable
    assert any("webhook" in w for _, _, w in alerts["sections"])


def test_the_search_box_works_offline_in_chromium(site, tmp_path):
    from test_browser import ARGS, CHROMIUM, _missing
    if _missing(): pytest.skip(_missing())
    from playwright.sync_api import sync_playwright
    out, _ = site
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            ctx.route(re.compile(r"^https?://"), lambda route: route.abort())   # offline: nbconvert's CDN scripts fail
            page = ctx.new_page()
            page.goto((out / "index.html").as_uri())
            page.fill("#ctml-search", "notify_run")
            link = page.wait_for_selector("#ctml-results a[href^='30e_alerts.html#notify_run']")
            assert "notify_run" in link.text_content()
            page.fill("#ctml-search", "<img src=x onerror=alert(1)> zzzqqq")
            page.wait_for_selector("#ctml-results:has-text('No page matches.')")
            assert page.locator("#ctml-results img").count() == 0
            page.fill("#ctml-search", "notify_run")
            page.click("#ctml-results a[href^='30e_alerts.html#notify_run']")
            page.wait_for_url("**/30e_alerts.html#notify_run")
        finally:
            ctx.close()
