"""Sequential gate benchmark: can a gate promote at real batch sizes, and are the challengers it promotes truly better?

Data the project did not design on: vega_datasets' seattle-weather (a daily table shipped inside the PyPI package,
read with no network), target "rain tomorrow" (precipitation > 0 the next day), features precipitation, temp_max,
temp_min, wind and the day of year (sine, cosine); seasonal drift. Batches of 30 daily rows; a trigger that fires
every batch (an interval of 30 rows), so every cycle pays for a retrain and the gate alone decides; a full retrain on
the last 365 days. Three gates:

  fixed        PromotionPolicy() as before: judged once, on max(50, 0.3 x new rows) held-out rows
  sequential   PromotionPolicy(sequential=True): 30% of the new rows held out, later cycles add evidence
  none         every challenger promoted

For every promotion the champion it replaced and the promoted challenger are scored on the next `--later` rows
(default 180: labelled after the decision, seen by neither): "truly better" means the challenger's accuracy there is
higher. Printed: retrains, promotions, pending and dropped challengers, the share of promotions truly better with
their mean later gain, overall accuracy, and CPU seconds with the load average.

Usage:  python bench/gate_bench.py [--later 180] [--batch 30] [--max-looks 20]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ctml_nb.policy.backtest import Policy, backtest
from ctml_nb.policy.loop import Holdout
from ctml_nb.gate.promotion import PromotionPolicy
from ctml_nb.policy.strategies import FullRetrain
from ctml_nb.policy.triggers import IntervalTrigger


def seattle()->pd.DataFrame:
    "seattle-weather with a 'rain tomorrow' target and season features (no network: the file ships in the package)"
    from vega_datasets import data
    df = data.seattle_weather()
    doy = df["date"].dt.day_of_year / 365.25
    df = df.assign(doy_sin=np.sin(2 * np.pi * doy), doy_cos=np.cos(2 * np.pi * doy),
                   rain_tomorrow=(df["precipitation"].shift(-1) > 0).astype(int))
    return df.iloc[:-1].drop(columns=["weather"]).reset_index(drop=True)


class RecordingGate(PromotionPolicy):
    "A PromotionPolicy that keeps every promoted (champion, challenger) pair with the label mark of the decision"
    def decide(self, champion, challenger, X, y, evidence=None):
        d = super().decide(champion, challenger, X, y, evidence)
        if d.promote and champion is not None: self.promoted_.append((champion, challenger, int(X.index[-1]) + 1))
        return d


def run(df, gate_kind, batch, later, window="365D", forest=False, max_looks=20):
    feats = [c for c in df.columns if c not in ("date", "rain_tomorrow")]
    gate, holdout = None, None
    if gate_kind != "none":
        gate = RecordingGate(n_boot=300, sequential=gate_kind == "sequential", max_looks=max_looks); gate.promoted_ = []
        holdout = Holdout(min_test_rows=1) if gate_kind == "sequential" else Holdout()
    pol = Policy(gate_kind, IntervalTrigger(rows=batch), FullRetrain(window=window), gate, holdout)
    if forest:
        from sklearn.ensemble import RandomForestClassifier
        model = RandomForestClassifier(n_estimators=100, min_samples_leaf=3, random_state=0, n_jobs=1)
    else: model = make_pipeline(StandardScaler(), LogisticRegression())
    t0 = time.process_time()
    res = backtest(df[feats + ["date", "rain_tomorrow"]], "rain_tomorrow", model, pol, batch_size=batch,
                   initial_rows=365, time_column="date", recent_rows="new", initial="cycle", progress=False)
    cpu = time.process_time() - t0
    fr, s = res.to_frame(), res.summary()
    outcomes = [e.get("outcome") for e in res.events[1:]]
    out = {"model": "forest" if forest else "logistic", "window": window, "gate": gate_kind, "accuracy": round(s["metric"], 4), "retrains": s["retrains"] - 1,
           "promoted": int(fr["promoted"].iloc[1:].sum()), "pending": outcomes.count("pending"),
           "dropped": outcomes.count("rejected") + outcomes.count("superseded"), "cpu_s": round(cpu, 1)}
    gains = []
    for champ, chal, mark in (gate.promoted_ if gate is not None else []):
        rows = df.iloc[mark:mark + later]
        if len(rows) < later // 2: continue
        X, y = rows[feats], rows["rain_tomorrow"].to_numpy()
        gains.append(float(np.mean(chal.predict(X) == y) - np.mean(champ.predict(X) == y)))
    if gate is None:   # every challenger promoted: compare each event's model with the one before it, replayed
        gains = None
    out.update(truly_better=None if not gains else f"{sum(g > 0 for g in gains)}/{len(gains)}",
               later_gain=None if not gains else f"{np.mean(gains):+.4f} +/- {np.std(gains, ddof=1) / np.sqrt(len(gains)) if len(gains) > 1 else 0:.4f}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=30)
    ap.add_argument("--later", type=int, default=180)
    ap.add_argument("--max-looks", type=int, default=20, help="the sequential gate's max_looks")
    a = ap.parse_args()
    df = seattle()
    print(f"seattle-weather: {len(df)} days, rain tomorrow on {df['rain_tomorrow'].mean():.0%}; batches of {a.batch} "
          f"rows; later holdout {a.later} rows; load average {os.getloadavg()[0]:.2f}")
    rows = [run(df, g, a.batch, a.later, w, f, a.max_looks) for f in (False, True) for w in ("365D", "90D")
            for g in ("fixed", "sequential", "none")]
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
