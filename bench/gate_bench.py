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
    "seattle-weather (`public_table`: its 'rain tomorrow' target) with season features, without the `weather` text column"
    from ctml_nb.data.datasets import public_table
    df = public_table("seattle_weather").frame
    doy = df["date"].dt.day_of_year / 365.25
    return df.assign(doy_sin=np.sin(2 * np.pi * doy), doy_cos=np.cos(2 * np.pi * doy)).drop(columns=["weather"])


class RecordingGate(PromotionPolicy):
    "A PromotionPolicy that keeps, for every challenger, the champion it was first judged against, the label mark then, and whether it was promoted"
    def decide(self, champion, challenger, X, y, evidence=None):
        d = super().decide(champion, challenger, X, y, evidence)
        if champion is not None:
            seen = self.judged_.setdefault(id(challenger), [champion, challenger, int(X.index[-1]) + 1, False])
            seen[3] = seen[3] or bool(d.promote)
        return d


def run(df, feats, target, gate_kind, batch, later, window, model, initial, time_column=None, max_looks=20):
    gate, holdout = None, None
    if gate_kind != "none":
        gate = RecordingGate(n_boot=300, sequential=gate_kind.startswith("sequential"), max_looks=max_looks); gate.judged_ = {}
        holdout = Holdout(min_test_rows=1) if gate_kind == "sequential" else Holdout()   # "sequential50": the fixed gate's holdout
    pol = Policy(gate_kind, IntervalTrigger(rows=batch), FullRetrain(window=window), gate, holdout)
    t0 = time.process_time()
    cols = feats + ([time_column] if time_column else []) + [target]
    res = backtest(df[cols], target, model, pol, batch_size=batch, initial_rows=initial, time_column=time_column,
                   recent_rows="new", initial="cycle", progress=False)
    cpu = time.process_time() - t0
    fr, s = res.to_frame(), res.summary()
    outcomes = [e.get("outcome") for e in res.events[1:]]
    out = {"model": type(model[-1] if hasattr(model, "steps") else model).__name__[:8], "window": window, "gate": gate_kind,
           "accuracy": round(s["metric"], 4), "retrains": s["retrains"] - 1, "promoted": int(fr["promoted"].iloc[1:].sum()),
           "pending": outcomes.count("pending"), "dropped": outcomes.count("rejected") + outcomes.count("superseded"),
           "cpu_s": round(cpu, 1)}
    better = promoted_better = worse = promoted_worse = 0
    gains = []
    for champ, chal, mark, promoted in (gate.judged_.values() if gate is not None else []):
        rows = df.iloc[mark:mark + later]   # labelled after the challenger's first look: seen by neither model
        if len(rows) < later // 2: continue
        X, y = rows[feats], rows[target].to_numpy()
        g = float(np.mean(chal.predict(X) == y) - np.mean(champ.predict(X) == y))
        if g > 0: better += 1; promoted_better += promoted
        else: worse += 1; promoted_worse += promoted
        if promoted: gains.append(g)
    out.update(truly_better_promoted=f"{promoted_better}/{better}" if gate is not None else None,
               not_better_promoted=f"{promoted_worse}/{worse}" if gate is not None else None,
               promoted_later_gain=None if not gains else round(float(np.mean(gains)), 4))
    return out


def logistic(): return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
def forest():
    from sklearn.ensemble import RandomForestClassifier
    return RandomForestClassifier(n_estimators=100, min_samples_leaf=3, random_state=0, n_jobs=1)


def tables():
    "(name, frame, features, target, time column, batch, initial rows, windows): seattle-weather, then public iid tables in a random order"
    from ctml_nb.data.datasets import public_table
    df = seattle()
    yield ("seattle-weather", df, [c for c in df.columns if c not in ("date", "rain_tomorrow")], "rain_tomorrow", "date",
           30, 365, ("365D", "90D"))
    for name, batch, window in (("phishing", 25, 250), ("bananas", 50, 500)):
        t = public_table(name)
        d = t.frame.sample(frac=1, random_state=0).reset_index(drop=True)
        yield name, d, [c for c in d.columns if c != t.target], t.target, None, batch, window, (window,)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--later", type=int, default=180)
    ap.add_argument("--max-looks", type=int, default=20, help="the sequential gate's max_looks")
    ap.add_argument("--tables", default="seattle-weather,phishing,bananas")
    ap.add_argument("--gates", default="fixed,sequential,sequential50,none")
    a = ap.parse_args()
    want, gates = a.tables.split(","), a.gates.split(",")
    print(f"gate_bench: later holdout {a.later} rows; load average {os.getloadavg()[0]:.2f}")
    rows = []
    for name, df, feats, target, tcol, batch, initial, windows in tables():
        if name not in want: continue
        print(f"{name}: {len(df)} rows, batches of {batch}, initial {initial} rows", flush=True)
        for make in (logistic, forest):
            for w in windows:
                for g in gates:
                    rows.append({"table": name, **run(df, feats, target, g, batch, a.later, w, make(), initial, tcol, a.max_looks)})
                    print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
