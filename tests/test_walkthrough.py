"""The walkthrough on one's own data (issue 15) works when followed literally.

The section "Your own data, step by step" of the guide `nbs/52_guide_pipeline.ipynb` (it was the README's until
issue 21 moved the detail out of the README) is read as it stands: its `bash` blocks are run in order, in
one shell per pipeline (the second half starts where the reader stands, in the first pipeline's folder), and each `yaml` block is written to the file its paragraph names (`pipeline.yaml` in the current folder),
exactly as a reader would paste them. The reader's `weather.csv` is a weather-like stream made here (one row a day,
eight seasonal measurements, a 0/1 rain target, like the NOAA `weather.csv` of the benchmarks' data folder), and
`ctml` and `python` are this checkout's. Then: every command succeeded, both pipelines (without and with a time
column) trained version 1 in their first cycle and never failed, the printed tables show integer versions, and the
page of every run exists. The README's claim that a time span is refused without a time column is checked too.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "nbs" / "52_guide_pipeline.ipynb"
HEADING = "## Your own data, step by step"


def guide_text(path: Path = GUIDE) -> str:
    "The guide's markdown cells as one markdown text"
    return "\n\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                       if c["cell_type"] == "markdown")


def readme_section(text: str, heading: str = HEADING) -> list:
    "[(kind, code, paragraph before it)] of the fenced blocks of one markdown section, in order"
    lines = text.splitlines()
    start = lines.index(heading)
    blocks, prose, fence, code = [], [], None, []
    for line in lines[start + 1:]:
        if fence is None:
            if re.match(r"#{1,3} ", line): break  # the next section of the same or a higher level
            m = re.match(r"```(\w*)\s*$", line)
            if m: fence, code = m.group(1), []
            else: prose.append(line)
        elif line.startswith("```"):
            blocks.append((fence, "\n".join(code) + "\n", "\n".join(prose).strip().split("\n\n")[-1]))
            fence, prose = None, []
        else:
            code.append(line)
    return blocks


def walkthrough_script(blocks: list, start: int = 0) -> str:
    "The section as one bash script: bash blocks as they are, yaml blocks written to the file their paragraph names"
    out = ["set -euo pipefail"]
    for i, (kind, code, before) in enumerate(blocks, start):
        out.append(f"echo '=== block {i}'")
        if kind == "bash": out.append(code)
        elif kind == "yaml":
            names = re.findall(r"`([\w.-]+\.ya?ml)`", before)
            assert names, f"yaml block {i}: its paragraph names no file to save it in: {before!r}"
            out.append(f"cat > {names[0]} <<'CTML_README_EOF'\n{code}CTML_README_EOF")
        else: raise AssertionError(f"block {i}: unexpected fence {kind!r} in the walkthrough")
    return "\n".join(out) + "\n"


def weather_like(n: int = 3100, seed: int = 0) -> pd.DataFrame:
    "One row a day: eight seasonal weather measurements and whether it rained (0/1)"
    rng = np.random.default_rng(seed)
    season = np.sin(2 * np.pi * np.arange(n) / 365.25)
    temp = 12 + 14 * season + rng.normal(0, 4, n)
    dew = temp - np.abs(rng.normal(6, 3, n))
    pressure = 1015 - 3 * season + rng.normal(0, 6, n)
    visibility = np.clip(rng.normal(9, 2, n), 0, 10)
    wind = np.abs(rng.normal(10, 4, n))
    cols = [temp, dew, pressure, visibility, wind, wind + np.abs(rng.normal(6, 3, n)),
            temp + np.abs(rng.normal(6, 2, n)), temp - np.abs(rng.normal(6, 2, n))]
    logit = 0.3 * (dew - temp + 6) - 0.12 * (pressure - 1015) - 0.3 * (visibility - 9) - 0.8
    df = pd.DataFrame({f"feat_{i}": np.round(c, 1) for i, c in enumerate(cols, 1)})
    df["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def test_the_section_is_found_and_complete():
    blocks = readme_section(guide_text())
    kinds = [k for k, _, _ in blocks]
    assert kinds.count("yaml") == 2 and kinds.count("bash") >= 4, kinds
    script = walkthrough_script(blocks)
    assert "time_column: date" in script and script.count("ctml run --config pipeline.yaml") >= 4


def _shims(bin_dir: Path):
    "`ctml` and `python` of this checkout on the PATH"
    bin_dir.mkdir()
    python = bin_dir / "python"                      # a script, not a link: a link would lose the virtualenv
    python.write_text(f"#!/bin/sh\nexec '{sys.executable}' \"$@\"\n")
    python.chmod(0o755)
    ctml = bin_dir / "ctml"
    ctml.write_text(f"#!/bin/sh\nexec '{sys.executable}' -c 'import sys; from ctml_nb.cli import main; sys.exit(main())' \"$@\"\n")
    ctml.chmod(0o755)


def halves(blocks: list) -> tuple:
    """The section cut where its second pipeline starts (the bash block before the second yaml block): two halves
    that each build one pipeline, run as two fixtures so that neither is one long test"""
    yamls = [i for i, (kind, _, _) in enumerate(blocks) if kind == "yaml"]
    cut = yamls[1] - 1
    assert blocks[cut][0] == "bash", f"block {cut}, before the second pipeline's yaml, is not a bash block"
    return blocks[:cut], blocks[cut:], cut


@pytest.fixture(scope="module")
def walk_root(tmp_path_factory):
    "A fresh folder holding the reader's `weather.csv`, and the environment with this checkout's `ctml` and `python`"
    tmp = tmp_path_factory.mktemp("walkthrough")
    weather_like().to_csv(tmp / "weather.csv", index=False)
    _shims(tmp / "bin")
    env = {**os.environ, "PATH": f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
           "MPLBACKEND": "Agg"}
    return tmp, env


def _walk(tmp, env, blocks, start, cwd, name):
    "Run blocks of the section in one shell from `cwd`: (stdout, stderr)"
    (tmp / name).write_text(walkthrough_script(blocks, start))
    cwd.mkdir(exist_ok=True)
    r = subprocess.run(["bash", str(tmp / name)], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"the walkthrough stopped (exit {r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r.stdout, r.stderr


def first_cycle_cut(blocks: list) -> int:
    "Index after the first bash block that runs `ctml run`: the reader's first cycle"
    return next(i for i, (kind, code, _) in enumerate(blocks) if kind == "bash" and "ctml run" in code) + 1


@pytest.fixture(scope="module")
def walked_first(walk_root):
    "The section up to the first pipeline's first cycle, run in the fresh folder: (folder, stdout, stderr, env)"
    tmp, env = walk_root
    first, _, _ = halves(readme_section(guide_text()))
    return (tmp, *_walk(tmp, env, first[:first_cycle_cut(first)], 0, tmp, "walkthrough.sh"), env)


@pytest.fixture(scope="module")
def walked(walked_first):
    "The rest of the first half (its next cycle, the tables and pages), where the first cycle left the reader"
    tmp, out, err, env = walked_first
    first, _, _ = halves(readme_section(guide_text()))
    k = first_cycle_cut(first)
    more, more_err = _walk(tmp, env, first[k:], k, tmp / "weather", "walkthrough_more.sh")
    return tmp, out + more, err + more_err, env


@pytest.fixture(scope="module")
def walked_dated(walk_root):
    "The second half (the pipeline with a time column), from the first pipeline's folder, where the reader stands"
    tmp, env = walk_root
    _, second, cut = halves(readme_section(guide_text()))
    return (tmp, *_walk(tmp, env, second, cut, tmp / "weather", "walkthrough_dated.sh"), env)


def test_the_first_cycle_trained_version_1(walked_first):
    "The reader's first `ctml run` promoted version 1 and said so"
    assert "champion before: none, after: 1" in walked_first[1], walked_first[1][-3000:]


@pytest.mark.parametrize("folder, time_column", [("weather", None), ("weather_dated", "date")])
def test_both_pipelines_ran(request, folder, time_column):
    from ctml_nb.pipeline.runner import read_index
    tmp = request.getfixturevalue("walked_dated" if time_column else "walked")[0]
    idx = read_index(tmp / folder / "runs")
    assert len(idx) == 2 and set(idx["pipeline"]) == {"weather"}
    assert list(idx["status"])[0] == "succeeded" and int(idx["model_after"].iloc[0]) == 1
    assert "failed" not in set(idx["status"]), idx[["status", "reason"]].to_string()
    rec = json.loads((tmp / folder / "runs" / idx["run_id"].iloc[-1] / "run.json").read_text())
    assert rec["watermark"] == ("1958-06-27T00:00:00" if time_column else "3100")  # the second cycle read every row


def test_the_printed_output_reads_well(walked):
    _, out, _, _ = walked
    assert "champion before: none, after: 1" in out
    assert "NaN" not in out and "None" not in out.replace("none", "")
    table = out.split("=== block 3")[1].split("=== block 4")[0]  # `ctml runs` of the first pipeline
    assert re.search(r"\bnone -> 1\b", table), table


def test_the_page_of_every_run_was_written(walked):
    tmp = walked[0]
    page = (tmp / "weather" / "runs" / "index.html").read_text()
    assert "2 runs of weather" in page and page.count("/report/index.html") == 2


def test_a_time_span_without_a_time_column_is_refused_with_the_fix(walked):
    tmp, _, _, env = walked
    cfg = tmp / "weather" / "pipeline.yaml"
    bad = tmp / "weather" / "bad.yaml"
    bad.write_text(cfg.read_text().replace("window: 1095}", "window: 28D}"))
    r = subprocess.run(["ctml", "run", "--config", str(bad)], cwd=tmp, env=env, capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "strategy.params.window: '28D' is a time span, but data.time_column is not set" in r.stderr
