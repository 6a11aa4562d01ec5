"""Drift on Dask benchmark: fit and test 10,000,000 rows x (20 numeric + 2 categorical) columns held in 20+ parquet
files, in one process and on a 2-worker Dask `LocalCluster`, in one run.

Steps:

  1. generate  `--files` reference and current parquet files (`ctml_nb.data.datasets.make_drift_pair`, 20 numeric and the
               first 2 categorical columns, one independent pair per file) into a cache folder outside git
               (`--cache`, default `$XDG_CACHE_HOME/ctml-nb-bench/drift_dask`); reused by later runs.
  2. single    in a fresh process: `DriftDetector().partial_fit(file)` for each reference file, then
               `detector.test_batches(files)` on the current files (one file in memory at a time).
  3. dask      in a fresh process (the driver, which also runs the scheduler): a `LocalCluster` of `--workers`
               processes of one thread each; `DriftDetector().fit("ref/*.parquet")` and `detector.test("cur/*.parquet")`,
               read with Dask, one task per file on the workers, profiles merged in one step.

Reported: wall and CPU time of each path (Dask: the driver process, which also runs the scheduler and the nannies,
plus the worker processes), peak RSS of the single process, of the Dask driver and of each worker (VmHWM, reset
before the timed part), and whether the two profiles and reports are identical (they must be: 20 files merge in one step, as the single process merges 20 chunks).
Targets on a 2-core machine: total CPU on Dask <= 1.5 x the single process; peak memory per worker <= 1 GB.

Usage (from the repository root, with the project's venv):
    python bench/drift_dask_bench.py                      # 10M rows in 20 files
    python bench/drift_dask_bench.py --rows 1000000       # a quicker run
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _benchutil import code_version, peak_kb, reset_peak   # bench/_benchutil.py

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@RESULT@@"
IDLE_SECONDS = 10   # an idle cluster is watched this long first: the background CPU of a worker per second
CPU_RATIO_TARGET, WORKER_MB_TARGET = 1.5, 1024
COLUMNS = [f"num_{i:02d}" for i in range(20)] + ["cat_0", "cat_1"]


def generate(root:Path, rows:int, files:int)->float:
    "Write ref/part-NN.parquet and cur/part-NN.parquet once; seconds spent (0 when cached)"
    stamp = root / "manifest.json"
    want = {"rows": rows, "files": files, "columns": COLUMNS}
    if stamp.exists() and json.loads(stamp.read_text()) == want: return 0.0
    from ctml_nb.data.datasets import make_drift_pair
    t0 = time.perf_counter()
    for side in ("ref", "cur"): (root / side).mkdir(parents=True, exist_ok=True)
    per = -(-rows // files)
    for i in range(files):
        n = min(per, rows - i * per)
        ref, cur, _ = make_drift_pair(n_rows=n, seed=1000 + i)
        ref[COLUMNS].to_parquet(root / "ref" / f"part-{i:02d}.parquet", index=False)
        cur[COLUMNS].to_parquet(root / "cur" / f"part-{i:02d}.parquet", index=False)
    stamp.write_text(json.dumps(want))
    return time.perf_counter() - t0


def _files(root:Path, side:str)->list: return sorted((root / side).glob("part-*.parquet"))


def run_single(root:Path)->dict:
    "Fit and test in this process, one file in memory at a time"
    import pandas as pd
    from ctml_nb.drift.detector import DriftDetector
    ok = reset_peak(); t0, c0 = time.perf_counter(), time.process_time()
    det = DriftDetector()
    for f in _files(root, "ref"): det.partial_fit(pd.read_parquet(f))
    report = det.test_batches(pd.read_parquet(f) for f in _files(root, "cur"))
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "peak_mb": peak_kb(ok) / 1024,
            "profile": det.profile_.to_dict(), "report": report.to_dict(details=True)}


def _usage():
    "CPU seconds (user + system) and peak RSS of the calling process"
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, peak_kb(True) / 1024

def run_dask(root:Path, workers:int, lean:bool=True)->dict:
    "Fit and test on a LocalCluster of `workers` one-thread processes; this process is the driver and the scheduler"
    import dask, distributed
    from ctml_nb.drift.detector import DriftDetector
    from ctml_nb.drift.dask_engine import LEAN_WORKERS, read_parquet
    if lean: dask.config.set(LEAN_WORKERS)   # as `DaskEngine(workers=N)` starts its own LocalCluster
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
         distributed.Client(cl) as client:
        client.run(lambda: __import__("ctml_nb.drift.dask_engine"))
        client.run(reset_peak)
        idle0 = client.run(_usage); time.sleep(IDLE_SECONDS); idle1 = client.run(_usage)   # what an idle worker burns
        before = client.run(_usage)
        ok = reset_peak(); t0, c0 = time.perf_counter(), time.process_time()
        parts = read_parquet(root / "ref" / "*.parquet").npartitions
        det = DriftDetector().fit(str(root / "ref" / "*.parquet"))
        report = det.test(str(root / "cur" / "*.parquet"))
        wall, driver_cpu, driver_peak = time.perf_counter() - t0, time.process_time() - c0, peak_kb(ok) / 1024
        after = client.run(_usage)
    workers_cpu = {k: after[k][0] - before[k][0] for k in after}
    idle = {k: (idle1[k][0] - idle0[k][0]) / IDLE_SECONDS for k in idle1}   # CPU seconds per wall second
    return {"seconds": wall, "driver_cpu_seconds": driver_cpu, "driver_peak_mb": driver_peak,
            "worker_cpu_seconds": workers_cpu, "worker_idle_cpu_per_second": idle,
            "worker_peak_mb": {k: v[1] for k, v in after.items()},
            "cpu_seconds": driver_cpu + sum(workers_cpu.values()), "partitions": parts,
            "profile": det.profile_.to_dict(), "report": report.to_dict(details=True)}


def child(kind:str, root:Path, workers:int):
    res = run_single(root) if kind == "single" else run_dask(root, workers, lean=kind == "dask")
    print(MARK + json.dumps(res), flush=True)


def _spawn(kind:str, root:Path, workers:int)->dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--cache", str(root), "--workers", str(workers)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    out = [l for l in proc.stdout.splitlines() if l.startswith(MARK)]
    if proc.returncode or not out:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-6000:])
        raise SystemExit(f"the {kind} run failed (exit {proc.returncode})")
    return json.loads(out[-1][len(MARK):])


def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--files", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None, help="also save the figures here")
    p.add_argument("--dask-defaults", action="store_true", help="also run Dask with its default worker settings "
                   "(statistical profiler on, 100-500 ms monitors) besides ctml-nb's LEAN_WORKERS")
    p.add_argument("--child", choices=["single", "dask", "dask-defaults"], help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    cache = a.cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ctml-nb-bench" / "drift_dask" / f"rows{a.rows}_files{a.files}"
    if a.child: child(a.child, cache, a.workers); return 0
    sys.path.insert(0, str(ROOT))
    load0 = os.getloadavg()
    gen = generate(cache, a.rows, a.files)
    single = _spawn("single", cache, a.workers)
    dask_ = _spawn("dask", cache, a.workers)
    default = _spawn("dask-defaults", cache, a.workers) if a.dask_defaults else None
    load1 = os.getloadavg()
    same_profile, same_report = single.pop("profile") == dask_.pop("profile"), single.pop("report") == dask_.pop("report")
    ratio = dask_["cpu_seconds"] / single["cpu_seconds"]
    worst = max(dask_["worker_peak_mb"].values())
    print(f"\nDrift on Dask: {a.rows:,} rows x {len(COLUMNS)} columns (20 numeric, 2 categorical) per side, in {a.files} parquet "
          f"files; {a.workers}-worker LocalCluster (1 thread each); code {code_version(ROOT, ('ctml_nb',))}")
    print(f"data: {cache} ({'generated in %.0f s' % gen if gen else 'cached'})")
    print(f"\n{'path':44} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
    print(f"{'single process (partial_fit + test_batches)':44} {single['seconds']:8.1f} {single['cpu_seconds']:8.1f} {single['peak_mb']:12.0f}")
    print(f"{'dask: total (driver + workers)':44} {dask_['seconds']:8.1f} {dask_['cpu_seconds']:8.1f}")
    print(f"{'  driver (client, scheduler, nannies)':44} {'':8} {dask_['driver_cpu_seconds']:8.1f} {dask_['driver_peak_mb']:12.0f}")
    for w, c in dask_["worker_cpu_seconds"].items():
        print(f"{'  worker ' + w:44} {'':8} {c:8.1f} {dask_['worker_peak_mb'][w]:12.0f}")
    bg = sum(dask_["worker_idle_cpu_per_second"].values()) * dask_["seconds"]
    print(f"{'  of which idle-worker background (est.)':44} {'':8} {bg:8.1f}   "
          f"({', '.join(f'{v:.3f}' for v in dask_['worker_idle_cpu_per_second'].values())} CPU s per wall s per worker, "
          f"measured on the idle cluster, x {dask_['seconds']:.0f} s)")
    print("(dask workers started with ctml_nb.drift.dask_engine.LEAN_WORKERS, as DaskEngine(workers=N) starts them)")
    if default:
        print(f"{'dask with its default worker settings: total':44} {default['seconds']:8.1f} {default['cpu_seconds']:8.1f}"
              f"   (workers {sum(default['worker_cpu_seconds'].values()):.1f}, "
              f"driver {default['driver_cpu_seconds']:.1f}; CPU ratio {default['cpu_seconds'] / single['cpu_seconds']:.2f})")
    print(f"\npartitions: {dask_['partitions']} (one task per file; merged in one step)")
    print(f"identical reference profile: {same_profile}; identical drift report: {same_report}")
    print(f"CPU ratio dask / single: {ratio:.2f} (target <= {CPU_RATIO_TARGET}): {'PASS' if ratio <= CPU_RATIO_TARGET else 'FAIL'}"
          f"; without the idle-worker background: {(dask_['cpu_seconds'] - bg) / single['cpu_seconds']:.2f}")
    print(f"peak memory per worker: {worst:.0f} MB (target <= {WORKER_MB_TARGET} MB): {'PASS' if worst <= WORKER_MB_TARGET else 'FAIL'}")
    print(f"wall ratio dask / single: {dask_['seconds'] / single['seconds']:.2f} (2 workers on {os.cpu_count()} cores)")
    print(f"load average at start {load0[0]:.1f} {load0[1]:.1f} {load0[2]:.1f}; at end {load1[0]:.1f} {load1[1]:.1f} {load1[2]:.1f}")
    if a.json: a.json.write_text(json.dumps({"single": single, "dask": dask_, "ratio": ratio, "identical": same_profile and same_report}, indent=1))
    ok = same_profile and same_report and ratio <= CPU_RATIO_TARGET and worst <= WORKER_MB_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
