"""Paired-bootstrap benchmark: ctml-nb's vectorised resampling against scipy.stats.bootstrap and a plain sklearn loop.

One run prints, side by side, for the same champion/challenger predictions on N test rows (default 5,000) and
B resamples (default 2,000): median wall time, CPU time, peak extra memory and the 95% interval of the difference,
for

  (a) ctml-nb paired_bootstrap            accuracy, f1, roc_auc, log_loss (one vectorised pass per metric)
  (b) scipy.stats.bootstrap(paired=True)  percentile method: accuracy with a vectorised statistic; roc_auc and f1
                                          with a statistic that calls scikit-learn once per resample
  (c) plain loop                          numpy index resampling + scikit-learn on each resample
  (d) scipy BCa (scipy's default method)  accuracy, to show the cost of its jackknife (O(N^2))
  (e) ctml-nb PromotionPolicy.decide      the whole gate: 5 metrics x 2 models bootstrapped, primary check

Intervals should agree within Monte-Carlo error (different random resamples). There is no target in the issue;
the figures go to the README.

Usage (from the repository root, with the project's venv):
    python bench/evaluation_bench.py                 # N=5000, B=2000, 3 repeats
    python bench/evaluation_bench.py --rows 1000 --boot 500 --repeats 1   # a quick smoke run
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from scipy import stats
from sklearn import metrics as skm
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from _memory import peak_kb, reset_peak, rss_kb  # bench/_memory.py
from ctml_nb.gate.evaluation import paired_bootstrap
from ctml_nb.gate.promotion import PromotionPolicy


def timed(f, repeats):
    "Median wall seconds, median CPU seconds, extra peak kB and the last result of `repeats` calls of `f`"
    walls, cpus, out = [], [], None
    base, ok = rss_kb(), reset_peak()
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = f()
        walls.append(time.perf_counter() - w); cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), max(0, peak_kb(ok) - base), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    n, B = a.rows, a.boot
    print(f"load average at start: {os.getloadavg()[0]:.2f}; N={n:,} test rows, B={B:,} resamples")

    X, y = make_classification(n + 2000, n_features=10, n_informative=5, flip_y=0.1, random_state=0)
    champ = LogisticRegression().fit(X[:1000, :5], y[:1000])
    chall = LogisticRegression().fit(X[1000:2000], y[1000:2000])
    Xt, yt = X[2000:], y[2000:]

    class First5:  # the champion sees the first five features only
        def __init__(self, m): self.m, self.classes_ = m, m.classes_
        def predict(self, X): return self.m.predict(X[:, :5])
        def predict_proba(self, X): return self.m.predict_proba(X[:, :5])
    champ = First5(champ)
    pa, pb = champ.predict(Xt), chall.predict(Xt)
    sa, sb = champ.predict_proba(Xt)[:, 1], chall.predict_proba(Xt)[:, 1]

    def scipy_boot(data, stat, vectorized, method="percentile"):
        r = stats.bootstrap(data, stat, paired=True, vectorized=vectorized, n_resamples=B, method=method,
                            rng=np.random.default_rng(0))
        return (r.confidence_interval.low, r.confidence_interval.high)

    def loop(f, ya, yb):
        rng, d = np.random.default_rng(0), np.empty(B)
        for i in range(B):
            idx = rng.integers(0, n, n)
            d[i] = f(yt[idx], yb[idx]) - f(yt[idx], ya[idx])
        return tuple(np.percentile(d, [2.5, 97.5]))

    ca, cb = (pa == yt).astype(float), (pb == yt).astype(float)
    rows = [
        ("(a) ctml-nb", "accuracy", lambda: paired_bootstrap(yt, pa, pb, "accuracy", B).interval),
        ("(a) ctml-nb", "f1", lambda: paired_bootstrap(yt, pa, pb, "f1", B).interval),
        ("(a) ctml-nb", "roc_auc", lambda: paired_bootstrap(yt, sa, sb, "roc_auc", B).interval),
        ("(a) ctml-nb", "log_loss", lambda: paired_bootstrap(yt, sa, sb, "log_loss", B).interval),
        ("(b) scipy percentile", "accuracy",
         lambda: scipy_boot((ca, cb), lambda u, v, axis: v.mean(axis) - u.mean(axis), True)),
        ("(b) scipy percentile", "f1",
         lambda: scipy_boot((yt, pa, pb), lambda t, u, v: skm.f1_score(t, v) - skm.f1_score(t, u), False)),
        ("(b) scipy percentile", "roc_auc",
         lambda: scipy_boot((yt, sa, sb), lambda t, u, v: skm.roc_auc_score(t, v) - skm.roc_auc_score(t, u), False)),
        ("(c) numpy + sklearn loop", "f1", lambda: loop(skm.f1_score, pa, pb)),
        ("(c) numpy + sklearn loop", "roc_auc", lambda: loop(skm.roc_auc_score, sa, sb)),
        ("(d) scipy BCa", "accuracy",
         lambda: scipy_boot((ca, cb), lambda u, v, axis: v.mean(axis) - u.mean(axis), True, "BCa")),
        ("(e) ctml-nb PromotionPolicy.decide", "5 metrics",
         lambda: PromotionPolicy(n_boot=B).decide(champ, chall, Xt, yt).interval),
    ]
    print(f"\n{'case':36} {'metric':10} {'wall s':>8} {'cpu s':>8} {'extra MB':>9}   95% interval of the difference")
    for case, metric, f in rows:
        wall, cpu, kb, ci = timed(f, a.repeats)
        print(f"{case:36} {metric:10} {wall:8.3f} {cpu:8.3f} {kb / 1024:9.1f}   [{ci[0]:+.4f}, {ci[1]:+.4f}]")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
