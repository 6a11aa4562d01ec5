"""Overhead of ctml-nb's detector adapter and performance trigger over a plain river loop.

Feeds the same 0/1 error stream (an error rate that steps 10% -> 30% -> 15% every third of the stream, seeded) to
river's ADWIN and DDM three ways, and prints seconds, values per second, the overhead against the plain loop, and
whether the drift positions agree:

- `river loop`: `for x in errors: det.update(x); if det.drift_detected: ...` (the reference);
- `run_detector`: `ctml_nb.drift.streaming.run_detector(det, errors)` in one call;
- `PerformanceTrigger`: `PerformanceTrigger(detector=...).check(ModelState(errors=batch))` on batches of `--batch`
  rows (48 = one Elec2 day), as a backtest or a pipeline calls it.

Also `ThresholdDetector` (ctml-nb's rolling-threshold detector) through `run_detector`.

Usage: .venv/bin/python bench/trigger_bench.py [--rows 200000] [--batch 48] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np


def stream(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = n // 3
    rates = np.r_[np.full(k, 0.10), np.full(k, 0.30), np.full(n - 2 * k, 0.15)]
    return (rng.random(n) < rates).astype(int)


def best_of(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    from ctml_nb.drift.streaming import ThresholdDetector, make_detector, run_detector
    from ctml_nb.policy.drift_triggers import PerformanceTrigger
    from ctml_nb.policy.triggers import ModelState

    errs = stream(a.rows)
    as_list = errs.tolist()
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {a.rows:,} errors, batches of {a.batch}, best of {a.repeats}")
    print(f"{'detector':<18}{'way':<22}{'seconds':>9}{'values/s':>12}{'overhead':>10}  drifts (first 3)  same")

    def river_loop(name):
        det, drifts = make_detector(name), []
        binary = name in ("ddm", "eddm")
        for i, x in enumerate(as_list):
            det.update(bool(x) if binary else x)
            if det.drift_detected: drifts.append(i)
        return drifts

    def adapter(name):
        return run_detector(make_detector(name), errs).drifts

    def trigger(name):
        t, drifts = PerformanceTrigger(detector=name), []
        for s in range(0, a.rows, a.batch):
            d = t.check(ModelState(rows_seen=s + a.batch, errors=errs[s:s + a.batch]))
            if d.retrain: drifts += d.evidence[t.label]["drift_positions"]
        return drifts

    for name in ("adwin", "ddm"):
        base_t, base_d = best_of(lambda: river_loop(name), a.repeats)
        for way, fn in (("river loop", river_loop), ("run_detector", adapter), (f"PerformanceTrigger/{a.batch}", trigger)):
            sec, d = (base_t, base_d) if fn is river_loop else best_of(lambda: fn(name), a.repeats)
            print(f"{name:<18}{way:<22}{sec:>9.3f}{a.rows / sec:>12,.0f}{sec / base_t:>9.2f}x  {str(d[:3]):<17} "
                  f"{'yes' if d == base_d else 'NO'}")
    sec, d = best_of(lambda: run_detector(ThresholdDetector(0.25, warning=0.2, window=500), errs).drifts, a.repeats)
    print(f"{'threshold':<18}{'run_detector':<22}{sec:>9.3f}{a.rows / sec:>12,.0f}{'':>10}  {str(d[:3]):<17}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
