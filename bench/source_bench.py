"""Data sources: cost of one cycle's reads against the size of the history (10k vs 1M rows).

Builds an elec2-like history (a time column every 5 minutes, 288 rows a day, six features in [0, 1], a binary target)
as (a) a folder of daily parquet files and (b) a hive-partitioned parquet dataset (`date=YYYY-MM-DD/`), in a temp
dir, then times, with the cursor of the last cycle: `next_batch` for one new day, and `read(since=last 28 days)`.
Target: the 1M-row figure within 1.2x of the 10k-row figure (the work follows the new data, not the history).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import peak_kb, reset_peak  # noqa: E402

from ctml_nb.pipeline.config import DataConfig  # noqa: E402
from ctml_nb.data.source_kinds import open_source  # noqa: E402

PER_DAY = 288


def history(n_rows:int, seed:int=0)->pd.DataFrame:
    g = np.random.default_rng(seed)
    t = pd.date_range("2000-01-01", periods=n_rows, freq="5min")
    df = pd.DataFrame({"timestamp": t, **{f"feat_{i}": g.random(n_rows) for i in range(1, 7)}})
    df["target"] = (df.feat_2 > 0.5).astype(np.int8)
    return df


def write_folder(df, root:Path):
    root.mkdir(parents=True)
    tab = pa.Table.from_pandas(df, preserve_index=False)
    for i in range(0, len(df), PER_DAY):
        pq.write_table(tab.slice(i, PER_DAY), root / f"{df.timestamp.iloc[i]:%Y-%m-%d}.parquet")


def write_dataset(df, root:Path):
    df = df.assign(date=df.timestamp.dt.strftime("%Y-%m-%d"))
    ds.write_dataset(pa.Table.from_pandas(df, preserve_index=False), root, format="parquet", partitioning=["date"],
                     partitioning_flavor="hive", existing_data_behavior="overwrite_or_ignore",
                     max_partitions=100_000, basename_template="part-{i}.parquet")


def timed(fn, repeat:int=5):
    "Best wall and CPU seconds of `repeat` calls"
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w, time.process_time() - c))
    return best


def measure(kind:str, n_rows:int, tmp:Path)->dict:
    n_rows = n_rows // PER_DAY * PER_DAY                     # whole days: 10,080 and 999,936 rows
    df = history(n_rows + PER_DAY)
    old, new = df.iloc[:n_rows], df.iloc[n_rows:]
    root = tmp / f"{kind}_{n_rows}"
    (write_folder if kind == "folder" else write_dataset)(old, root)
    src = open_source(DataConfig(source=str(root), target="target", time_column="timestamp"))
    cursor = src.next_batch().cursor                         # the last good cycle: the whole history read once
    if kind == "folder": pq.write_table(pa.Table.from_pandas(new, preserve_index=False), root / f"{new.timestamp.iloc[0]:%Y-%m-%d}.parquet")
    else: write_dataset(new, root)
    batch = src.next_batch(cursor)
    assert len(batch.rows) == PER_DAY and batch.late.empty, batch
    since = batch.rows.timestamp.max() - pd.Timedelta("28D")
    win = src.read(since=since, cursor=batch.cursor)
    assert len(win) == 28 * PER_DAY + 1, len(win)
    return {"files": len(cursor["files"]), "next_batch": timed(lambda: src.next_batch(cursor)),
            "read_28d": timed(lambda: src.read(since=since, cursor=batch.cursor)), "files_28d": len(win.attrs["read"]["files"])}


def main():
    ok = reset_peak()
    t0 = time.perf_counter()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("folder", "dataset"):
            res = {n: measure(kind, n, Path(tmp)) for n in (10_000, 1_000_000)}
            for op in ("next_batch", "read_28d"):
                a, b = res[10_000][op], res[1_000_000][op]
                print(f"{kind:8s} {op:10s} 10k ({res[10_000]['files']} files): {a[0]*1e3:7.1f} ms wall {a[1]*1e3:7.1f} ms CPU | "
                      f"1M ({res[1_000_000]['files']} files): {b[0]*1e3:7.1f} ms wall {b[1]*1e3:7.1f} ms CPU | "
                      f"ratio wall {b[0]/a[0]:.2f} CPU {b[1]/a[1]:.2f} ({'PASS' if b[0]/a[0] <= 1.2 else 'not met'}, target <= 1.2)")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; peak RSS {peak_kb(ok)/1024:.0f} MB; "
          f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
