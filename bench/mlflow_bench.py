"""The MLflow registry's cost, side by side with the file registry: a pipeline cycle on each, and `ctml registry list`.

    .venv/bin/python bench/mlflow_bench.py [--repeats 3] [--versions 50]

(1) A first cycle (train, gate, register, promote) then a retrain cycle of the same pipeline (demo data, a small
    forest), once with `registry: registry` (files) and once with `registry: {kind: mlflow, tracking_uri:
    sqlite:///mlflow.db}` in a fresh folder; wall seconds and CPU seconds (this process and every kernel it started).
    Target (issue 23): an MLflow cycle costs at most 1.5x a file-registry cycle.
(2) `ctml registry list` (a new process, as a user types it) on an MLflow store holding `--versions` versions of one
    model. Target: under 3 s on 50 versions.
Figures depend on the load of the machine: the script prints the load average next to them.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ctml_nb.demo import demo_data
from ctml_nb.pipeline.runner import run_cycle

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """\
name: bench
data: {{source: live.csv, target: target, time_column: timestamp}}
model:
  factory: sklearn.ensemble:RandomForestClassifier
  params: {{n_estimators: 20, random_state: 0, n_jobs: 1}}
triggers:
  - {{kind: performance, params: {{metric: accuracy, floor: 1.0, min_rows: 20}}}}
strategy: {{kind: full, params: {{window: 28D}}}}
promotion: {{kind: gate, params: {{metric: accuracy, n_boot: 200, latency_repeats: 2, min_delta: -1.0, test: none}}}}
registry: {registry}
timeout: 600
"""
BACKENDS = {"file": "registry", "mlflow": "{kind: mlflow, tracking_uri: 'sqlite:///mlflow.db'}"}


def cpu()->float:
    "CPU seconds of this process and of its waited-for children (the steps' kernels)"
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def cycles(folder:Path, backend:str)->dict:
    "Wall and CPU seconds of a first cycle and a retrain cycle on `backend`"
    (folder / "pipeline.yaml").write_text(CONFIG.format(registry=BACKENDS[backend]))
    data = demo_data()
    out = {}
    for i, (key, days) in enumerate((("first", 28), ("retrain", 35))):
        data.iloc[:days * 48].to_csv(folder / "live.csv", index=False)
        w0, c0 = time.perf_counter(), cpu()
        rec = run_cycle(folder / "pipeline.yaml", progress=False)
        out[key] = (time.perf_counter() - w0, cpu() - c0)
        assert rec.status == "succeeded" and rec.model_after == i + 1, (backend, rec.status, rec.reason)
    return out


def registry_list(folder:Path, n:int, repeats:int)->tuple:
    "Median (wall, CPU) seconds of `ctml registry list` on an MLflow store holding `n` versions"
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from ctml_nb.registry.backends import open_registry
    (folder / "pipeline.yaml").write_text(CONFIG.format(registry=BACKENDS["mlflow"]))
    reg = open_registry({"kind": "mlflow", "tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"})
    X = pd.DataFrame({"a": np.arange(60.0), "b": np.arange(60.0) % 7}); y = (X["a"] > 29).astype(int)
    snap = reg.snapshots.save(X.assign(target=y), name="train")
    for i in range(n):
        reg.register(LogisticRegression(C=1 + i).fit(X, y), "bench", metrics={"accuracy": 0.9},
                     data_snapshot={"train": snap}, tags={"i": i})
    reg.promote("bench", n, reason="bench")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    times, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), cpu()
        p = subprocess.run([sys.executable, "-c", "import sys; from ctml_nb.cli import main; sys.exit(main())", "registry", "list", "--config", str(folder / "pipeline.yaml")],
                           capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t0); cpus.append(cpu() - c0)
        assert p.returncode == 0 and p.stdout.count("\n") > n, p.stderr[-2000:]
        assert not p.stderr.strip(), "ctml registry list wrote to stderr:\n" + p.stderr[-2000:]
    return statistics.median(times), statistics.median(cpus)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="rounds; medians are printed")
    ap.add_argument("--versions", type=int, default=50, help="versions in the store `ctml registry list` reads")
    args = ap.parse_args()
    rounds = {b: [] for b in BACKENDS}
    for _ in range(args.repeats):
        for b in BACKENDS:   # alternated, so a change of load touches both
            with tempfile.TemporaryDirectory() as d: rounds[b].append(cycles(Path(d), b))
    with tempfile.TemporaryDirectory() as d: listing = registry_list(Path(d), args.versions, args.repeats)
    med = {b: {k: tuple(statistics.median(r[k][j] for r in rs) for j in (0, 1)) for k in rs[0]} for b, rs in rounds.items()}
    print(f"mlflow_bench: medians of {args.repeats} round(s); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'case':<44}{'file wall':>10}{'mlflow wall':>12}{'ratio':>7}{'file cpu':>10}{'mlflow cpu':>11}{'ratio':>7}  target")
    for k in ("first", "retrain"):
        (fw, fc), (mw, mc) = med["file"][k], med["mlflow"][k]
        print(f"{f'{k} cycle (4 steps)':<44}{fw:>10.1f}{mw:>12.1f}{mw / fw:>6.2f}x{fc:>10.1f}{mc:>11.1f}{mc / fc:>6.2f}x  <= 1.5x")
    print(f"{f'ctml registry list, {args.versions} MLflow versions':<44}{listing[0]:>22.1f} s wall{listing[1]:>21.1f} s cpu  <= 3 s")


if __name__ == "__main__":
    main()
