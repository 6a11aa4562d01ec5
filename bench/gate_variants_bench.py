"""What-if variants of the sequential gate (issue 25's unmet target): would another supersession rule or a larger out-of-time holdout promote the truly better challengers at 30-row batches?

The library's rule (`ctml_nb.policy.loop.pending_retrain`) lets a fired trigger supersede a pending challenger when it
is not ahead after `min_test_rows` paired rows, or its edge is gone on the newest rows (`SequentialTest.moved_past`).
`bench/gate_bench.py --why` shows that on seattle-weather most truly better challengers end that way, before the
sequence decides. The variants below are NOT in the library: this bench swaps them into the backtester (it replaces
the backtest module's `pending_retrain`, and, for `refit`, wraps its replay's retrain step), so only this process sees
them. Every variant uses the sequential gate with Brier evidence and a trigger that fires every batch, as
`gate_bench.py`'s `brier` gate does, except the holdout variants:

  rule          the library's rule (the baseline; its moved-past test at alpha / max_looks)
  request       only an on-demand request supersedes: a pending challenger stays until its sequence decides, or
                `max_looks` (20) / `max_rows` (1000)
  score         "not ahead" needs the Brier evidence to be behind too (mean Brier improvement <= 0), moved past unchanged
  ahead         "not ahead" only (no moved-past rule)
  perlook       the rule before issue 25's fix: the moved-past test at alpha at every look (no control over the looks)
  patient       "not ahead" only from 200 paired rows (`rows_for`, where the sequence is tightest), moved past unchanged
  holdout150    the fixed gate judged once on the newest 150 labelled rows (`Holdout(rows=150)`; 5 batches, all out of
                sample for both models), the challenger trained without them
  refit150      the same, and a promoted challenger refitted on every labelled row before it goes live (the refit is
                what is then scored on the later holdout); the first model too
  holdout90, refit90   the same with 90 rows

Printed per table, model and window, for each variant: accuracy, retrains, promotions, and later-gain bins as in
`gate_bench.py` (promoted/challengers: worse, equal, better, much better), the truly better challengers' ends
(`gate_bench.ended`: promoted, dropped, not_ahead, moved_past, open; each as its number of looks), CPU seconds, and the
load average. Totals over the tables close the output.

Usage:  python bench/gate_variants_bench.py [--variants perlook,rule,request,score,ahead,patient,holdout150,refit150]
                                            [--tables seattle-weather,phishing,bananas] [--models logistic,forest]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import gate_bench as gb   # noqa: E402

from ctml_nb.policy import loop   # noqa: E402
from ctml_nb.policy.backtest import Policy, backtest   # noqa: E402
from ctml_nb.policy.sequential import Evidence   # noqa: E402
from ctml_nb.policy.strategies import FullRetrain   # noqa: E402
from ctml_nb.policy.triggers import IntervalTrigger   # noqa: E402

BT = sys.modules["ctml_nb.policy.backtest"]   # the module (the package exports the function `backtest` under that name)
RULE = loop.pending_retrain


def only_request(gate, verdict, requested):
    "Supersede on an on-demand request only"
    return (True, "an on-demand request asked for a retrain") if requested else (False, "pending: its sequence decides")

def score_aware(gate, verdict, requested):
    "The library's rule, but 'not ahead' needs the proper score's evidence to be behind too"
    if requested: return True, "an on-demand request asked for a retrain"
    ev, t = Evidence.from_dict(verdict.get("evidence")), gate.sequential_test()
    if ev.n >= t.min_rows and ev.mean <= t.min_delta and (t.score is None or ev.score_mean <= 0): return True, "not ahead"
    return t.moved_past(ev)

def ahead_only(gate, verdict, requested):
    "The library's 'not ahead' rule without the moved-past rule"
    if requested: return True, "an on-demand request asked for a retrain"
    ev, t = Evidence.from_dict(verdict.get("evidence")), gate.sequential_test()
    return (ev.n >= t.min_rows and ev.mean <= t.min_delta), "not ahead"

def patient(gate, verdict, requested):
    "The library's rule, but 'not ahead' only from `rows_for` (200) paired rows, where the sequence is tightest"
    if requested: return True, "an on-demand request asked for a retrain"
    ev, t = Evidence.from_dict(verdict.get("evidence")), gate.sequential_test()
    if ev.n >= max(t.min_rows, t.rows_for) and ev.mean <= t.min_delta: return True, "not ahead"
    return t.moved_past(ev)

def per_look(gate, verdict, requested):
    "The rule before issue 25's fix: the moved-past z-test at alpha at every look, each part with its own standard deviation"
    if requested: return True, "an on-demand request asked for a retrain"
    ev, t = Evidence.from_dict(verdict.get("evidence")), gate.sequential_test()
    if ev.n >= t.min_rows and ev.mean <= t.min_delta: return True, "not ahead"
    (n1, m1, s1), (n0, m0, s0) = ev.diffs(True), ev.diffs(False)
    if ev.looks < 2 or n1 < 2 or n0 < 2: return False, "one look only"
    from scipy.stats import norm
    se = math.sqrt(s0 ** 2 / n0 + s1 ** 2 / n1)
    z = (m0 - m1) / se if se > 0 else (math.inf if m0 > m1 else 0.0)
    return bool(z > norm.ppf(1 - t.alpha) and m1 <= t.min_delta), "moved past"

SUPERSEDE = {"perlook": per_look, "rule": RULE, "request": only_request, "score": score_aware, "ahead": ahead_only, "patient": patient}


def with_refit(replay_cls):
    "Wrap the replay's retrain step: a challenger the gate promoted is refitted on every labelled row before it goes live"
    orig = replay_cls.retrain
    def retrain(self, e, mark, new_labelled, rec, decision):
        go_live = self.go_live
        def refit_go_live(model, version, e_, end, res, gd=None):
            if end >= mark: return go_live(model, version, e_, end, res, gd)
            times = None if self.times is None else self.times[:mark]
            r2 = loop.retrain_model(self.strategy, self.live, self.model, self.X.iloc[:mark], self.y[:mark], times=times)
            judged = getattr(self.policy.gate, "judged_", {})
            if id(model) in judged: judged[id(model)][1] = r2.model   # the refit is what goes live and is scored later
            return go_live(r2.model, version, e_, mark, r2, gd)
        self.go_live = refit_go_live
        try: return orig(self, e, mark, new_labelled, rec, decision)
        finally: del self.go_live
    return orig, retrain


def holdout_run(df, feats, target, rows, refit, batch, later, window, model, initial, tcol, margin):
    "The fixed gate on the newest `rows` labelled rows (optionally refitting a promoted challenger on all rows)"
    gate = gb.RecordingGate(n_boot=300); gate.judged_ = {}
    pol = Policy(f"holdout{rows}", IntervalTrigger(rows=batch), FullRetrain(window=window), gate, loop.Holdout(rows=rows))
    orig, patched = with_refit(BT._Replay)
    if refit: BT._Replay.retrain = patched
    try:
        t0 = time.process_time()
        cols = feats + ([tcol] if tcol else []) + [target]
        res = backtest(df[cols], target, model, pol, batch_size=batch, initial_rows=initial, time_column=tcol,
                       recent_rows="new", initial="cycle", progress=False)
        cpu = time.process_time() - t0
    finally: BT._Replay.retrain = orig
    s, fr = res.summary(), res.to_frame()
    bins, ends = {b: [0, 0] for b in gb.BINS}, {}
    judged = list(gate.judged_.values())
    for (champ, chal, mark, promoted, looks), event in zip(judged, res.events[len(res.events) - len(judged):]):
        rows_ = df.iloc[mark:mark + later]
        if len(rows_) < later // 2: continue
        X, y = rows_[feats], rows_[target].to_numpy()
        g = float(np.mean(chal.predict(X) == y) - np.mean(champ.predict(X) == y))
        b = bins[gb.gain_bin(g, margin)]; b[0] += promoted; b[1] += 1
        if g >= margin: ends.setdefault("promoted" if promoted else "dropped", []).append(len(looks))
    out = {"accuracy": round(s["metric"], 4), "retrains": s["retrains"] - 1, "promoted": int(fr["promoted"].iloc[1:].sum()),
           "cpu_s": round(cpu, 1), **{k: f"{p}/{n}" for k, (p, n) in bins.items()}}
    out.update({f"better_{k}": "/".join(map(str, ends.get(k, []))) or "-" for k in gb.WHY})
    return out


def variant_run(v, df, feats, target, batch, later, window, model, initial, tcol, margin):
    if v.startswith(("holdout", "refit")):
        return holdout_run(df, feats, target, int(v.removeprefix("holdout").removeprefix("refit")), v.startswith("refit"),
                           batch, later, window, model, initial, tcol, margin)
    BT.pending_retrain = SUPERSEDE[v]
    try: return gb.run(df, feats, target, "brier", batch, later, window, model, initial, tcol, 20, margin, why=True)
    finally: BT.pending_retrain = RULE


def totals(frame:pd.DataFrame)->pd.DataFrame:
    "Per variant: the later-gain bins summed over the tables, and the mean accuracy"
    def add(col): return "/".join(str(sum(int(x.split("/")[i]) for x in col if isinstance(x, str))) for i in (0, 1))
    return frame.groupby("variant", sort=False).agg(accuracy=("accuracy", "mean"), retrains=("retrains", "sum"),
                                                    **{b: (b, add) for b in gb.BINS}).round(4)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default="perlook,rule,request,score,ahead,patient,holdout150,refit150")
    ap.add_argument("--tables", default="seattle-weather,phishing,bananas")
    ap.add_argument("--models", default="logistic,forest")
    ap.add_argument("--later", type=int, default=365)
    ap.add_argument("--margin", type=float, default=0.02)
    a = ap.parse_args()
    want, variants = a.tables.split(","), a.variants.split(",")
    print(f"gate_variants_bench: later holdout {a.later} rows, truly better from +{a.margin:g}; load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for name, df, feats, target, tcol, batch, initial, windows in gb.tables():
        if name not in want: continue
        for m in a.models.split(","):
            for w in windows:
                for v in variants:
                    r = variant_run(v, df, feats, target, batch, a.later, w, getattr(gb, m)(), initial, tcol, a.margin)
                    rows.append({"table": name, "model": m, "window": w, "variant": v, **{k: r[k] for k in (
                        "accuracy", "retrains", "promoted", *gb.BINS, *(f"better_{x}" for x in gb.WHY), "cpu_s")}})
                    print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False))
    print(totals(frame).to_string())
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
