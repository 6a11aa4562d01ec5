"""Tuning the retraining policy: utility arithmetic, the time-ordered split, the tuned config replayed by `ctml backtest`,
and `ctml tune`'s exit codes."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression
from sklearn.naive_bayes import GaussianNB

import ctml_nb.policy.tune as tune
from ctml_nb.pipeline.tuning import tune_config
from ctml_nb.policy.backtest import Policy
from ctml_nb.cli import EXIT_OK, EXIT_USAGE, main
from ctml_nb.policy.policies import compare_policies, retrain_utility
from ctml_nb.policy.strategies import FullRetrain
from ctml_nb.policy.triggers import IntervalTrigger


def stream(n=3000, seed=0, period=700):
    "A classification stream whose threshold on `a` moves every `period` rows, with a `row` column"
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 2))
    th = np.array([0.3, 0.7, 0.5])[(np.arange(n) // period) % 3]
    return pd.DataFrame({"row": np.arange(n, dtype=float), "a": X[:, 0], "b": X[:, 1], "y": (X[:, 0] > th).astype(int)})


def regression_stream(n=2400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=n)
    slope = np.where((np.arange(n) // 600) % 2 == 0, 2.0, -1.0)
    return pd.DataFrame({"x": x, "y": slope * x + rng.normal(0, 0.05, n)})


def test_utility_arithmetic_both_directions():
    assert retrain_utility(0.9, 20, 100, 0.1) == pytest.approx(0.9 - 0.02)
    assert retrain_utility(0.3, 20, 100, 0.1, greater_is_better=False) == pytest.approx(0.3 + 0.02)
    df = regression_stream()
    cmp = compare_policies(df, "y", LinearRegression(), [Policy("never"), Policy("every batch", IntervalTrigger(rows=1))],
                           batch_size=100, initial_rows=200, metric="mae", progress=False)
    t = cmp.to_frame(cost=0.5).set_index("policy")
    assert t.loc["every batch", "utility"] == pytest.approx(t.loc["every batch", "metric"] + 0.5 * 21 / 22)
    assert t.loc["never", "utility"] == t.loc["never", "metric"]
    assert cmp.best(0.0) == "every batch"          # lower mae is better
    assert cmp.best(100.0) == "never"              # a loss plus a huge charge: the policy that never retrains


def test_tuning_a_loss_chooses_the_lowest_utility_and_signs_the_margin():
    r = tune.tune_policy(regression_stream(), "y", LinearRegression(), 0.01, batch_size=100, initial_rows=200,
                         metric="mae", progress=False)
    s = r.summary()
    assert s["greater_is_better"] is False
    u = r.search.utility(0.01)
    assert u[r.chosen] == u.min()
    ev = r.evaluation.utility(0.01)
    best = ev[list(r.baselines)].min()
    assert s["margin"] == pytest.approx(best - ev[f"tuned: {r.chosen}"])
    assert s["hindsight"]["utility"] <= ev.min() + 1e-9   # the optimum knows the future: no lower-utility schedule


class SpyNB(GaussianNB):
    "GaussianNB that records the largest `row` it was fitted on or asked to predict, with the current phase"
    seen: list = []
    phase = "?"

    def fit(self, X, y, sample_weight=None):
        SpyNB.seen.append((SpyNB.phase, float(X["row"].max())))
        return super().fit(X, y, sample_weight)

    def predict(self, X):
        SpyNB.seen.append((SpyNB.phase, float(X["row"].max())))
        return super().predict(X)


def test_no_candidate_sees_the_later_part(monkeypatch):
    real = tune.compare_policies
    def spy(data, target, model, policies, **kw):
        SpyNB.phase = "judge" if any(p.name.startswith("tuned: ") for p in policies) else "search"
        return real(data, target, model, policies, **kw)
    monkeypatch.setattr(tune, "compare_policies", spy)
    SpyNB.seen = []
    df = stream()
    r = tune.tune_policy(df, "y", SpyNB(), 0.02, split=0.6, batch_size=100, initial_rows=200, hindsight=False,
                         progress=False)
    cut = int(len(df) * 0.6)
    assert r.rows == (cut, len(df) - cut)
    search = [m for p, m in SpyNB.seen if p == "search"]
    judge = [m for p, m in SpyNB.seen if p == "judge"]
    assert len(search) > 100 and max(search) < cut          # every candidate fit and prediction on the tuning part only
    assert max(judge) == len(df) - 1                        # the spy works: judging does reach the last row
    r.at(0.5)                                               # choosing again at another cost runs no candidate on later rows
    assert max(m for p, m in SpyNB.seen if p == "search") < cut


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def pipeline(tmp_path):
    stream(n=2400).drop(columns="row").to_csv(tmp_path / "history.csv", index=False)
    cfg = {"name": "toy", "data": {"source": "history.csv", "target": "y"},
           "model": {"factory": "sklearn.naive_bayes:GaussianNB"}}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path


def test_tuned_config_replays_with_the_same_figures(pipeline, capsys):
    out = pipeline / "tuned.yaml"
    code, text, err = run(capsys, "tune", "--config", str(pipeline / "pipeline.yaml"), "--retrain-cost", "0.02",
                          "--batch-rows", "100", "--out", str(out), "--json", "--no-progress")
    assert code == EXIT_OK, err
    got = json.loads(text)
    s = got["summary"]
    assert s["candidates_tried"] >= 30 and s["tuning_rows"] == 1200
    assert f"--initial-rows {s['tuning_rows']}" in got["replay"]
    tuned = yaml.safe_load(out.read_text())
    assert tuned["data"]["source"] == "history.csv" and tuned["triggers"] == got["policy"]["triggers"]
    code, text, err = run(capsys, "backtest", "--config", str(out), "--batch-rows", "100", "--initial-rows",
                          str(s["tuning_rows"]), "--json", "--no-progress")
    assert code == EXIT_OK, err
    (summary,) = json.loads(text)["summary"]
    assert summary["metric"] == pytest.approx(s["later"]["metric"], abs=1e-12)
    assert (summary["retrains"], summary["batches"]) == (s["later"]["retrains"], s["later"]["batches"])


@pytest.mark.parametrize("args, says", [
    (["--retrain-cost", "-0.1", "--batch-rows", "100"], "--retrain-cost: expected a number >= 0"),
    (["--retrain-cost", "nan", "--batch-rows", "100"], "--retrain-cost: expected a number >= 0"),
    (["--retrain-cost", "0.1", "--batch-rows", "100", "--split", "1"], "--split: expected a fraction"),
    (["--retrain-cost", "0.1", "--batch-rows", "100", "--n-jobs", "0"], "--n-jobs: expected an integer >= 1"),
    (["--retrain-cost", "0.1", "--batch-rows", "100", "--out", "tuned.json"], "name it .yaml or .yml"),
    (["--retrain-cost", "0.1", "--batch-rows", "0"], "--batch-rows: expected an integer >= 1"),
    (["--retrain-cost", "0.1", "--batch-every", "1D"], "data.time_column is not set"),
    (["--retrain-cost", "0.1", "--batch-rows", "500"], "batches to tune on"),
    (["--retrain-cost", "0.1"], "one of the arguments --batch-rows --batch-every is required"),
])
def test_cli_usage_errors_exit_2(pipeline, capsys, args, says):
    code, _, err = run(capsys, "tune", "--config", str(pipeline / "pipeline.yaml"), "--no-progress", *args)
    assert code == EXIT_USAGE and says in err, err


def test_cli_refuses_to_overwrite_the_pipeline_and_missing_files(pipeline, capsys):
    cfg = str(pipeline / "pipeline.yaml")
    before = (pipeline / "pipeline.yaml").read_text()
    code, _, err = run(capsys, "tune", "--config", cfg, "--retrain-cost", "0.1", "--batch-rows", "100", "--out", cfg)
    assert code == EXIT_USAGE and "would replace the pipeline config itself" in err
    assert (pipeline / "pipeline.yaml").read_text() == before
    code, _, err = run(capsys, "tune", "--config", str(pipeline / "nope.yaml"), "--retrain-cost", "0.1", "--batch-rows", "100")
    assert code == EXIT_USAGE and "Config file not found" in err
    code, _, err = run(capsys, "tune", "--config", cfg, "--history", str(pipeline / "nope.csv"), "--retrain-cost", "0.1",
                       "--batch-rows", "100")
    assert code != EXIT_OK and "nope.csv" in err


def timed(n, kind):
    "`stream(n)` with a `time` column: daily, irregular (gaps of minutes to days) or tz-aware hourly"
    df = stream(n).drop(columns="row")
    rng = np.random.default_rng(1)
    if kind == "daily": t = pd.date_range("2020-01-01", periods=n, freq="D")
    elif kind == "irregular": t = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.cumsum(rng.exponential(6, n)), unit="h")
    else: t = pd.date_range("2020-01-01", periods=n, freq="h", tz="Europe/Paris")
    return df.assign(time=t)


@pytest.mark.parametrize("kind", ["rows", "daily", "irregular", "tz"])
def test_every_default_candidate_runs_on_the_history_index(kind):
    "Every candidate of the default space (first round and a second round) replays on row- and time-indexed histories"
    df = stream(1200).drop(columns="row") if kind == "rows" else timed(1200, kind)
    kw = {} if kind == "rows" else {"time_column": "time"}
    cut, bounds, b, span, _ = tune.tuning_parts(df, "y", 0.5, kw | {"batch_size": 50})
    assert b == 50 and (span is None) == (kind == "rows")
    space = tune.default_space(b, 4, span=span)
    assert any("budget" in p.name for p in space)
    if span is not None: assert all("rows)" not in p.name for p in space if "budget" in p.name)   # budgets count time
    cmp = compare_policies(df.iloc[:600], "y", GaussianNB(), space, batch_size=50, initial_rows=300, progress=False, **kw)
    assert all(r.totals["batches"] == 6 for r in cmp.results.values())


def test_tuned_batches_are_whole_batches_and_blocks_tile_the_tuning_part():
    "Rows per batch: the batch size (or the median whole batch), never the mean with a partial last batch"
    df = timed(1000, "daily")
    cut, bounds, b, span, _ = tune.tuning_parts(df, "y", 0.5, {"batch_every": "7D", "time_column": "time"})
    assert (b, span) == (7, pd.Timedelta("7D"))
    assert bounds[0][0] == 200 and bounds[-1][1] == cut == 500 and all(e == o2 for (_, e, _), (o2, _, _) in zip(bounds, bounds[1:]))
    cut, bounds, b, span, _ = tune.tuning_parts(stream(1000), "y", 0.5, {"batch_size": 30})
    assert b == 30 and len(bounds) == 3


def test_cli_refuses_a_tuned_config_worse_than_never_or_the_current_one(pipeline, capsys):
    "`ctml tune --out` writes nothing and exits 2 with the figures when the choice trails never or the current config"
    out = pipeline / "tuned.yaml"
    args = ("tune", "--config", str(pipeline / "pipeline.yaml"), "--retrain-cost", "0.02", "--batch-rows", "100",
            "--out", str(out), "--no-progress")
    r = tune_config(tune_cfg(pipeline), 0.02, progress=False, batch_rows=100)
    concerns = r.summary()["concerns"]
    assert "current config" in r.candidates and "current config" in r.baselines
    assert r.search.utility(0.02)[r.chosen] >= r.search.utility(0.02)["never"] or any("tuning part" in c for c in concerns)
    code, text, err = run(capsys, *args)
    if concerns:
        assert code == EXIT_USAGE and "not writing" in err and "--force" in err and not out.exists()
        code, text, err = run(capsys, *args, "--force")
    assert code == EXIT_OK and out.exists(), err


def tune_cfg(pipeline):
    from ctml_nb.pipeline.config import load_config
    return load_config(pipeline / "pipeline.yaml")
