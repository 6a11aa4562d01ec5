"""`ctml tune` with late labels: does the tuner choose the estimated-performance trigger, and does it pay?

Each stream (public data shipped inside the package or a PyPI package: no download) becomes a pipeline project: the
features with a key and a time column in one table, the labels in a label feed (`data.labels`) that delivers each
row's label D batches after its row. `ctml tune --config` replays those delays (the feed's own arrival times). With
labels late, the tuner adds estimated-performance candidates (`policy.tune_space.estimated_space`) to its default
space; the bench runs the tuner twice on the same project, with and without them, and reports what it chose, its
utility on the later part of the history (metric - cost x retrains / batches), and the gain the estimated
candidates bring there. With D = 0 the space is the usual one (no estimated candidates: the realised metric is on time).

Usage (from the repository root, with the project's venv):
    python bench/late_labels_tune_bench.py [--delays 0,10] [--streams elec2,weather] [--cost 0.002] [--json out.json]
    python bench/late_labels_tune_bench.py --head-to-head   # estimated vs realised drops on the later part, labels late
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
name: {name}
data:
  source: live.csv
  target: y
  time_column: t
  labels: {{source: labels, key: id, label: y, time: arrived_at}}
model:
  factory: {factory}
  params: {params}
promotion: {{kind: gate, params: {{metric: accuracy}}}}
triggers:
  - {{kind: interval, params: {{rows: {every}}}}}
"""


def _elec2():
    "Elec2 (bundled with ctml_nb), first 12,000 half-hours, time order"
    from ctml_nb.data.datasets import load_elec2
    df = load_elec2().iloc[:12000]
    return df.drop(columns=["target", "timestamp"]), df["target"].astype(str), pd.to_datetime(df["timestamp"])

def _weather():
    "Seattle's daily weather 2012-2015 (vega_datasets, local file), 5 classes"
    from vega_datasets import local_data
    w = local_data.seattle_weather()
    return w.drop(columns=["weather", "date"]).assign(month=w["date"].dt.month), w["weather"].astype(str), w["date"]

STREAMS = {   # name -> (loader, rows per batch, model factory, its parameters)
    "elec2": (_elec2, 240, "sklearn.tree:DecisionTreeClassifier", "{max_depth: 8, random_state: 0}"),
    "weather": (_weather, 30, "sklearn.tree:DecisionTreeClassifier", "{max_depth: 6, random_state: 0}"),
}


def project(where:Path, name:str, delay:int)->Path:
    "A pipeline project: features, key and time in live.csv; labels in labels/all.csv, each `delay` batches late"
    load, b, factory, params = STREAMS[name]
    X, y, t = load()
    live = X.assign(id=np.arange(len(X)), t=t.to_numpy())
    step = pd.Series(t).diff().median()   # rows are evenly spaced in time: a batch of b rows spans b steps
    arrived = t.to_numpy() + delay * b * step
    where.mkdir(parents=True, exist_ok=True); (where / "labels").mkdir(exist_ok=True)
    live.to_csv(where / "live.csv", index=False)
    pd.DataFrame({"id": live["id"], "y": y.to_numpy(), "arrived_at": arrived}).sample(frac=1, random_state=0).to_csv(
        where / "labels" / "all.csv", index=False)
    (where / "pipeline.yaml").write_text(CONFIG.format(name=name, factory=factory, params=params, every=10 * b))
    # the history `ctml tune --history` replays: features with their labels (the feed gives the arrival times)
    live.assign(y=y.to_numpy()).to_csv(where / "history.csv", index=False)
    return where / "pipeline.yaml"


def tune(cfg:Path, b:int, cost:float, estimated:bool=True)->dict:
    "`ctml tune --json` on the project; `estimated=False` leaves the estimated candidates out of the space"
    import ctml_nb.policy.tune as tune_mod
    from ctml_nb.cli import main
    real = tune_mod.estimated_space
    if not estimated: tune_mod.estimated_space = lambda *a, **k: []
    out, t0 = io.StringIO(), time.process_time()
    try:
        with contextlib.redirect_stdout(out):
            rc = main(["tune", "--config", str(cfg), "--history", str(cfg.parent / "history.csv"), "--batch-rows", str(b),
                       "--retrain-cost", str(cost), "--json", "--no-progress"])
    finally: tune_mod.estimated_space = real
    if rc != 0: raise SystemExit(f"ctml tune exited {rc}: {out.getvalue()[-2000:]}")
    s = json.loads(out.getvalue())["summary"]
    return {"chosen": s["chosen"], "later_utility": s["later"]["utility"], "later_metric": s["later"]["metric"],
            "later_retrains": s["later"]["retrains"], "best_baseline": s["best_baseline"]["policy"],
            "margin": s["margin"], "candidates": s["candidates_tried"], "cpu_s": time.process_time() - t0}


def head_to_head(cfg:Path, b:int, cost:float)->list:
    """On the later part, replayed with the same late labels: each estimated drop against the same realised drop (it waits
    for the labels) and never retraining, the policies the tuner chooses among (`tune_config`, as `ctml tune` runs it)"""
    from ctml_nb.pipeline.config import load_config
    from ctml_nb.pipeline.tuning import tune_config
    import ctml_nb.policy.tune as tune_mod
    c = load_config(cfg)
    hist = pd.read_csv(cfg.parent / "history.csv")
    real = tune_mod.refine_space
    tune_mod.refine_space = lambda *a, **k: []   # the first round holds every candidate compared here
    try: r = tune_config(c, cost, hist, progress=False, batch_rows=b)
    finally: tune_mod.refine_space = real
    names = [k for k in r.candidates if k == "never" or k.startswith(("estimated_performance(accuracy, max_drop=",
                                                                      "performance(accuracy, max_drop="))]
    cmp = r._later.run([r.candidates[k] for k in names])
    u = cmp.utility(cost)
    return [{"policy": k, "later_utility": float(u[k]), "later_metric": cmp.results[k].totals["metric"],
             "retrains": cmp.results[k].totals["retrains"]} for k in names]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delays", default="0,10", help="label delays in batches (comma-separated)")
    ap.add_argument("--streams", default="weather,elec2")
    ap.add_argument("--cost", type=float, default=0.002, help="retrain cost, in accuracy per retrain per batch")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--head-to-head", action="store_true", help="only: estimated vs realised drops on the later part, labels late")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    rows = []
    if a.head_to_head:
        with tempfile.TemporaryDirectory() as tmp:
            for name in a.streams.split(","):
                for d in [int(x) for x in a.delays.split(",") if int(x)]:
                    t = pd.DataFrame(head_to_head(project(Path(tmp) / f"{name}-{d}", name, d), STREAMS[name][1], a.cost))
                    print(f"\n{name}, labels {d} batches late, later part (cost {a.cost:g}):")
                    print(t.to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True)
                    rows.append({"stream": name, "delay": d, "policies": t.to_dict(orient="records")})
        load = os.getloadavg()
        print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        if a.json: Path(a.json).write_text(json.dumps(rows, indent=1, default=str))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.streams.split(","):
            for d in map(int, a.delays.split(",")):
                cfg = project(Path(tmp) / f"{name}-{d}", name, d)
                b = STREAMS[name][1]
                r = {"stream": name, "delay": d, **tune(cfg, b, a.cost)}
                if d:   # the same search without the estimated candidates: what they add on the later part
                    r0 = tune(cfg, b, a.cost, estimated=False)
                    r.update(without_chosen=r0["chosen"], without_utility=r0["later_utility"],
                             gain=r["later_utility"] - r0["later_utility"], cpu_s=r["cpu_s"] + r0["cpu_s"])
                r["estimated_chosen"] = "estimated_performance" in r["chosen"]
                rows.append(r)
                print(json.dumps(r, default=str), flush=True)
    t = pd.DataFrame(rows)
    cols = [c for c in ("stream", "delay", "chosen", "estimated_chosen", "later_metric", "later_retrains", "later_utility",
                        "without_chosen", "without_utility", "gain", "candidates", "cpu_s") if c in t]
    with pd.option_context("display.width", 250, "display.max_colwidth", 60):
        print(t[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if a.json: Path(a.json).write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
