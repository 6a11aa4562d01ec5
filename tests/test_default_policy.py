"""The default policy reacts where retraining pays, stays put where it does not, and a pipeline config holds it.

Small synthetic streams from `drift_stream`, public tables shipped by river and scikit-learn, and a shallow tree keep
these fast; `bench/default_policy_bench.py` has the full evidence (elec2, weather, sea, every synthetic kind and
stationary public tables with a forest).
"""
import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from ctml_nb.pipeline.config import parse_config
from ctml_nb.data.datasets import drift_stream, public_table
from ctml_nb.policy.policies import DecayTrigger, baseline_policies, compare_policies, default_policy
from ctml_nb.pipeline.policy_config import policy_from_config, policy_to_config
from ctml_nb.policy.strategies import FullRetrain
from ctml_nb.policy.backtest import Policy, backtest

TREE = DecisionTreeClassifier(max_depth=6, random_state=0)


def _compare(kind, n_rows, batch, window, every):
    strategy = FullRetrain(window=window)
    pols = baseline_policies(every, strategy) + [default_policy(strategy)]
    return compare_policies(drift_stream(kind, n_rows), "target", TREE, pols, batch_size=batch, progress=False)


def _share(t):
    never, every = t.loc["never", "metric"], t.loc["every batch", "metric"]
    return (t.loc["ctml default", "metric"] - never) / (every - never)


def test_default_reacts_on_a_fast_decaying_stream():
    "Moving squares (4 classes, a model decays within a few hundred rows): it retrains and captures half the gain"
    cmp = _compare("moving_squares", 6_000, 50, 200, 200)
    t = cmp.to_frame().set_index("policy")
    assert t.loc["every batch", "metric"] - t.loc["never", "metric"] > 0.2      # retraining pays a lot here
    assert 0 < t.loc["ctml default", "retrains"] < t.loc["every batch", "retrains"]
    assert _share(t) >= 0.5, t
    assert cmp.judge("ctml default")["on_or_above"], cmp.judge("ctml default")


@pytest.mark.parametrize("kind", ["abrupt", "gradual", "recurring"])
def test_default_recovers_after_a_change(kind):
    """After a change a retrain on a window full of old rows does not help: the default retrains again; on 1,000-row
    ramps (gradual) no periodic schedule dominates it"""
    cmp = _compare(kind, 6_000, 100, 500, 500)
    t = cmp.to_frame().set_index("policy")
    assert _share(t) >= 0.5, t
    assert not cmp.judge("ctml default")["dominated_by"], t


def test_default_is_quiet_on_a_stable_stream():
    "No drift: no baseline dominates the default (it does not retrain for nothing)"
    cmp = _compare("stable", 6_000, 100, 500, 500)
    j = cmp.judge("ctml default")
    assert j["on_or_above"], j
    assert cmp.to_frame().set_index("policy").loc["ctml default", "retrains"] <= 2


@pytest.mark.parametrize("name,batch,window", [("bananas", 50, 500), ("phishing", 25, 250), ("digits", 25, 300),
                                               ("breast_cancer", 10, 100)])
def test_default_does_not_cry_wolf_on_stationary_public_tables(name, batch, window):
    """A public table in random order has no drift by construction, so every retrain is a false one: at most 1 per 100
    batches on average over random orders (the default's stated rate: 0.5 per 100 checks, and one retry of a model near
    chance)"""
    t = public_table(name)
    rates = []
    for seed in range(3):
        r = backtest(t.frame.sample(frac=1, random_state=seed).reset_index(drop=True), t.target, TREE,
                     default_policy(FullRetrain(window=window)), batch_size=batch, initial_fraction=0.1, progress=False)
        rates.append(100 * r.totals["retrains"] / r.totals["batches"])
    assert np.mean(rates) <= 1.0, rates


def test_default_round_trips_through_a_pipeline_config(tmp_path):
    "policy_to_config writes the default; the config builds it back and a backtest replays the same figures"
    base = {"name": "p", "data": {"source": "d.csv", "target": "target"},
            "model": {"factory": "sklearn.tree:DecisionTreeClassifier"}}
    pol = default_policy(FullRetrain(window=200), max_drop=0.15, window=50)
    cfg = policy_to_config(pol, base)
    assert cfg["triggers"] == [{"kind": "decay", "params": {"max_rise": 0.15, "window": 50}},
                               {"kind": "volume", "params": {"min_fraction": 1 / 30}}]
    assert cfg["trigger_combine"] == "all"
    back = policy_from_config(parse_config(cfg, tmp_path), name="ctml default")
    core = back.trigger.triggers[0]           # the pipeline adds an on-demand trigger beside the configured ones
    assert repr(core) == repr(pol.trigger) and isinstance(core.triggers[0], DecayTrigger)
    data = drift_stream("moving_squares", 3_000)
    a = backtest(data, "target", TREE, pol, batch_size=50, progress=False)
    b = backtest(data, "target", TREE, Policy("ctml default", core, back.strategy), batch_size=50, progress=False)
    assert (a.totals["metric"], a.totals["retrains"]) == (b.totals["metric"], b.totals["retrains"])
    assert a.totals["retrains"] > 0


def test_default_window_is_half_the_training_window(tmp_path):
    "The decay is measured on half the training window, at most 250 rows (100 without one in rows); a config carries the number"
    pol = default_policy(FullRetrain(window=500))
    assert pol.trigger.triggers[0].window == 250
    assert default_policy(FullRetrain(window=1440)).trigger.triggers[0].window == 250   # at most 250 rows
    assert default_policy(FullRetrain()).trigger.triggers[0].window == 100
    assert default_policy(FullRetrain(window="30D")).trigger.triggers[0].window == 100
    assert default_policy(FullRetrain(window=500), window=80).trigger.triggers[0].window == 80
    base = {"name": "p", "data": {"source": "d.csv", "target": "target"},
            "model": {"factory": "sklearn.tree:DecisionTreeClassifier"}}
    cfg = policy_to_config(pol, base)
    assert cfg["triggers"][0] == {"kind": "decay", "params": {"window": 250}}
    back = policy_from_config(parse_config(cfg, tmp_path), name="ctml default")
    assert repr(back.trigger.triggers[0]) == repr(pol.trigger)


def test_decay_significance_settings_round_trip(tmp_path):
    "alpha (the false-alarm rate per check) and a fixed z, kept for older configs, go through a pipeline config"
    from ctml_nb.policy.triggers import AllOf, DataVolumeTrigger
    base = {"name": "p", "data": {"source": "d.csv", "target": "target"},
            "model": {"factory": "sklearn.tree:DecisionTreeClassifier"}}
    for kw in ({"alpha": 0.01}, {"z": 2.0}):
        pol = Policy("p", AllOf(DecayTrigger(window=50, **kw), DataVolumeTrigger(min_fraction=0.1)), FullRetrain(window=100))
        cfg = policy_to_config(pol, base)
        assert cfg["triggers"][0] == {"kind": "decay", "params": {"window": 50, **kw}}
        back = policy_from_config(parse_config(cfg, tmp_path), name="p").trigger.triggers[0].triggers[0]
        assert (back.alpha, back.z, back.z_score()) == (pol.trigger.triggers[0].alpha, pol.trigger.triggers[0].z,
                                                        pol.trigger.triggers[0].z_score())
