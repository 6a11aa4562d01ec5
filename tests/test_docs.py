"""The documentation site: its navigation covers every notebook, its front page agrees with the README, and
`docs/build_site.py` (what `make docs` runs) builds pages that show executed outputs, plots and the API reference.

The build check executes two notebooks (the front page and `30e_alerts`) into a temporary folder: about half a
minute. `make docs` builds all of them.
"""
import configparser
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"


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
    block = re.search(r"```python\n(from ctml_nb.datasets import load_elec2.*?)```", readme, re.S).group(1)
    assert all(line in block.splitlines() for line in code.splitlines())
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", "\n".join(md))
    assert links and all((NBS / link).exists() for link in links)


def test_the_site_builds_with_outputs_plots_and_api_pages(tmp_path):
    out = tmp_path / "site"
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "build_site.py"), "--only", "index", "30e_alerts",
                           "--out", str(out), "--work", str(tmp_path / "work"), "--no-quarto", "--force"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not list(NBS.glob("*.html")) and not (NBS / "_docs").exists()   # nothing written into nbs/
    front = (out / "index.html").read_text(encoding="utf-8")
    assert '<nav class="ctml-side">' in front and 'href="30e_alerts.html"' in front
    assert "<img" in front and "data:image/png;base64" in front            # the drift plot, executed
    assert "nswprice" in front and "<table" in front                        # the report's table
    assert 'href="50_tutorial_drift.html"' in front                         # .ipynb links point at pages
    api = (out / "30e_alerts.html").read_text(encoding="utf-8")
    assert "ctml_nb.alerts" in api and 'id="notify_run"' in api            # module and API reference
    assert "#| export" not in api and "#| hide" not in api and "_srv.shutdown()" not in api
