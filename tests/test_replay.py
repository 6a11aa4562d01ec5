"""Replay equivalence: feeding a history to the pipeline batch by batch (append, `ctml run`, repeat) gives the same
retrain batches, gate decisions, champion versions and per-batch metric as `ctml backtest` of the same config.

Two short streams run through papermill (in-process): Elec2 (classification, no label delay) and a drifting
regression stream whose labels arrive one cycle after its features.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctml_nb.cli import main
from ctml_nb.pipeline.config import load_config
from ctml_nb.demo import demo_data
from ctml_nb.pipeline.policy_config import backtest_config
from ctml_nb.pipeline.runner import run_cycle

CLASSIFICATION = """\
name: elec2
data: {source: live.csv, target: target, time_column: timestamp}
model:
  factory: sklearn.tree:DecisionTreeClassifier
  params: {max_depth: 6, random_state: 0}
triggers:
  - {kind: performance, params: {metric: accuracy, floor: 0.8, min_rows: 20}}
strategy: {kind: full, params: {window: 10D}}
promotion: {kind: gate, params: {metric: accuracy, n_boot: 200, alpha: 0.1}}
parameters: {retrain: {test_fraction: 0.3, min_test_rows: 30}}
timeout: 300
"""

REGRESSION = """\
name: demand
data: {source: live.csv, target: y}
model:
  factory: sklearn.linear_model:Ridge
  params: {alpha: 1.0}
triggers:
  - {kind: performance, params: {metric: mae, max_drop: 0.05, min_rows: 20}}
  - {kind: volume, params: {min_rows: 150}}
strategy: {kind: full, params: {window: 300}}
promotion: {kind: gate, params: {metric: mae, n_boot: 200, alpha: 0.1}}
parameters: {retrain: {test_fraction: 0.3, min_test_rows: 30}}
timeout: 300
"""


def regression_stream(n=900, seed=0):
    "A linear target whose coefficients drift after row 400"
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    w = np.where(np.arange(n)[:, None] < 400, [1.0, -2.0, 0.5], [2.5, -0.5, 0.5])
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": (X * w).sum(1) + rng.normal(0, 0.3, n)})


def deliver(tmp_path, live, layout, k, n0, batch, label_delay):
    "Write what has arrived by cycle `k`: one growing CSV, or a folder with one parquet file per batch"
    if layout == "file": return live.to_csv(tmp_path / "live.csv", index=False)
    folder = tmp_path / "batches"; folder.mkdir(exist_ok=True)
    for j in {k, k - label_delay} if label_delay else {k}:   # the new batch, and the one whose labels arrived
        if j < 0: continue
        lo, hi = (0, n0) if j == 0 else (n0 + (j - 1) * batch, n0 + j * batch)
        live.iloc[lo:hi].to_parquet(folder / f"batch-{j:03d}.parquet", index=False)


def replay(tmp_path, config, history, target, n0, batch, cycles, label_delay=0, layout="file"):
    """Run `cycles` pipeline cycles (the first on `n0` rows, then one batch each) and the backtest of the same config;
    return (pipeline rows, backtest frame)"""
    (tmp_path / "pipeline.yaml").write_text(config if layout == "file" else config.replace("source: live.csv", "source: batches"))
    cfg = load_config(tmp_path / "pipeline.yaml") if layout == "file" else None
    rows = []
    for k in range(cycles):
        live = history.iloc[:n0 + k * batch].copy()
        labelled = n0 + max(0, k - label_delay) * batch   # labels arrive `label_delay` cycles after their features
        live[target] = live[target].astype(float) if label_delay else live[target]
        live.loc[live.index[labelled:], target] = np.nan
        deliver(tmp_path, live, layout, k, n0, batch, label_delay)
        cfg = cfg or load_config(tmp_path / "pipeline.yaml")
        rec = run_cycle(cfg, progress=False)
        assert rec.status in ("succeeded", "skipped"), rec.reason
        preds = Path(rec.run_dir) / "predictions.parquet"
        metric = None
        if preds.exists():   # the champion's served predictions, scored once all labels are known
            p = pd.read_parquet(preds)["prediction"].to_numpy()
            y = history[target].iloc[n0 + (k - 1) * batch:n0 + k * batch].to_numpy()
            metric = float(np.mean(p == y)) if p.dtype.kind in "iub" or target == "target" else float(np.mean(np.abs(p - y)))
        retrained = "retrain" in rec.values.get("retrain", {})
        rows.append({"retrained": retrained, "promoted": bool(rec.gate["promote"]) if retrained else False,
                     "version": rec.model_after, "metric": metric, "late": rec.values["check"]["data"]["late_rows"],
                     "unlabelled": rec.values["check"]["data"]["unlabelled"]})
    # one batch more than the pipeline saw: the backtest never retrains after its last batch
    bt = backtest_config(cfg, history.iloc[:n0 + cycles * batch], batch_rows=batch, initial_rows=n0,
                         label_delay=label_delay)
    frame = next(iter(bt.results.values())).to_frame()
    return rows, frame


def assert_same(rows, frame):
    for k, r in enumerate(rows):
        b = frame.iloc[k]
        version_after = frame.iloc[k + 1]["model_version"]
        assert (r["retrained"], r["promoted"], r["version"]) == (bool(b["retrained"]), bool(b["promoted"]), version_after), \
            f"cycle {k}: pipeline {r}, backtest {b.to_dict()}"
        if k: assert r["metric"] == pytest.approx(b["metric"], rel=1e-12, abs=1e-12), f"cycle {k}"
    assert any(r["retrained"] for r in rows[1:]), "the replay should retrain after the first cycle"


def test_replay_classification(tmp_path):
    rows, frame = replay(tmp_path, CLASSIFICATION, demo_data(), "target", n0=7 * 48, batch=96, cycles=6)
    assert_same(rows, frame)
    assert {r["promoted"] for r in rows if r["retrained"]} == {True, False}, "both gate outcomes should occur"


def test_replay_regression_with_label_delay(tmp_path):
    rows, frame = replay(tmp_path, REGRESSION, regression_stream(), "y", n0=300, batch=100, cycles=6, label_delay=1,
                         layout="folder")   # a folder of batch files: each cycle reads the new file, not the history
    assert_same(rows, frame)
    assert [r["unlabelled"] for r in rows] == [0] + [100] * 5   # each cycle sees its batch without labels


def test_cli_backtest_of_the_demo_pipeline(tmp_path, capsys):
    "`ctml backtest --config` replays the demo's own pipeline: the summary table, and per-batch rows with --json"
    from ctml_nb.demo import DEMO_CONFIG
    (tmp_path / "pipeline.yaml").write_text(DEMO_CONFIG)
    demo_data().iloc[:6 * 7 * 48].to_csv(tmp_path / "live.csv", index=False)
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--batch-every", "7D", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["policy", "metric_name", "metric", "retrains"] and "elec2" in out
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--batch-every", "7D", "--json",
                 "--no-progress"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [b["batch"] for b in d["batches"]] == list(range(6)) and d["summary"][0]["batches"] == 6
    assert set(d["batches"][0]) >= {"batch", "metric", "retrained", "reasons", "gate"}
    assert d["batches"][0]["gate"] == "promoted" and d["batches"][0]["fired"] == "on_demand"
    hist = tmp_path / "history.csv"
    demo_data().iloc[:3 * 7 * 48].to_csv(hist, index=False)
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--history", str(hist), "--batch-rows", "336",
                 "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"][0]["batches"] == 3
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--batch-rows", "0", "--no-progress"]) == 2


SEQUENTIAL = """\
name: flip
data: {source: live.csv, target: y}
model: {factory: sklearn.linear_model:LogisticRegression}
triggers:
  - {kind: performance, params: {metric: accuracy, max_drop: 0.05, min_rows: 20}}
strategy: {kind: full, params: {window: 60}}
promotion: {kind: gate, params: {metric: accuracy, n_boot: 100, sequential: true}}
timeout: 300
"""


def flip_stream(n=600, at=260, seed=0):
    "Two features; the sign of the first one's effect flips at row `at`"
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    s = np.where(np.arange(n) < at, 1.0, -1.0)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": ((x[:, 0] * s + 0.5 * x[:, 1] + rng.normal(0, 0.5, n)) > 0).astype(int)})


def _replay_problems(rows, frame, idx)->list:
    "Where the pipeline's cycles and the backtest's batches disagree: pending text, retrain, promotion, version, metric"
    text = lambda v: v if isinstance(v, str) else None
    problems = []
    for k, r in enumerate(rows):
        b, rec = frame.iloc[k], idx.iloc[k]
        if text(rec["pending"]) != text(b.get("pending")):
            problems.append(f"cycle {k}: pipeline {text(rec['pending'])!r}, backtest {text(b.get('pending'))!r}")
        promoted = r["promoted"] or rec["pending_status"] == "promoted"
        version_after = frame.iloc[k + 1]["model_version"]
        if (r["retrained"], promoted, r["version"]) != (bool(b["retrained"]), bool(b["promoted"]), version_after):
            problems.append(f"cycle {k}: pipeline {r}, backtest {b.to_dict()}")
        if k and r["metric"] != pytest.approx(b["metric"], rel=1e-12, abs=1e-12): problems.append(f"cycle {k}: metric")
    return problems


def test_replay_sequential_gate_with_a_proper_score(tmp_path):
    """`sequential_score: brier`: the pending challenger's evidence holds the Brier score beside the 0/1 error, its text
    says so, and the pipeline and the backtest still agree on every step"""
    from ctml_nb.pipeline.runner import read_index
    cfg = SEQUENTIAL.replace("sequential: true}", "sequential: true, sequential_score: brier}")
    rows, frame = replay(tmp_path, cfg, flip_stream(at=300), "y", n0=200, batch=30, cycles=6)
    idx = read_index(tmp_path / "runs")
    problems = _replay_problems(rows, frame, idx)
    assert not problems, "\n".join(problems)
    texts = " | ".join(p for p in idx["pending"] if isinstance(p, str))
    assert "(brier " in texts, texts


def test_replay_sequential_gate_pending_challengers(tmp_path, capsys):
    """A sequential gate on 30-row batches after the stream flips at row 300: a challenger goes pending, is superseded
    when it is not ahead after its first look and the trigger fires again, and the fresh one is promoted at a later
    cycle's look (no retrain in that cycle); the pipeline and the backtest agree on every step, and the run records,
    `ctml runs` and the runs page say what is pending"""
    from ctml_nb.reports.text import runs_table
    from ctml_nb.pipeline.runner import read_index
    history, n0, batch, cycles = flip_stream(at=300), 200, 30, 7
    rows, frame = replay(tmp_path, SEQUENTIAL, history, "y", n0=n0, batch=batch, cycles=cycles)
    idx = read_index(tmp_path / "runs")
    text = lambda v: v if isinstance(v, str) else None
    problems = _replay_problems(rows, frame, idx)
    assert not problems, "\n".join(problems)
    texts = " | ".join(p for p in idx["pending"] if isinstance(p, str))
    assert "v2 pending: " in texts and "v2 dropped (superseded)" in texts and "v3 promoted" in texts, texts
    promoted_late = [k for k in range(cycles) if idx.iloc[k]["pending_status"] == "promoted"]
    assert promoted_late and not rows[promoted_late[0]]["retrained"], "a pending challenger promoted at a later look"
    assert idx.iloc[4]["pending_status"] == "pending" and "v2 pending: " in idx.iloc[4]["reason"], idx.iloc[4]["reason"]
    table = runs_table(idx)
    assert "pending" in table and "promote" in table
    from ctml_nb.reports.runs_page import runs_rows
    page = runs_rows(tmp_path / "runs")[::-1]   # oldest first, as the index
    for status, r in zip(idx["pending_status"], page):   # the gate column follows the pending challenger
        if isinstance(status, str): assert r["gate"] == {"promoted": "promote", "pending": "pending"}.get(status, "drop"), r
    assert "pending" in {r["gate"] for r in page} and any("v2 pending: " in r["reason"] for r in page)
    from ctml_nb.pipeline.builders import pipeline_registry
    reg = pipeline_registry(load_config(tmp_path / "pipeline.yaml"))
    assert reg.get_version("flip", 2).status == "rejected" and reg.get_version("flip", 3).status == "accepted"
    assert reg.resolve("flip", "champion") == 3
    assert main(["runs", "--config", str(tmp_path / "pipeline.yaml")]) == 0
    capsys.readouterr()
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--batch-rows", str(batch), "--initial-rows",
                 str(n0), "--json", "--no-progress"]) == 0
    got = json.loads(capsys.readouterr().out)["batches"]
    assert [b["gate"] for b in got][:6] == ["promoted", "", "", "", "pending", "pending"] and got[6]["gate"] == "promoted"
    assert got[5]["pending"] == text(frame.iloc[5]["pending"])
