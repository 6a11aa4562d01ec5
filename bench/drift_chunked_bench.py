"""Chunked drift benchmark: profile and test parquet files of 10M and 30M rows x 20 numeric columns, row group by row
group, side by side with a bare pyarrow scan of the same files.

For each size, measured in one run on the same files, each measurement in its own fresh process (so each has its own
peak RSS), round-robin when repeated (the median is reported):

  scan      the physical floor: a bare pyarrow scan of the file, every row group read, min and max of every column
            (`pyarrow.compute.min_max`). Measured on the reference file (the profile's input) and on the current file
            (the test's input).
  profile   `DriftDetector().partial_fit(batch)` for every row group of the reference file
            (`ctml_nb.drift.detector.read_parquet_batches`), then the profile saved as JSON.
  test      `DriftDetector.from_profile(saved JSON).test_batches(read_parquet_batches(current))`: a profile of the
            current data built row group by row group, then compared with the stored one.
  merge     (check, not timed against a target) one `ReferenceProfile` per row group, combined with
            `ReferenceProfile.merge` (the path a distributed engine takes), then tested: its verdict must equal the
            test's.

Each is printed with wall time, CPU time (all threads of the process), both as a multiple of the scan of the file it
reads, and the process's peak RSS. Targets (issue 16): profile <= 2x the scan, test <= 2x the scan, peak memory
<= 600 MB, at 10M and at 30M rows. The load average is printed at the start and the end: the machine is shared.

Data: the 20 numeric columns of `ctml_nb.data.datasets.make_drift_pair` (one independent pair per row group, so the current
file carries the shifts of num_02, num_03, num_04 and the negligible one of num_01), written group by group with
pyarrow's ParquetWriter (snappy, no dictionary). Files are generated once into a cache directory (default
`bench/.cache/drift_chunked`, ignored by git; 2 x 1.4 GB per 10M rows) and reused by later runs.

Usage (from the repository root, with the project's venv):
    python bench/drift_chunked_bench.py                          # 10M and 30M rows, row groups of 250,000
    python bench/drift_chunked_bench.py --rows 1000000           # a quicker run
    python bench/drift_chunked_bench.py --repeats 3 --no-merge   # medians of 3 round-robin runs, no merge check
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _benchutil import code_version, peak_kb as _peak_kb, rss_kb as _rss_kb  # bench/_benchutil.py

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB, TARGET_X = 600, 2.0
MARK = "@@RESULT@@"
KINDS = ("scan_ref", "profile", "scan_cur", "test", "merge")


def generate(data_dir:Path, rows:int, row_group:int, seed:int):
    "Write reference.parquet, current.parquet and truth.json into `data_dir` (group by group: memory stays flat)"
    import pyarrow as pa, pyarrow.parquet as pq
    from ctml_nb.data.datasets import make_drift_pair
    tmp = data_dir.with_name(data_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True); tmp.mkdir(parents=True)
    writers, truth = {}, None
    try:
        done, i = 0, 0
        while done < rows:
            n = min(row_group, rows - done)
            ref, cur, truth = make_drift_pair(n, seed=seed * 1_000_003 + i)
            for name, df in (("reference", ref), ("current", cur)):
                table = pa.Table.from_pandas(df[[c for c in df.columns if c.startswith("num_")]], preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(tmp / f"{name}.parquet", table.schema, compression="snappy",
                                                     use_dictionary=False)  # dictionary trials on floats: 4x slower
                writers[name].write_table(table, row_group_size=n)
            done += n; i += 1
    finally:
        for w in writers.values(): w.close()
    (tmp / "truth.json").write_text(json.dumps({"material": sorted(c for c in truth if c.startswith("num_")),
                                                "negligible": sorted(truth.negligible)}))
    tmp.rename(data_dir)   # complete files only: a run stopped half way leaves a `.partial` directory, redone next time

# --------------------------------------------------------------------------------------------------------- workers
def _scan(path:Path)->dict:
    import pyarrow.compute as pc, pyarrow.parquet as pq
    pf, n = pq.ParquetFile(path), 0
    for i in range(pf.num_row_groups):
        t = pf.read_row_group(i)
        for col in t.columns: pc.min_max(col)
        n += t.num_rows
    return {"rows": n}

def _profile(data_dir:Path)->dict:
    from ctml_nb.drift.detector import DriftDetector, read_parquet_batches
    det = DriftDetector()
    for batch in read_parquet_batches(data_dir / "reference.parquet"): det.partial_fit(batch)
    det.profile_.save(data_dir / "profile.json")
    return {"rows": int(det.profile_.n_rows)}

def _test(data_dir:Path)->dict:
    from ctml_nb.drift.detector import DriftDetector, read_parquet_batches
    report = DriftDetector.from_profile(data_dir / "profile.json").test_batches(read_parquet_batches(data_dir / "current.parquet"))
    return {"rows": int(report.n_cur_rows), "drifted": sorted(report.drifted)}

def _merge(data_dir:Path)->dict:
    from ctml_nb.drift.detector import DriftDetector, read_parquet_batches
    parts = [DriftDetector().partial_fit(b).profile_ for b in read_parquet_batches(data_dir / "reference.parquet")]
    merged = parts[0].merge(*parts[1:])
    report = DriftDetector.from_profile(merged).test_batches(read_parquet_batches(data_dir / "current.parquet"))
    return {"rows": int(merged.n_rows), "drifted": sorted(report.drifted)}

def worker(kind:str, data_dir:Path):
    "One measurement in this fresh process; figures printed as JSON after `MARK`"
    sys.path.insert(0, str(ROOT))
    import numpy, pandas, pyarrow.parquet, pyarrow.compute  # noqa: F401  imports are not part of any figure
    import ctml_nb.drift.detector  # noqa: F401
    run = {"scan_ref": lambda: _scan(data_dir / "reference.parquet"), "profile": lambda: _profile(data_dir),
           "scan_cur": lambda: _scan(data_dir / "current.parquet"), "test": lambda: _test(data_dir),
           "merge": lambda: _merge(data_dir)}[kind]
    rss0 = _rss_kb() / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    out = run()
    out.update(seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0, rss_start_mb=rss0,
               peak_mb=_peak_kb(True) / 1024)   # VmHWM: this process's own peak (ru_maxrss survives exec: the parent's)
    print(MARK + json.dumps(out), flush=True)

def measure(kind:str, data_dir:Path)->dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--dir", str(data_dir)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    res = next((json.loads(l[len(MARK):]) for l in proc.stdout.splitlines() if l.startswith(MARK)), None)
    if res is None: raise RuntimeError(f"the {kind} worker failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return res

# ------------------------------------------------------------------------------------------------------------ main
def run_size(rows:int, a)->dict:
    data_dir = Path(a.cache) / f"rows{rows}_group{a.row_group}_seed{a.seed}"
    gen = None
    if not (data_dir / "truth.json").exists():
        print(f"generating {rows:,} rows into {data_dir} (once) ...", flush=True)
        t0 = time.perf_counter(); generate(data_dir, rows, a.row_group, a.seed); gen = time.perf_counter() - t0
    truth = json.loads((data_dir / "truth.json").read_text())
    kinds = [k for k in KINDS if k != "merge" or not a.no_merge]
    runs = {k: [] for k in kinds}
    load = [os.getloadavg()[0]]
    for r in range(a.repeats):   # round-robin: each repeat measures every kind once, in the same order
        for k in kinds:
            if k == "merge" and r: continue   # a correctness check: once is enough
            print(f"  {rows:,} rows, run {r + 1}/{a.repeats}: {k} ...", flush=True); runs[k].append(measure(k, data_dir))
    load.append(os.getloadavg()[0])
    med = {k: {f: statistics.median(x[f] for x in v) for f in ("seconds", "cpu_seconds", "peak_mb", "rss_start_mb")}
           | {f: v[0][f] for f in v[0] if f not in ("seconds", "cpu_seconds", "peak_mb", "rss_start_mb")}
           for k, v in runs.items()}
    sizes = {p: (data_dir / f"{p}.parquet").stat().st_size / 2**20 for p in ("reference", "current")}
    return {"rows": rows, "dir": str(data_dir), "generate_seconds": gen, "parquet_mb": sizes, "load_average": load,
            "truth": truth, "median": med, "runs": runs}

def report(res:dict, a)->bool:
    m, rows = res["median"], res["rows"]
    print(f"\n{rows:,} rows x 20 numeric columns per file, row groups of {a.row_group:,} ({-(-rows // a.row_group)} "
          f"groups); parquet {res['parquet_mb']['reference']:.0f} MB + {res['parquet_mb']['current']:.0f} MB; load "
          f"average {res['load_average'][0]:.2f} at start, {res['load_average'][1]:.2f} at end; median of "
          f"{a.repeats} round-robin run(s)")
    print(f"{'pass':44} {'wall s':>7} {'x scan':>7} {'CPU s':>7} {'x scan':>7} {'peak RSS MB':>12}")
    labels = {"scan_ref": "scan: bare pyarrow scan of the reference", "profile": "profile: partial_fit per row group",
              "scan_cur": "scan: bare pyarrow scan of the current file", "test": "test: test_batches vs stored profile",
              "merge": "merge: per-group profiles merged, then tested"}
    base = {"scan_ref": "scan_ref", "profile": "scan_ref", "scan_cur": "scan_cur", "test": "scan_cur", "merge": "scan_ref"}
    for k, lab in labels.items():
        if k not in m: continue
        b = m[base[k]]
        print(f"{lab:44} {m[k]['seconds']:7.2f} {m[k]['seconds'] / b['seconds']:6.2f}x {m[k]['cpu_seconds']:7.2f} "
              f"{m[k]['cpu_seconds'] / b['cpu_seconds']:6.2f}x {m[k]['peak_mb']:12.0f}")
    ok = True
    for k, b in (("profile", "scan_ref"), ("test", "scan_cur")):
        x = m[k]["seconds"] / m[b]["seconds"]; ok &= x <= TARGET_X
        print(f"  target: {k} <= {TARGET_X:g}x the scan (wall): {x:.2f}x  {'PASS' if x <= TARGET_X else 'FAIL'}"
              f"   (CPU: {m[k]['cpu_seconds'] / m[b]['cpu_seconds']:.2f}x)")
    peak = max(m[k]["peak_mb"] for k in ("profile", "test"))
    ok &= peak <= TARGET_MB
    print(f"  target: peak memory of profile and test <= {TARGET_MB} MB: {peak:.0f} MB  {'PASS' if peak <= TARGET_MB else 'FAIL'}")
    ok_rows = m["profile"]["rows"] == rows == m["test"]["rows"]
    want = res["truth"]["material"]
    ok_v = m["test"]["drifted"] == want
    print(f"  rows profiled {m['profile']['rows']:,}, tested {m['test']['rows']:,}  {'PASS' if ok_rows else 'FAIL'}; "
          f"verdict flags {', '.join(m['test']['drifted']) or 'nothing'} (truth: {', '.join(want)}; "
          f"{', '.join(res['truth']['negligible'])} negligible)  {'PASS' if ok_v else 'FAIL'}")
    ok &= ok_rows and ok_v
    if "merge" in m:
        ok_m = m["merge"]["drifted"] == m["test"]["drifted"] and m["merge"]["rows"] == rows
        print(f"  merged per-group profiles give the same verdict: {', '.join(m['merge']['drifted'])}  {'PASS' if ok_m else 'FAIL'}")
        ok &= ok_m
    return ok

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000_000, 30_000_000], help="rows per file, one size or more")
    ap.add_argument("--row-group", type=int, default=250_000, help="rows per parquet row group")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1, help="round-robin runs of each measurement (median reported)")
    ap.add_argument("--no-merge", action="store_true", help="skip the merge check")
    ap.add_argument("--cache", default=str(ROOT / "bench" / ".cache" / "drift_chunked"), help="where the parquet files are kept")
    ap.add_argument("--json", default=str(ROOT / "bench" / "out" / "drift_chunked_bench.json"))
    ap.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker: return worker(a.worker, Path(a.dir))
    sys.path.insert(0, str(ROOT))
    print(f"Chunked drift benchmark: {os.cpu_count()} CPUs; ctml-nb {code_version(ROOT)}; load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    results = [run_size(rows, a) for rows in a.rows]
    ok = all([report(r, a) for r in results])
    if len(results) > 1:
        r0, r1 = results[0], results[-1]
        f = r1["rows"] / r0["rows"]
        print(f"\nScaling {r0['rows']:,} -> {r1['rows']:,} rows ({f:g}x), on CPU time (wall time follows the load): " + ", ".join(
            f"{k} {r1['median'][k]['cpu_seconds'] / r0['median'][k]['cpu_seconds']:.2f}x, peak "
            f"{r0['median'][k]['peak_mb']:.0f} -> {r1['median'][k]['peak_mb']:.0f} MB" for k in ("scan_ref", "profile", "test")))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"code": code_version(ROOT), "row_group": a.row_group, "repeats": a.repeats,
                                            "sizes": results}, indent=1))
        print(f"\nfigures saved to {a.json}")
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
