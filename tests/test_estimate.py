"""Performance estimated without labels: the reference rows the loop hands the trigger, the `estimated_performance`
trigger in a backtest, through `ctml backtest --config` and through a pipeline cycle (in-process), and the record."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ctml_nb.cli import main
from ctml_nb.demo import demo_data
from ctml_nb.policy.backtest import Policy, backtest
from ctml_nb.policy.estimated_trigger import EstimatedPerformanceTrigger
from ctml_nb.policy.drift_triggers import PerformanceTrigger
from ctml_nb.policy.strategies import FullRetrain
from ctml_nb.pipeline.runner import run_cycle

from pipelines import elec2_pipeline  # noqa: E402 (tests/pipelines.py)

REPO = Path(__file__).resolve().parent.parent


def boundary_stream(n=3000, shift_at=1500, seed=0):
    "Two features; after `shift_at` the rows crowd the decision boundary (covariate shift: no label needed to see it)"
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 2))
    X[shift_at:] *= 0.25
    y = (X[:, 0] + X[:, 1] + r.normal(0, 0.3, n) > 0).astype(int)
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y})


def test_reference_rows_are_labelled_and_never_trained_on():
    seen = []
    class Rec(EstimatedPerformanceTrigger):
        def _check(self, state):
            seen.append(state); return super()._check(state)
    df = boundary_stream()
    backtest(df, "y", LogisticRegression(), Policy("rec", Rec(floor=0.0), FullRetrain()), batch_size=100,
             initial_rows=300, label_delay=3, progress=False)
    assert len(seen) == 27
    for i, st in enumerate(seen):
        labelled_to = 300 + max(0, i + 1 - 3) * 100
        assert st.model is not None
        if st.X_reference is None: assert labelled_to == 300; continue   # no label arrived yet after the first fit
        idx = st.X_reference.index
        assert idx[0] == 300 and idx[-1] < labelled_to and len(idx) == len(st.y_reference)   # labelled, after training
        assert (st.y_reference == df["y"].to_numpy()[idx]).all()


def test_estimated_trigger_fires_before_the_labels_arrive():
    df, delay = boundary_stream(), 5
    def first_retrain(trigger):
        res = backtest(df, "y", LogisticRegression(), Policy("p", trigger, FullRetrain()), batch_size=100,
                       initial_rows=300, label_delay=delay, progress=False)
        f = res.to_frame()
        return int(f.loc[f["retrained"], "end"].min()), f
    est_at, f = first_retrain(EstimatedPerformanceTrigger(max_drop=0.1))
    perf_at, _ = first_retrain(PerformanceTrigger(max_drop=0.1, min_rows=50))
    assert 1500 < est_at <= 1700                     # within two batches of the shift, labels or none
    assert perf_at >= est_at + delay * 100, (est_at, perf_at)   # the labels come `delay` batches later
    assert "estimated accuracy" in f.loc[f["retrained"], "reasons"].iloc[0]


def _project(tmp_path, floor):
    cfg = elec2_pipeline(floor=0.0, gate="").replace(
        "  - {kind: performance, params: {metric: accuracy, floor: 0.0, min_rows: 20}}\n",
        f"  - {{kind: estimated_performance, params: {{metric: accuracy, floor: {floor}}}}}\n")
    (tmp_path / "pipeline.yaml").write_text(cfg)
    return tmp_path / "pipeline.yaml"


def _live(tmp_path, days): demo_data().iloc[:days * 48].to_csv(tmp_path / "live.csv", index=False)


def test_pipeline_cycle_records_the_estimate_and_the_trigger_judges_it(tmp_path):
    cfg = _project(tmp_path, floor=0.99)   # no forest on Elec2 is that good: it fires on the estimate
    _live(tmp_path, 14)
    assert run_cycle(cfg, progress=False).status == "succeeded"
    _live(tmp_path, 15)
    run = run_cycle(cfg, progress=False)
    est = run.values["check"]["estimated_performance"]
    assert est["metric"] == "accuracy" and est["method"] == "cbpe" and est["rows"] == 48
    assert 0.5 < est["value"] < 1 and est["ci"][0] < est["value"] < est["ci"][1]
    trig = run.trigger
    assert trig["retrain"] and trig["fired"] == ["estimated_performance(accuracy, floor=0.99)"], trig
    ev = trig["evidence"]["estimated_performance(accuracy, floor=0.99)"]
    assert ev["estimate"] == est["value"] and ev["reference_rows"] >= 100


def test_backtest_config_runs_the_estimated_trigger(tmp_path, capsys):
    cfg = _project(tmp_path, floor=0.99)
    _live(tmp_path, 20)
    assert main(["backtest", "--config", str(cfg), "--batch-rows", "48", "--initial-rows", "336", "--label-delay", "2",
                 "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    fired = [r for r in out["batches"][1:] if r["fired"]]   # batch 0 trains the first model
    assert fired and all("estimated_performance" in r["fired"] for r in fired), out["batches"][:3]
    assert any("estimated accuracy" in r["reasons"] for r in fired)


def test_pipeline_fits_the_estimator_once_per_champion_and_refuses_a_forged_one(tmp_path):
    cfg = _project(tmp_path, floor=0.0)   # never fires: the champion stays, cycle after cycle
    runs = tmp_path / "runs" / "estimators"
    _live(tmp_path, 14)
    assert run_cycle(cfg, progress=False).status == "succeeded"
    _live(tmp_path, 15)
    first = run_cycle(cfg, progress=False)
    (kept,) = runs.glob("*.json")
    assert (runs / f"{kept.name}.sig").exists()
    assert any("fitted on" in n and "kept: none kept yet" in n for n in first.trigger["notes"]), first.trigger["notes"]
    body = json.loads(kept.read_text())
    assert body["estimator"]["params"]["metric"] == "accuracy" and "pickle" not in kept.read_text()
    _live(tmp_path, 16)
    second = run_cycle(cfg, progress=False)   # loaded: no fit, no note, the file as it was
    assert not any("estimator" in n for n in second.trigger["notes"]), second.trigger["notes"]
    assert json.loads(kept.read_text()) == body
    ev = second.trigger["evidence"]["estimated_performance(accuracy, floor=0)"]
    assert ev["reference_rows"] == body["estimator"]["fitted"]["reference_rows_"]
    kept.write_text(kept.read_text().replace('"reference_": ', '"reference_": 1.0, "was": ', 1))   # a better-looking reference
    _live(tmp_path, 17)
    third = run_cycle(cfg, progress=False)   # forged: refused, refitted and kept again
    assert third.status == "skipped"   # checked, nothing fired
    assert any("not used" in n and "SHA-256" in n for n in third.trigger["notes"]), third.trigger["notes"]
    assert json.loads(kept.read_text())["estimator"]["fitted"]["reference_"] != 1.0
