"""Chunked drift benchmark: profile and test 10,000,000 rows x 20 numeric columns read from parquet by row group.

Steps, each printed with its wall time and peak memory:

  1. generate  the 20 numeric columns of `ctml_nb.datasets.make_drift_pair` (one independent pair per row group, so
               the current file carries the shifts of num_02, num_03, num_04 and the negligible one of num_01) and
               write a reference and a current parquet file group by group with pyarrow's ParquetWriter: memory stays
               at one row group whatever the number of rows.
  2. profile   `DriftDetector().partial_fit(batch)` for every row group of the reference file
               (`ctml_nb.drift.read_parquet_batches`).
  3. test      `detector.test_batches(read_parquet_batches(current))`.
  4. merge     one `ReferenceProfile` per row group, combined with `ReferenceProfile.merge`: the path a distributed
               engine would take; its test verdict must equal step 3's.

Steps 2-4 run in one fresh subprocess; its peak RSS (VmHWM, reset per step through /proc/self/clear_refs) is the
figure checked against the target: < 1.5 GB. A single in-memory frame of the reference alone would need
10,000,000 x 20 x 8 bytes = 1.6 GB.

Usage (from the repository root, with the project's venv):
    python bench/drift_chunked_bench.py                       # 10M rows, row groups of 250,000
    python bench/drift_chunked_bench.py --rows 1000000        # a quicker run
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _benchutil import code_version, peak_kb as _peak_kb, reset_peak as _reset_peak, rss_kb as _rss_kb  # bench/_benchutil.py

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 1536  # 1.5 GB
MARK = "@@RESULT@@"


class Step:
    "Context manager timing a step and recording the peak RSS reached during it"
    def __init__(self, name:str, log:dict): self.name, self.log = name, log
    def __enter__(self):
        self.reset_ok = _reset_peak(); self.t0, self.c0 = time.perf_counter(), time.process_time(); return self
    def __exit__(self, *exc):
        self.log[self.name] = {"seconds": time.perf_counter() - self.t0, "cpu_seconds": time.process_time() - self.c0,
                               "peak_mb": _peak_kb(self.reset_ok) / 1024}

def generate(data_dir:Path, rows:int, row_group:int, seed:int)->dict:
    "Write reference.parquet and current.parquet group by group; return the truth restricted to numeric columns"
    import pyarrow as pa, pyarrow.parquet as pq
    from ctml_nb.datasets import make_drift_pair
    writers, truth = {}, None
    try:
        done, i = 0, 0
        while done < rows:
            n = min(row_group, rows - done)
            ref, cur, truth = make_drift_pair(n, seed=seed * 1_000_003 + i)
            for name, df in (("reference", ref), ("current", cur)):
                table = pa.Table.from_pandas(df[[c for c in df.columns if c.startswith("num_")]], preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(data_dir / f"{name}.parquet", table.schema, compression="snappy",
                                                     use_dictionary=False)  # dictionary trials on floats: 4x slower
                writers[name].write_table(table, row_group_size=n)
            done += n; i += 1
    finally:
        for w in writers.values(): w.close()
    return {"material": sorted(c for c in truth if c.startswith("num_")), "negligible": sorted(truth.negligible)}

def worker(data_dir:Path):
    "Profile and test in this fresh process; print figures as JSON after `MARK`"
    sys.path.insert(0, str(ROOT))
    from ctml_nb.drift import DriftDetector, ReferenceProfile, read_parquet_batches
    log = {"rss_start_mb": _rss_kb() / 1024}
    ref_path, cur_path = data_dir / "reference.parquet", data_dir / "current.parquet"
    with Step("profile", log):
        det = DriftDetector()
        n_batches = 0
        for batch in read_parquet_batches(ref_path):
            det.partial_fit(batch); n_batches += 1
    with Step("test", log):
        report = det.test_batches(read_parquet_batches(cur_path))
    with Step("merge", log):
        parts = [DriftDetector().partial_fit(b).profile_ for b in read_parquet_batches(ref_path)]
        merged = parts[0].merge(*parts[1:])
        report_m = DriftDetector.from_profile(merged).test_batches(read_parquet_batches(cur_path))
    log.update(n_batches=n_batches, drifted=sorted(report.drifted), drifted_merged=sorted(report_m.drifted),
               profile_rows=int(det.profile_.n_rows), merged_rows=int(merged.n_rows),
               peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(MARK + json.dumps(log), flush=True)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows per file")
    ap.add_argument("--row-group", type=int, default=250_000, help="rows per parquet row group")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", help="directory for the parquet files (default: a temporary directory, removed after)")
    ap.add_argument("--json", default=str(ROOT / "bench" / "out" / "drift_chunked_bench.json"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker: return worker(Path(a.dir))

    sys.path.insert(0, str(ROOT))
    data_dir = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="ctml-drift-chunked-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    gen = {}
    try:
        with Step("generate", gen): truth = generate(data_dir, a.rows, a.row_group, a.seed)
        sizes = {p: (data_dir / f"{p}.parquet").stat().st_size / 2**20 for p in ("reference", "current")}
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", "--dir", str(data_dir)],
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        res = next((json.loads(l[len(MARK):]) for l in proc.stdout.splitlines() if l.startswith(MARK)), None)
        if res is None:
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            print(f"the worker failed (exit {proc.returncode})"); return 2
    finally:
        if not a.dir: shutil.rmtree(data_dir, ignore_errors=True)
    load_end = os.getloadavg()

    print(f"\nChunked drift benchmark: {a.rows:,} rows x 20 numeric columns per file, row groups of {a.row_group:,} "
          f"({res['n_batches']} batches); parquet {sizes['reference']:.0f} MB + {sizes['current']:.0f} MB; "
          f"{os.cpu_count()} CPUs; load average {load_start[0]:.2f} at start, {load_end[0]:.2f} at end; "
          f"ctml-nb {code_version(ROOT)}")
    print(f"{'step':58} {'seconds':>8} {'CPU s':>7} {'peak RSS MB':>12}")
    print(f"{'1. generate + write parquet (driver process)':58} {gen['generate']['seconds']:8.1f} "
          f"{gen['generate']['cpu_seconds']:7.1f} {gen['generate']['peak_mb']:12.0f}")
    labels = {"profile": "2. profile: partial_fit per reference row group",
              "test": "3. test: test_batches over the current file",
              "merge": "4. merge: per-row-group profiles merged, then tested"}
    for k, label in labels.items():
        print(f"{label:58} {res[k]['seconds']:8.1f} {res[k]['cpu_seconds']:7.1f} {res[k]['peak_mb']:12.0f}")
    ok_mem = res["peak_mb"] < TARGET_MB
    print(f"\nTarget: peak memory of the profile+test process < {TARGET_MB} MB: {res['peak_mb']:.0f} MB  "
          f"{'PASS' if ok_mem else 'FAIL'}")
    ok_rows = res["profile_rows"] == a.rows == res["merged_rows"]
    print(f"Rows profiled: {res['profile_rows']:,} (partial_fit), {res['merged_rows']:,} (merged)  "
          f"{'PASS' if ok_rows else 'FAIL'}")
    flagged, want = set(res["drifted"]), set(truth["material"])
    ok_verdict = flagged == want
    print(f"Verdict: flags {', '.join(sorted(flagged)) or 'nothing'} (truth: {', '.join(sorted(want))}; "
          f"{', '.join(truth['negligible'])} negligible)  {'PASS' if ok_verdict else 'FAIL'}")
    ok_merge = res["drifted_merged"] == res["drifted"]
    print(f"Merged profile gives the same verdict: {', '.join(res['drifted_merged']) or 'nothing'}  "
          f"{'PASS' if ok_merge else 'FAIL'}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"code": code_version(ROOT), "rows": a.rows, "row_group": a.row_group, "load_average": [load_start, load_end],
                                            "generate": gen["generate"], "parquet_mb": sizes, **res}, indent=1))
        print(f"\nfigures saved to {a.json}")
    return 0 if ok_mem and ok_rows and ok_verdict and ok_merge else 1

if __name__ == "__main__":
    sys.exit(main())
