"""The tutorials' committed outputs (issue 15, item 15) are what a reader should see on the repository page.

`make tutorials` executes `nbs/50_tutorial_drift.ipynb` and `nbs/51_tutorial_pipeline.ipynb` in a fresh kernel and
cleans them with nbdev (settings.ini `clear_all = False` keeps outputs). When a tutorial carries outputs, they must
be whole: no error, every figure saved as an image (not as the text `<Figure size ... with N Axes>` a fresh kernel
printed before plots displayed themselves), and the cell that draws a plot has its PNG. A tutorial without outputs
is skipped with the reason (run `make tutorials`).
"""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ["50_tutorial_drift", "51_tutorial_pipeline"]
PLOT_CALL = re.compile(r"(\.plot\(|\bplot_\w+\()")


@pytest.mark.parametrize("name", TUTORIALS)
def test_committed_outputs_are_whole(name):
    nb = json.loads((ROOT / "nbs" / f"{name}.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if not any(c.get("outputs") for c in code):
        pytest.skip(f"nbs/{name}.ipynb has no committed outputs: `make tutorials` executes and saves them")
    for c in code:
        src = "".join(c["source"])
        for o in c.get("outputs", []):
            assert o["output_type"] != "error", f"{name}: a cell failed: {src[:80]!r}"
            data = o.get("data", {})
            text = "".join(data.get("text/plain", ""))
            image = "image/png" in data or "image/svg+xml" in data   # text/plain is then only the fallback
            assert image or not text.startswith("<Figure size"), f"{name}: a figure was saved as text only: {src[:80]!r}"
        lines = [l for l in src.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        if lines and PLOT_CALL.search(lines[-1]) and not lines[-1].rstrip().endswith(";"):
            assert any("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})
                       for o in c.get("outputs", [])), f"{name}: no image saved for {lines[-1]!r}"


@pytest.mark.parametrize("name", TUTORIALS)
def test_committed_outputs_are_clean(name):
    "nbdev_clean's form: no execution counts, no output ids or metadata noise (so `make sync-check` changes nothing)"
    nb = json.loads((ROOT / "nbs" / f"{name}.ipynb").read_text(encoding="utf-8"))
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        assert c.get("execution_count") is None
        for o in c.get("outputs", []):
            assert o.get("execution_count") is None and not o.get("metadata", {}).get("scrolled")
