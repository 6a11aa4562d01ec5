"""The champion's performance estimator fitted once and kept (issue 24): what a check step pays per cycle.

Before, every check refitted `PerformanceEstimator` on the champion's reference rows (the out-of-fold calibration
check, or a gradient-boosted model of the loss). Now the pipeline fits it once per champion (again only when its
reference rows doubled) and keeps it as signed JSON (`ctml_nb.pipeline.estimators`); a cycle loads it. This prints, on
public data bundled with the package (Elec2: its class, and its demand column for regression), the CPU seconds
of a fit and of a load (`read_signed` + `json.loads` + `PerformanceEstimator.from_dict`), the file size, and whether
the loaded estimator gives the same estimate, with the load average. Reference: the same estimate, a load far below a fit.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ctml_nb.drift.estimate import PerformanceEstimator
from ctml_nb.registry.model_files import read_signed, write_signed


def cpu(f, n:int=3):
    "Least CPU seconds of `n` calls of `f`, and its last result"
    best, out = float("inf"), None
    for _ in range(n):
        t = time.process_time(); out = f(); best = min(best, time.process_time() - t)
    return best, out


def case(name, model, X, y, metric, ref_rows:int=2000):
    tr, ref, new = slice(0, len(X) // 2), slice(len(X) // 2, len(X) // 2 + ref_rows), slice(len(X) // 2 + ref_rows, None)
    model.fit(X.iloc[tr], y[tr])
    fit_s, est = cpu(lambda: PerformanceEstimator(metric).fit(model, X.iloc[ref], y[ref]))
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "estimators" / "v1.json"; p.parent.mkdir()
        write_signed(p, json.dumps({"estimator": est.to_dict()}, allow_nan=False).encode(), key)
        load_s, back = cpu(lambda: PerformanceEstimator.from_dict(json.loads(read_signed(p, key, "estimator", ""))["estimator"], model))
        size = p.stat().st_size
    same = est.estimate(X.iloc[new]).to_dict() == back.estimate(X.iloc[new]).to_dict()
    return {"case": name, "metric": metric, "reference_rows": ref_rows, "fit_cpu_s": round(fit_s, 3),
            "load_cpu_s": round(load_s, 4), "file_kb": round(size / 1024, 1), "same_estimate": same}


def main(argv=None):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import Ridge
    from ctml_nb.data.datasets import load_elec2
    e = load_elec2()
    Xe, ye = e.drop(columns=["target", "timestamp"], errors="ignore").select_dtypes("number"), e["target"].to_numpy()
    rows = [case("elec2 random forest", RandomForestClassifier(50, min_samples_leaf=3, random_state=0, n_jobs=1), Xe, ye, "accuracy"),
            case("elec2 gradient boosting", HistGradientBoostingClassifier(random_state=0), Xe, ye, "accuracy")]
    Xr = Xe.drop(columns=["nswdemand"])   # regression on the same public table: New South Wales demand from the rest
    rows.append(case("elec2 nswdemand ridge (DLE)", Ridge(), Xr, Xe["nswdemand"].to_numpy(), "mae"))
    for r in rows: print(json.dumps(r) + f"  load average {os.getloadavg()[0]:.1f}")
    return 0 if all(r["same_estimate"] for r in rows) else 1


if __name__ == "__main__": sys.exit(main())
