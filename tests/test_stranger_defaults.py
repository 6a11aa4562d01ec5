"""Faults a stranger hits with the README's minimal config, fixed by class (issue 25): defaults that fit the model's task.

The data is scikit-learn's bundled diabetes table (read from the installed package, never downloaded), used through
`ctml` in process as a new user would.
"""
import contextlib
import io
import json

import pandas as pd

from sklearn.datasets import load_diabetes


def _ctml(*args) -> tuple:
    from ctml_nb.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def _diabetes(folder, rows):
    "The first `rows` rows of diabetes; a regressor and a performance trigger, with no metric named anywhere"
    load_diabetes(as_frame=True).frame.iloc[:rows].to_csv(folder / "data.csv", index=False)
    cfg = folder / "pipeline.yaml"
    cfg.write_text("name: diabetes\ndata: {source: data.csv, target: target}\n"
                   "model: {factory: 'sklearn.linear_model:Ridge'}\n"
                   "triggers: [{kind: performance, params: {max_drop: 5.0, min_rows: 10}}]\n")
    return cfg


def test_a_regression_pipeline_without_metric_keys_runs_and_backtests(tmp_path):
    "No `promotion:` and no `metric:`: the gate, the trigger and the replay judge the regressor by mae (`default_metric`)"
    from ctml_nb.pipeline.runner import RunRecord, read_index
    cfg = _diabetes(tmp_path, 300)
    for rows in (300, 442):
        _diabetes(tmp_path, rows)
        rc, out, err = _ctml("run", "--config", cfg, "--no-progress")
        rec = RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1])
        assert rc == 0 and rec.status in ("succeeded", "skipped"), out + err + str(rec.reason)
    assert rec.model_after == 1 and rec.values["check"]["served"]["metric"] == "mae", rec.values["check"]["served"]
    assert "performance(mae, max_drop=5)" in out, out   # the trigger judged by the gate's metric, mae
    rc, out, err = _ctml("backtest", "--config", cfg, "--batch-rows", 50, "--initial-rows", 100, "--json", "--no-progress")
    assert rc == 0, out + err
    (s,) = json.loads(out)["summary"]
    assert s["metric_name"] == "mae" and s["metric"] > 0, s


def test_the_estimate_line_uses_the_estimated_triggers_settings(tmp_path):
    "`min_reference: 30` in the estimated trigger: the check step's estimate line says and uses the same minimum"
    from sklearn.datasets import load_breast_cancer
    from ctml_nb.pipeline.runner import RunRecord, read_index
    df = load_breast_cancer(as_frame=True).frame.iloc[:, [0, 1, 2, 3, -1]]
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("name: cancer\ndata: {source: data.csv, target: target}\n"
                   "model: {factory: 'sklearn.linear_model:LogisticRegression', params: {max_iter: 500}}\n"
                   "triggers: [{kind: estimated_performance, params: {max_drop: 0.2, min_reference: 30, min_rows: 10}}]\n"
                   "promotion: {kind: gate, params: {n_boot: 50, latency_repeats: 1}}\n")
    ests = []
    for rows in (120, 200):
        df.iloc[:rows].to_csv(tmp_path / "data.csv", index=False)
        rc, out, err = _ctml("run", "--config", cfg, "--no-progress")
        assert rc == 0, out + err
        ests.append(RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1]).values["check"].get("estimated_performance"))
    est = ests[-1]   # the first champion kept 36 rows back (between 30 and the estimator's default of 100)
    assert est is not None and est["value"] is not None and est["reason"] is None, est


def _iris(folder, rows):
    "iris shuffled, with an id column; a decision tree and no other setting"
    from sklearn.datasets import load_iris
    df = load_iris(as_frame=True).frame.sample(frac=1, random_state=0).reset_index(drop=True)
    df.insert(0, "id", range(1000, 1000 + len(df)))
    df.iloc[:rows].to_csv(folder / "data.csv", index=False)
    return df


def test_a_first_cycle_too_small_to_train_is_refused_before_any_kernel(tmp_path):
    "50 labelled rows, no champion: exit 2 naming the minimum and the key, and no run folder"
    _iris(tmp_path, 50)
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("name: iris\ndata: {source: data.csv, target: target}\nmodel: {factory: 'sklearn.tree:DecisionTreeClassifier'}\n")
    rc, out, err = _ctml("run", "--config", cfg, "--no-progress")
    assert rc == 2, out + err
    assert "waiting for 51 labelled rows to train the first model (have 50)" in err and "min_test_rows" in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").glob("*/run.json"))


def test_a_cycle_without_champion_waits_for_labels(tmp_path):
    "Labels arrive late (a label feed): the first cycle with 20 labelled rows is a recorded wait, the next one trains"
    from ctml_nb.pipeline.runner import RunRecord, read_index
    df = _iris(tmp_path, 120)
    tgt = df.pop("target")
    df.iloc[:120].to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "labels").mkdir()
    pd.DataFrame({"id": df.id[:20], "label": tgt[:20]}).to_csv(tmp_path / "labels" / "d0.csv", index=False)
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("name: iris\ndata: {source: data.csv, target: target, labels: {source: labels, key: id, label: label}}\n"
                   "model: {factory: 'sklearn.tree:DecisionTreeClassifier', params: {random_state: 0}}\n"
                   "promotion: {kind: gate, params: {n_boot: 50, latency_repeats: 1}}\n")
    rc, out, err = _ctml("run", "--config", cfg, "--no-progress")
    rec = RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1])
    assert rc == 0 and rec.status == "skipped" and rec.model_after is None, out + err
    assert rec.reason.startswith("waiting for 51 labelled rows to train the first model (have 20)"), rec.reason
    pd.DataFrame({"id": df.id[20:120], "label": tgt[20:120]}).to_csv(tmp_path / "labels" / "d1.csv", index=False)
    rc, out, err = _ctml("run", "--config", cfg, "--no-progress")
    rec = RunRecord.load(read_index(tmp_path / "runs")["run_dir"].iloc[-1])
    assert rc == 0 and rec.model_after == 1, out + err + str(rec.reason)
