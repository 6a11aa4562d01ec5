"""Classes of fault found by trying every tool on public tables of shapes the conformance suite lacked (issues 24-26).

Each test is the smallest public table that shows one class, used the way a stranger would (a pipeline folder, `ctml`
in process): the data comes from scikit-learn's bundled sets (read from the installed package, never downloaded).
- A replay whose first model the gate rejects (iris in file order: the first cycle's held-out rows hold one class) keeps
  going as the pipeline does (nothing served, the next batch trains again) instead of a traceback; a replay in
  which no model ever serves a row exits 2 saying what to give.
"""
import contextlib
import io
import json

import pandas as pd
import pytest
from sklearn.datasets import load_iris


def _ctml(*args) -> tuple:
    from ctml_nb.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def _iris(folder, rows=150):
    "iris in its file order (50 setosa, then 50 versicolor, then 50 virginica), a plain pipeline beside it"
    df = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    df["species"] = load_iris().target_names[df["species"]]
    df.iloc[:rows].to_csv(folder / "data.csv", index=False)
    (folder / "pipeline.yaml").write_text(
        "name: iris\ndata: {source: data.csv, target: species}\n"
        "model: {factory: 'sklearn.tree:DecisionTreeClassifier', params: {random_state: 0}}\n"
        "triggers: [{kind: performance, params: {metric: accuracy, floor: 0.99, min_rows: 10}}]\n"
        "promotion: {kind: gate, params: {metric: accuracy, n_boot: 50, latency_repeats: 1}}\n")
    return folder / "pipeline.yaml"


def test_a_replay_whose_first_model_is_rejected_goes_on(tmp_path):
    "The first cycle's held-out rows are all versicolor: the gate rejects, the replay serves nothing until a model goes live"
    rc, out, err = _ctml("backtest", "--config", _iris(tmp_path), "--batch-rows", 30, "--json", "--no-progress")
    assert rc == 0, err
    res = json.loads(out)
    (s,) = res["summary"]
    batches = res["batches"]
    assert batches[0]["model_version"] is None and batches[0]["gate"] == "rejected"   # one class held out
    first = next(b for b in batches if b["gate"] == "promoted")
    assert s["scored_rows"] == 150 - first["end"]      # rows before the first model went live are not scored
    assert all(b["model_version"] is None for b in batches if b["end"] <= first["end"])


def test_a_replay_where_no_model_serves_exits_2(tmp_path):
    "130 rows: the first model goes live after the last batch, so no model serves a row: exit 2 naming what to give"
    rc, out, err = _ctml("backtest", "--config", _iris(tmp_path, rows=130), "--batch-rows", 30, "--no-progress")
    assert rc == 2, out + err
    assert "no model served any row" in err and "--initial-rows" in err and "Traceback" not in err
