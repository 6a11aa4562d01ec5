"""Sequential gate benchmark: can a gate promote at real batch sizes, and are the challengers it promotes truly better?

Data the project did not design on, read with no network through `ctml_nb.data.datasets.public_table`:
seattle-weather (vega_datasets' daily table, target "rain tomorrow", features precipitation, temp_max, temp_min, wind
and the day of year as sine and cosine; seasonal drift; 30-row batches, a full retrain on the last 365 or 90 days),
river's Phishing (25-row batches, window 250 rows) and Bananas (50-row batches, window 500 rows), both in a seeded
random order (no drift: no challenger is better by more than chance). A trigger fires every batch, so every cycle
pays for a retrain and the gate alone decides. Gates:

  fixed         PromotionPolicy() as before: judged once, on max(50, 0.3 x new rows) held-out rows
  sequential    PromotionPolicy(sequential=True): 30% of the new rows held out (no floor), later cycles add evidence
  sequential50  the same, with the fixed gate's holdout
  brier         sequential, the evidence on the Brier score of the same predictions (`sequential_score="brier"`)
  logloss       sequential, the evidence on the log loss (`sequential_score="log_loss"`)
  point         the fixed gate's holdout, no significance test: promoted when better there (`test="none"`)
  none          every challenger promoted

Every challenger is scored beside the champion it was first judged against on the next `--later` rows (default 365:
labelled after that look, seen by neither): its "later gain" in accuracy there. A gain of +0.01 on a few hundred
rows is itself noise, so challengers are counted by later-gain bin: below 0 (worse), 0 to `--margin` (about equal),
at least `--margin` (default 0.02: truly better) and at least 0.05 (much better), each as "promoted/challengers".
Printed per table, model and window: accuracy, retrains, promotions, pending and dropped challengers, the bins, the
mean later gain of the promoted ones, and CPU seconds, with the load average. `--detail` prints every challenger:
its looks (rows, accuracy and score difference per look), its later gain and its outcome. `--why` adds, for the truly
better challengers, how each ended, as its number of looks: promoted, dropped by the gate, superseded while pending
because it was not ahead after `min_test_rows` paired rows (`not_ahead`) or its edge was gone on the newest rows
(`moved_past`; `ctml_nb.policy.loop.pending_retrain`), or still pending when the stream ended (`open`).

Usage:  python bench/gate_bench.py [--later 365] [--margin 0.02] [--max-looks 20] [--tables seattle-weather,phishing,bananas]
                                   [--gates fixed,sequential,sequential50,brier,logloss,point,none] [--detail] [--why]
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
    "A PromotionPolicy that keeps, for every challenger, the champion it was first judged against, the label mark then, whether it was promoted, and its looks"
    def decide(self, champion, challenger, X, y, evidence=None):
        d = super().decide(champion, challenger, X, y, evidence)
        if champion is not None:
            seen = self.judged_.setdefault(id(challenger), [champion, challenger, int(X.index[-1]) + 1, False, []])
            seen[3] = seen[3] or bool(d.promote)
            v = d.sequential or {}
            seen[4].append((len(y), d.delta, v.get("mean"), v.get("radius"), d.status, v))
        return d


BINS = ("worse", "equal", "better", "much_better")
WHY = ("promoted", "dropped", "not_ahead", "moved_past", "open")   # how a challenger ended (`--why`)

def ended(event, looks, gate)->str:
    "How a challenger ended: promoted; dropped by the gate (its sequence, or the fixed test); superseded while pending, as not ahead or as moved past; or still pending when the stream ended"
    o = event.get("outcome")
    if o in ("promoted", "pending"): return "promoted" if o == "promoted" else "open"
    if o != "superseded": return "dropped"
    from ctml_nb.policy.sequential import Evidence
    ev, t = Evidence.from_dict(looks[-1][5].get("evidence")), gate.sequential_test()
    return "not_ahead" if ev.n >= t.min_rows and ev.mean <= t.min_delta else "moved_past"
def gain_bin(g, margin): return "worse" if g < 0 else "equal" if g < margin else "better" if g < 0.05 else "much_better"


SCORE = {"brier": "brier", "logloss": "log_loss"}

def run(df, feats, target, gate_kind, batch, later, window, model, initial, time_column=None, max_looks=20, margin=0.02,
        detail=False, why=False):
    gate, holdout = None, None
    if gate_kind != "none":
        seq = gate_kind.startswith("sequential") or gate_kind in SCORE
        gate = RecordingGate(n_boot=300, sequential=seq, max_looks=max_looks, sequential_score=SCORE.get(gate_kind),
                             test="none" if gate_kind == "point" else "bootstrap"); gate.judged_ = {}
        holdout = Holdout(min_test_rows=1) if seq and gate_kind != "sequential50" else Holdout()   # "sequential50": the fixed gate's holdout
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
    bins, gains, ends = {b: [0, 0] for b in BINS}, [], {}
    judged = list(gate.judged_.values()) if gate is not None else []
    for (champ, chal, mark, promoted, looks), event in zip(judged, res.events[len(res.events) - len(judged):]):
        rows = df.iloc[mark:mark + later]   # labelled after the challenger's first look: seen by neither model
        if len(rows) < later // 2: continue
        X, y = rows[feats], rows[target].to_numpy()
        g = float(np.mean(chal.predict(X) == y) - np.mean(champ.predict(X) == y))
        b = bins[gain_bin(g, margin)]; b[0] += promoted; b[1] += 1
        if promoted: gains.append(g)
        if g >= margin: ends.setdefault(ended(event, looks, gate), []).append(len(looks))
        if detail:
            trail = " ".join(f"{n}:{d:+.2f}" + ("" if m is None else f"/{m:+.3f}±{r:.3f}") for n, d, m, r, _, _ in looks)
            print(f"  row {mark:5d} later {g:+.3f} {'PROMOTED' if promoted else looks[-1][4]:9s} {trail}")
    if gate is not None: out.update({k: f"{p}/{n}" for k, (p, n) in bins.items()})
    out.update(promoted_later_gain=None if not gains else round(float(np.mean(gains)), 4))
    if why and gate is not None:   # the truly better challengers (later gain >= margin): how they ended, with their looks
        out.update({f"better_{k}": "/".join(map(str, ends.get(k, []))) or "-" for k in WHY})
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
    ap.add_argument("--later", type=int, default=365)
    ap.add_argument("--margin", type=float, default=0.02, help="later gain at which a challenger counts as truly better")
    ap.add_argument("--detail", action="store_true", help="print every challenger's looks, later gain and outcome")
    ap.add_argument("--why", action="store_true", help="for the truly better challengers: how each ended (promoted, dropped, "
                    "superseded as not ahead or moved past, open at the end), each as its number of looks")
    ap.add_argument("--models", default="logistic,forest")
    ap.add_argument("--max-looks", type=int, default=20, help="the sequential gate's max_looks")
    ap.add_argument("--tables", default="seattle-weather,phishing,bananas")
    ap.add_argument("--gates", default="fixed,sequential,brier,none")
    a = ap.parse_args()
    want, gates = a.tables.split(","), a.gates.split(",")
    print(f"gate_bench: later holdout {a.later} rows, truly better from +{a.margin:g}; load average {os.getloadavg()[0]:.2f}")
    rows = []
    for name, df, feats, target, tcol, batch, initial, windows in tables():
        if name not in want: continue
        print(f"{name}: {len(df)} rows, batches of {batch}, initial {initial} rows", flush=True)
        for make in (globals()[m] for m in a.models.split(",")):
            for w in windows:
                for g in gates:
                    rows.append({"table": name, **run(df, feats, target, g, batch, a.later, w, make(), initial, tcol, a.max_looks,
                                                      a.margin, a.detail, a.why)})
                    print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
