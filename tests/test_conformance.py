"""Foreign-data conformance (issue 25, item 1): every tool on public tables the project was not designed on.

Each shape of `tests/conformance_shapes.py` (river's and vega_datasets' bundled tables, read from the installed
packages: nothing is downloaded) becomes a pipeline folder, as a new user would make one, and each tool runs on it the
way a user calls it (`ctml ...`, in process): preflight, `ctml run` cycles on a growing file, `ctml backtest
--config`, `ctml tune --config`, `ctml report --index` and `ctml drift`. A tool either works, or exits 2 before any
kernel starts with a message naming the column (or key) and the fix; no tool may exit 1 or 4, or raise.

The README's table of shapes x tools is `conformance_shapes.table()`, and `test_readme_shows_the_table` checks it.

Fast mode (the default, `make test`): one `ctml run` cycle per shape (three on the shapes marked `cycles_fast=3`),
short histories for backtest and tune. `CTML_CONFORMANCE=full`: three cycles on every shape and longer histories.
"""
import contextlib
import io
import json
import os
import re
import shutil
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from conformance_shapes import SHAPES, TOOLS, rows_until, table, write_data

ROOT = Path(__file__).resolve().parents[1]
FULL = os.environ.get("CTML_CONFORMANCE", "fast") == "full"
IDS = [s.name for s in SHAPES]


@lru_cache(maxsize=None)
def _table(name: str):
    from conformance_shapes import BY_NAME
    return BY_NAME[name].load()


def ctml(*args) -> tuple:
    "`ctml ARGS` in process, as a user calls it: (exit code, stdout, stderr); an exception is a failure of the test"
    from ctml_nb.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def _project(shape, tmp: Path, cycle: int = 0) -> Path:
    "A pipeline folder for `shape` with its data as it stands at `cycle`; the path of its pipeline.yaml"
    folder = tmp / shape.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.yaml").write_text(shape.pipeline_yaml())
    if shape.recipe: shutil.copy(ROOT / "recipes" / "mixed_features.py", folder / "mixed_features.py")
    write_data(shape, _table(shape.name), folder, cycle)
    return folder / "pipeline.yaml"


def _refused(shape, tool: str, rc: int, out: str, err: str):
    "The tool exited 2 with the message the shape's cell promises, and no traceback"
    assert rc == 2, f"{shape.name} {tool}: expected exit 2, got {rc}\n{out}\n{err}"
    assert shape.refused[tool][0] in err, err
    assert "Traceback" not in err + out


def _works(shape, tool: str, rc: int, out: str, err: str):
    assert rc == 0, f"{shape.name} {tool}: expected it to work, got exit {rc}\n{out[-2000:]}\n{err[-3000:]}"


@pytest.fixture(autouse=True)
def _no_import_leak():
    "Each shape's pipeline folder goes on sys.path (pipeline_importable): scoped, so the recipe module is imported afresh per test"
    from ctml_nb.pipeline.config import ImportScope
    scope = ImportScope(Path.cwd(), list(sys.path), set(sys.modules))
    yield
    scope.close()


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_preflight(shape, tmp_path):
    from ctml_nb.pipeline.builders import validate_config
    from ctml_nb.pipeline.config import load_config
    from ctml_nb.core import ConfigError
    from ctml_nb.pipeline.preflight import preflight
    cfg = _project(shape, tmp_path)
    if "preflight" in shape.refused:
        with pytest.raises(ConfigError, match=re.escape(shape.refused["preflight"][0])):
            preflight(validate_config(load_config(cfg)))
    else:
        rep = preflight(validate_config(load_config(cfg)))
        assert rep.task == shape.task


def _cycle_counts(runs: Path) -> dict:
    from ctml_nb.pipeline.runner import RunRecord, read_index
    rec = RunRecord.load(read_index(runs)["run_dir"].iloc[-1])
    return rec, (rec.values.get("check") or {})


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_run_cycles_and_report_index(shape, tmp_path):
    cfg = _project(shape, tmp_path)
    runs, n = cfg.parent / "runs", len(_table(shape.name))
    for k in range(3 if FULL else shape.cycles_fast):
        if k: write_data(shape, _table(shape.name), cfg.parent, k)
        rc, out, err = ctml("run", "--config", cfg, "--no-progress")
        if "run" in shape.refused:
            _refused(shape, "run", rc, out, err)
            assert not [d for d in runs.glob("*") if d.is_dir()]   # refused before any run folder or kernel
            break
        _works(shape, "run", rc, out, err)
        rec, check = _cycle_counts(runs)
        assert rec.status in ("succeeded", "skipped"), rec.reason
        assert rec.cursor["rows"] == rows_until(shape, k, n), rec.cursor     # every row counted once
        assert rec.cursor["label_mark"] == rows_until(shape, k, n) - shape.delayed, rec.cursor
        if k == 0: assert rec.model_after is not None, rec.reason           # a first model
    rc, out, err = ctml("report", "--index", "--config", cfg)
    if "report" in shape.refused: _refused(shape, "report", rc, out, err); return
    _works(shape, "report", rc, out, err)
    assert Path(out.strip()) == runs / "index.html" and not list(runs.glob("*/report"))  # the page alone


def _history_cycle(shape) -> int:
    "The cycle whose data the replays read: about 8 batches after the first cycle (fast), the whole table (full)"
    n = len(_table(shape.name))
    return max(1, (n - shape.first) // shape.batch) if FULL else min(8, max(1, (n - shape.first) // shape.batch))


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_backtest(shape, tmp_path):
    cfg = _project(shape, tmp_path, _history_cycle(shape))
    delay = ["--label-delay", "1"] if shape.delayed else []
    rc, out, err = ctml("backtest", "--config", cfg, "--batch-rows", shape.batch, "--no-progress", "--json", *delay)
    if "backtest" in shape.refused: _refused(shape, "backtest", rc, out, err); return
    _works(shape, "backtest", rc, out, err)
    res = json.loads(out)
    (summary,) = res["summary"]
    assert summary["batches"] >= 2 and summary["retrains"] >= 1, summary


TUNE = SHAPES


@pytest.mark.parametrize("shape", TUNE, ids=IDS)
def test_tune(shape, tmp_path):
    cfg = _project(shape, tmp_path, _history_cycle(shape))
    delay = ["--label-delay", "1"] if shape.delayed else []
    out_cfg = cfg.parent / "tuned.yaml"
    rc, out, err = ctml("tune", "--config", cfg, "--retrain-cost", "0.01", "--batch-rows", shape.batch,
                        "--out", out_cfg, "--no-progress", *delay)
    if "tune" in shape.refused: _refused(shape, "tune", rc, out, err); return
    if rc == 2 and "pass --force" in err:   # the tuner tells the truth: a choice worse than a baseline is not written
        assert not out_cfg.exists() and "Traceback" not in err + out, err
        rc, out, err = ctml("tune", "--config", cfg, "--retrain-cost", "0.01", "--batch-rows", shape.batch,
                            "--out", out_cfg, "--no-progress", "--force", *delay)
    _works(shape, "tune", rc, out, err)
    assert out_cfg.exists()
    from ctml_nb.pipeline.config import load_config
    load_config(out_cfg)   # the tuned config is a valid pipeline file


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_drift(shape, tmp_path):
    df = _table(shape.name)
    half = len(df) // 2
    df.iloc[:half].to_csv(tmp_path / "reference.csv", index=False)
    df.iloc[half:].to_csv(tmp_path / "current.csv", index=False)
    drop = ",".join([shape.target] + ([shape.time_column] if shape.time_column else []))
    rc, out, err = ctml("drift", tmp_path / "reference.csv", tmp_path / "current.csv", "--exclude", drop)
    if "drift" in shape.refused: _refused(shape, "drift", rc, out, err); return
    _works(shape, "drift", rc, out, err)
    assert "dataset drift:" in out


def test_shapes_cover_the_issue():
    "At least 8 shapes, and every axis the issue names"
    axes = {a for s in SHAPES for a in s.axes}
    need = {"no time column", "daily times", "irregular times", "tz-aware times", "categorical column", "free text",
            "binary", "multiclass", "regression", "rare class", "small batches", "large batches", "delayed labels",
            "stationary", "seasonal drift"}
    assert len(SHAPES) >= 8 and need <= axes, need - axes
    assert all(s.batch >= 20 for s in SHAPES) and any(s.batch >= 10_000 for s in SHAPES)
    assert set(TOOLS) == {"preflight", "run", "backtest", "tune", "report", "drift"}


def test_readme_shows_the_table():
    "The documentation's table of shapes x tools (nbs/53_guide_guarantees, linked from the README) is the one checked here"
    guide = json.loads((ROOT / "nbs" / "53_guide_guarantees.ipynb").read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in guide["cells"] if c["cell_type"] == "markdown")
    start, end = "<!-- conformance table: tests/conformance_shapes.py table() -->", "<!-- end of conformance table -->"
    assert start in text and end in text
    shown = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert shown == table(), "regenerate it: python -c 'import sys; sys.path.insert(0, \"tests\"); " \
                             "from conformance_shapes import table; print(table())'"
