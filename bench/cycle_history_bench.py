"""A cycle's cost against the size of the history, side by side in one run: a folder of daily parquet files holding
10,000 and 1,000,000 rows, a skipped and a full cycle on each, and a bare papermill notebook with the same imports.

    .venv/bin/python bench/cycle_history_bench.py [--sizes 10000 1000000] [--repeats 2]

A cycle reads the new day and the rows labelled since the last check; a retrain reads its strategy's window (2 days
here, smaller than either history). Targets (issue 10): each cycle on 1M rows within 1.2x of the same cycle on 10k
rows, and a skipped cycle within 1.2x of a bare papermill notebook with the same imports. The machine is shared:
the load average is printed beside the figures; each figure is the median of `--repeats` cycles.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_bench import bare_notebooks  # noqa: E402  (the same bare notebook as the pipeline bench)

from ctml_nb.pipeline.runner import request_retrain, run_cycle  # noqa: E402
from ctml_nb.pipeline.config import load_config  # noqa: E402

DAY = 1440  # one row a minute

CONFIG = """\
name: bench
data: {source: days, target: target, time_column: timestamp}
model:
  factory: sklearn.ensemble:RandomForestClassifier
  params: {n_estimators: 20, max_depth: 8, random_state: 0, n_jobs: 1}
triggers:
  - {kind: performance, params: {metric: accuracy, floor: 0.0, min_rows: 20}}
strategy: {kind: full, params: {window: 2D}}
promotion: {kind: gate, params: {metric: accuracy, n_boot: 200, latency_repeats: 3}}
timeout: 600
"""


def day_frame(day:int, rng)->pd.DataFrame:
    "One day of an Elec2-like stream: six features and a 0/1 target"
    t = pd.Timestamp("2020-01-01") + pd.Timedelta(days=day) + pd.to_timedelta(np.arange(DAY), unit="min")
    X = rng.normal(size=(DAY, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 0.5, DAY) > 0).astype(int)
    return pd.DataFrame({"timestamp": t, **{f"f{i}": X[:, i] for i in range(6)}, "target": y})


def project(folder:Path, rows:int):
    "A pipeline whose source is a folder of daily parquet files holding `rows` rows, with its first model trained"
    (folder / "days").mkdir(parents=True)
    rng = np.random.default_rng(0)
    days = -(-rows // DAY)
    for d in range(days):
        f = day_frame(d, rng)
        if d == days - 1: f = f.iloc[:rows - d * DAY] if rows - d * DAY > 0 else f
        f.to_parquet(folder / "days" / f"{d:05d}.parquet", index=False)
    (folder / "pipeline.yaml").write_text(CONFIG)
    cfg = load_config(folder / "pipeline.yaml")
    first = run_cycle(cfg, progress=False)
    assert first.status == "succeeded", first.reason
    return cfg, days, rng


def timed_cycles(cfg, folder:Path, days:int, rng, repeats:int)->dict:
    "Median seconds of a skipped cycle and of a full cycle, each after a new day arrived"
    out = {"skipped": [], "full": [], "read": []}
    for i in range(repeats):
        for kind in ("skipped", "full"):
            day_frame(days, rng).to_parquet(folder / "days" / f"{days:05d}.parquet", index=False); days += 1
            if kind == "full": request_retrain(cfg, "bench: a full cycle")
            t0 = time.perf_counter()
            rec = run_cycle(cfg, progress=False)
            out[kind].append(time.perf_counter() - t0)
            assert rec.status == ("succeeded" if kind == "full" else "skipped"), rec.reason
            out["read"].append(rec.values["check"]["data"]["rows_read"])
    return {k: statistics.median(v) for k, v in out.items()} | {"days": days}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000], help="history sizes in rows")
    ap.add_argument("--repeats", type=int, default=2, help="cycles of each kind per size; medians are printed")
    args = ap.parse_args()
    res = {}
    with tempfile.TemporaryDirectory() as d:
        for n in args.sizes:
            folder = Path(d) / f"h{n}"
            cfg, days, rng = project(folder, n)
            res[n] = timed_cycles(cfg, folder, days, rng, args.repeats)
        bare = statistics.median(bare_notebooks(d, 1) for _ in range(args.repeats))
    print(f"cycle_history_bench: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; medians of "
          f"{args.repeats} cycle(s) each; a folder of daily parquet files, {DAY} rows a day")
    print(f"{'history rows':>14}{'files':>8}{'rows read by a check':>22}{'skipped cycle s':>17}{'full cycle s':>14}")
    for n, r in res.items():
        print(f"{n:>14,}{r['days']:>8}{int(r['read']):>22,}{r['skipped']:>17.2f}{r['full']:>14.2f}")
    lo, hi = res[min(res)], res[max(res)]
    print(f"skipped cycle, {max(res):,} / {min(res):,} rows: {hi['skipped'] / lo['skipped']:.2f}x   (target <= 1.2x)")
    print(f"full cycle,    {max(res):,} / {min(res):,} rows: {hi['full'] / lo['full']:.2f}x   (target <= 1.2x)")
    print(f"bare papermill notebook with the same imports: {bare:.2f} s; skipped cycle on {max(res):,} rows / bare: "
          f"{hi['skipped'] / bare:.2f}x   (target <= 1.2x)")


if __name__ == "__main__":
    main()
