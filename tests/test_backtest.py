"""Integration tests of the policy backtester: no look-ahead, time-based vetoes, JSON output, the benchmark script."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from ctml_nb.policy.backtest import Policy, backtest
from ctml_nb.core import read_json, write_json
from ctml_nb.policy.policies import compare_policies, default_policy
from ctml_nb.policy.strategies import FineTune, FullRetrain, Incremental
from ctml_nb.policy.triggers import IntervalTrigger, Trigger
from ctml_nb.policy.vetoes import Budget, Cooldown

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


def stream(n=2000, flip=1000, seed=0, times=False):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 2))
    y = (X[:, 0] > 0.5).astype(int)
    y[flip:] = 1 - y[flip:]
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y})
    if times: df.insert(0, "ts", pd.date_range("2024-01-01", periods=n, freq="30min"))
    return df


class Spy(Trigger):
    "Records what it was shown and fires every `k` checks"
    def __init__(self, k=3): self.k = k
    def _check(self, state):
        self.seen_ = getattr(self, "seen_", []) + [state]
        return self._decide(state, len(self.seen_) % self.k == 0, "every k checks", {})


def test_no_lookahead_with_label_delay():
    df = stream()
    seen = []  # backtest copies the trigger, so record through a closure
    class Rec(Spy):
        def _check(self, state):
            seen.append(state); return super()._check(state)
    res = backtest(df, "y", DecisionTreeClassifier(random_state=0), Policy("rec", Rec(k=4), FullRetrain(window=300)),
                   batch_size=50, initial_rows=200, label_delay=2, progress=False)
    assert len(seen) == 36
    for i, st in enumerate(seen):
        scored_to = 200 + (i + 1) * 50
        labelled_to = 200 + max(0, i + 1 - 2) * 50
        assert st.rows_seen == scored_to - 200
        assert len(st.X_recent) == 50                         # recent rows are scored rows, labelled or not
        assert len(st.y_true) <= max(0, labelled_to - 200)    # labels only of rows already revealed
        since = 200 + (st.retrain_history[-1] if st.retrain_history else 0)  # first row the live model scored
        assert len(st.errors) == max(0, labelled_to - max(since, labelled_to - 50))
    # every retrain trained only on revealed labels
    for ev in res.events:
        assert ev["retrain"]["window_end"] < 200 + (ev["batch"] + 1 - 2) * 50
    assert res.summary()["retrains"] == 8   # fires on checks 4, 8, ..., 36; none after the last batch


def test_time_based_cooldown_and_budget():
    df = stream(times=True)
    trig = Budget(Cooldown(IntervalTrigger(rows=1), min_time="6h"), max_retrains=2, per="1D")
    res = backtest(df, "y", DecisionTreeClassifier(random_state=0), Policy("limited", trig, FullRetrain(window="2D")),
                   batch_size=4, initial_rows=200, time_column="ts", progress=False)
    times = pd.to_datetime(pd.Series([e["time"] for e in res.events]))
    assert len(times) > 5
    assert (times.diff().dropna() >= pd.Timedelta("6h")).all()
    for t in times:  # at most 2 retrains in any 1-day window ending at a retrain
        assert ((times > t - pd.Timedelta("1D")) & (times <= t)).sum() <= 2
    fr = res.to_frame()
    assert fr["vetoed_by"].str.contains("cooldown").any() and fr["vetoed_by"].str.contains("budget").any()
    # the time window of the strategy: 2 days of 30-minute rows = 96 rows
    assert {e["retrain"]["rows"] for e in res.events} == {96}


def test_incremental_and_finetune_policies_run_and_never_touch_the_model():
    df = stream()
    sgd = make_pipeline(StandardScaler(), SGDClassifier(random_state=0))
    r = backtest(df, "y", sgd, Policy("sgd", IntervalTrigger(rows=100), Incremental()), batch_size=50,
                 initial_rows=200, progress=False)
    assert r.summary()["retrains"] == 17
    assert {e["retrain"]["rows"] for e in r.events} == {100}   # only the rows not learnt yet
    assert not hasattr(sgd[-1], "coef_")                       # the model passed in was never fitted
    # with labels 3 batches late, firings before any new label retrain nothing; then each update sees one batch
    d = backtest(df, "y", sgd, Policy("late", IntervalTrigger(rows=1), Incremental()), batch_size=50,
                 initial_rows=200, label_delay=3, progress=False)
    assert [e["batch"] for e in d.events][:2] == [3, 4] and {e["retrain"]["rows"] for e in d.events} == {50}
    assert "retrain skipped: no labelled rows" in d.to_frame().loc[0, "reasons"]
    from sklearn.ensemble import RandomForestClassifier
    rf = RandomForestClassifier(5, random_state=0)
    f = backtest(df, "y", rf, Policy("grow", IntervalTrigger(rows=500), FineTune(add=2)), batch_size=100,
                 initial_rows=200, progress=False)
    assert [e["retrain"]["params"]["n_estimators"] for e in f.events] == [7, 9, 11]


def test_results_are_json_safe(tmp_path):
    df = stream()
    cmp = compare_policies(df, "y", DecisionTreeClassifier(max_depth=3, random_state=0),
                           [Policy("never"), default_policy(FullRetrain(window=100))], batch_size=100,
                           initial_rows=200, progress=False)
    p = write_json(tmp_path / "cmp.json", cmp.to_dict())
    back = read_json(p)
    assert [r["policy"] for r in back["policies"]] == ["never", "ctml default"]
    res = cmp.results["ctml default"]
    write_json(tmp_path / "res.json", res.to_dict())
    ev = read_json(tmp_path / "res.json")["events"]
    assert len(ev) == res.summary()["retrains"] and all(e["decision"]["retrain"] for e in ev)


def test_bundled_elec2_is_the_benchmark_stream():
    if not (SHARED / "elec2.csv").is_file(): pytest.skip("shared benchmark data not present")
    from ctml_nb.data.datasets import load_elec2
    a = load_elec2(timestamps=False, names=False)
    b = pd.read_csv(SHARED / "elec2.csv")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_bench_missing_data_is_a_clear_error(tmp_path):
    p = subprocess.run([sys.executable, str(REPO / "bench" / "policy_bench.py"), str(tmp_path)],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert "elec2.csv" in p.stderr and "Pass the folder" in p.stderr


def test_bench_runs_end_to_end_on_small_copies(tmp_path):
    if not (SHARED / "elec2.csv").is_file(): pytest.skip("shared benchmark data not present")
    pd.read_csv(SHARED / "elec2.csv").iloc[:2400].to_csv(tmp_path / "elec2.csv", index=False)
    pd.read_csv(SHARED / "weather.csv").iloc[:900].to_csv(tmp_path / "weather.csv", index=False)
    out = tmp_path / "res.json"
    p = subprocess.run([sys.executable, str(REPO / "bench" / "policy_bench.py"), str(tmp_path), "--n-jobs", "1",
                        "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "TARGET elec2" in p.stdout and "TARGET weather" in p.stdout
    res = json.loads(out.read_text())
    e = {r["policy"]: r for r in res[0]["table"]}
    assert e["every batch"]["retrains"] == (2400 - 240) // 48 - 1 + ((2400 - 240) % 48 > 0)
    assert e["never"]["retrains"] == 0 and "ctml default" in e
