"""Pipeline overhead, side by side in one run: a skipped cycle, a full cycle, and papermill running as many bare notebooks.

    .venv/bin/python bench/pipeline_bench.py [--repeats 3]

The bare notebooks import the same libraries as the packaged templates and do nothing else: what is left of a cycle
over them is the runner's own cost (parameter checks, lock, records) and the steps' work. Targets (issue 5): a
skipped cycle <= 5 s; a full cycle, model fitting excluded, <= 1.5x the bare notebooks. Figures depend on the load of
the machine: the script prints the load average next to them.
"""
import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import papermill as pm

from ctml_nb.demo import demo_data
from ctml_nb.pipeline.runner import list_templates, run_cycle

IMPORTS = """\
from pathlib import Path
from IPython.display import display
import joblib
import pandas as pd
from ctml_nb.pipeline.batches import cycle_data
from ctml_nb.pipeline.config import feature_columns
from ctml_nb.data.snapshots import content_hash
from ctml_nb.pipeline.context import (champion, champion_state, champion_tags, cycle_state, open_context, pending_requests,
                              reference_detector, restore_trigger_state, retrain_candidate, save_trigger_state,
                              served_scores, training_split, promote_candidate)
from ctml_nb.pipeline.policy_config import build_gate, build_holdout, build_trigger
from ctml_nb.pipeline.runner import RunHeader, load_values, record
from ctml_nb.data.validation import DataSchema, infer_schema, validate
# what the steps import on first use: the data contract's readers, the drift test, the gate, the model
import pandera.pandas, pyarrow.parquet, pyarrow.dataset
from ctml_nb.drift.detector import DriftDetector
from ctml_nb.gate.promotion import PromotionPolicy
from sklearn.ensemble import RandomForestClassifier
"""

CONFIG = """\
name: bench
data: {source: live.csv, target: target, time_column: timestamp}
model:
  factory: sklearn.ensemble:RandomForestClassifier
  params: {n_estimators: 50, random_state: 0, n_jobs: 1}
triggers:
  - {kind: performance, params: {metric: accuracy, floor: 0.0, min_rows: 20}}
strategy: {kind: full, params: {window: 28D}}
promotion: {kind: gate, params: {metric: accuracy, n_boot: 500, latency_repeats: 3}}
timeout: 600
"""


def bare_notebooks(folder, n):
    "Papermill runs of `n` notebooks that only import what the templates import"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "python3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(IMPORTS)]
    src = Path(folder) / "bare.ipynb"
    nbformat.write(nb, src)
    t0 = time.perf_counter()
    for i in range(n):
        pm.execute_notebook(str(src), str(Path(folder) / f"bare_out_{i}.ipynb"), parameters={"x": i},
                            kernel_name="python3", progress_bar=False)
    return time.perf_counter() - t0


def one_round(folder):
    "Seconds of: a full cycle (and its fit), a skipped cycle, the same numbers of bare notebooks"
    folder = Path(folder)
    (folder / "pipeline.yaml").write_text(CONFIG)
    data = demo_data()
    data.iloc[:28 * 48].to_csv(folder / "live.csv", index=False)
    t0 = time.perf_counter()
    full = run_cycle(folder / "pipeline.yaml", progress=False)
    full_s = time.perf_counter() - t0
    assert full.status == "succeeded", full.reason
    fit_s = full.values["retrain"]["retrain"]["seconds"]
    data.iloc[:29 * 48].to_csv(folder / "live.csv", index=False)
    t0 = time.perf_counter()
    skipped = run_cycle(folder / "pipeline.yaml", progress=False)
    skip_s = time.perf_counter() - t0
    assert skipped.status == "skipped", skipped.reason
    n_steps = len(list_templates(Path(__import__("ctml_nb").__file__).parent / "templates"))
    return {"full": full_s, "fit": fit_s, "skipped": skip_s, "bare_full": bare_notebooks(folder, n_steps),
            "bare_skip": bare_notebooks(folder, 1), "steps": n_steps}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="rounds; medians are printed")
    args = ap.parse_args()
    rounds = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as d: rounds.append(one_round(d))
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    n = int(med["steps"])
    print(f"pipeline_bench: medians of {args.repeats} round(s); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"{'case':<48}{'seconds':>9}  target")
    print(f"{'skipped cycle (1 notebook)':<48}{med['skipped']:>9.1f}  <= 5 s")
    print(f"{'bare papermill notebook x1 (same imports)':<48}{med['bare_skip']:>9.1f}")
    print(f"{'skipped cycle / bare notebook':<48}{med['skipped'] / med['bare_skip']:>9.2f}x")
    print(f"{f'full cycle ({n} notebooks)':<48}{med['full']:>9.1f}")
    print(f"{'  of which model fitting':<48}{med['fit']:>9.1f}")
    print(f"{f'bare papermill notebooks x{n} (same imports)':<48}{med['bare_full']:>9.1f}")
    ratio = (med["full"] - med["fit"]) / med["bare_full"]
    print(f"{'full cycle without fitting / bare notebooks':<48}{ratio:>9.2f}x  <= 1.5x")


if __name__ == "__main__":
    main()
