"""Label feed: labels delivered apart from the features, joined to the served rows by key, on public data.

Two package-bundled tables get an id column and lose their label column; the labels go to a folder of delivery files,
one per cycle, holding the labels that arrived by the cycle's data time (delays drawn per row: log-normal, median
`--median-hours`, and a share that never arrives). Every cycle runs the check step's data part
(`ctml_nb.pipeline.batches.cycle_data`, which joins the feed), with the cursor handed on as the runner does.

Prints per table: rows served, labels delivered, joined (summed over the records), waiting, the delays the records
give against the delays drawn, whether every delivered label of a served row is joined exactly once (none lost), and
the CPU seconds of a cycle early, midway and late in the history, and the slope of a cycle's CPU against the rows served
so far (the join reads the new deliveries and the served-key index, never the served rows again; `Source.labelled`
reads only up to the first row still waiting, which the feed's index names, so labels that never arrive cost nothing
later), with the load average. Reference: none lost, joined == delivered, on both tables.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ctml_nb.core import to_jsonable
from ctml_nb.data.labels import LabelLedger
from ctml_nb.pipeline.batches import cycle_data
from ctml_nb.pipeline.config import parse_config
from ctml_nb.pipeline.label_feed import ledger_path


def tables()->dict:
    "Elec2 (bundled with ctml-nb) and Seattle weather (bundled with vega_datasets), each: (frame, target, time column)"
    from ctml_nb.data.datasets import load_elec2
    out = {"elec2": (load_elec2(), "target", "timestamp")}
    try:
        from vega_datasets import local_data
        out["seattle_weather"] = (local_data.seattle_weather(), "weather", "date")
    except ImportError: print("vega_datasets not installed: Seattle weather left out")
    return out


def run(name, df, target, tcol, cycles:int, median_hours:float, never:float, seed:int=0)->dict:
    rng = np.random.default_rng(seed)
    df = df.reset_index(drop=True).assign(**{tcol: lambda d: pd.to_datetime(d[tcol])})
    df.insert(0, "row_id", np.arange(len(df)) + 1)
    delay = pd.to_timedelta(rng.lognormal(np.log(median_hours), 1.0, len(df)), unit="h")
    lab = pd.DataFrame({"row_id": df["row_id"], "label": df[target], "arrived": df[tcol] + delay})
    lab = lab[rng.random(len(df)) >= never]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); (d / "data").mkdir(); (d / "labels").mkdir()
        cfg = parse_config({"name": name, "data": {"source": "data", "target": target, "time_column": tcol,
                            "labels": {"source": "labels", "key": "row_id", "label": "label", "time": "arrived"}},
                            "model": {"factory": "sklearn.dummy:DummyClassifier"}}, d)
        cuts = np.linspace(len(df) // 10, len(df), cycles + 1).astype(int)
        cursor, recs, cpu, sent_upto = "", [], [], pd.Timestamp.min
        for k, (a, b) in enumerate(zip(np.r_[0, cuts[:-1]], cuts)):
            df.iloc[a:b].drop(columns=target).to_parquet(d / "data" / f"{k:04d}.parquet")
            now = df[tcol].iloc[b - 1]
            lab[(lab["arrived"] > sent_upto) & (lab["arrived"] <= now)].sample(frac=1, random_state=k).to_parquet(
                d / "labels" / f"{k:04d}.parquet")      # delivered in any order
            sent_upto = now
            t0 = time.process_time()
            data = cycle_data(cfg, cursor)
            cpu.append(time.process_time() - t0)
            cursor = json.dumps(to_jsonable(data.cursor))
            recs.append(data.to_dict()["labels"])
        led = LabelLedger.load(ledger_path(cfg))
        served = df.iloc[:cuts[-1]]
        sent = lab[lab["arrived"] <= sent_upto]
        want = sent[sent["row_id"].isin(served["row_id"])]
        got = led.frame[led.frame["status"] == "joined"]
        ok = (not got["key"].duplicated().any() and len(got) == len(want)
              and (got.set_index(got["key"].astype(int))["label"].astype(str).sort_index()
                   == want.set_index("row_id")["label"].astype(str).sort_index()).all())
        drawn = (want["arrived"] - served.set_index("row_id").loc[want["row_id"], tcol].to_numpy())
        last = recs[-1]
        return {"table": name, "rows_served": len(served), "cycles": cycles, "delivered": len(sent),
                "joined_in_records": sum(r["joined"] for r in recs), "waiting_now": last["waiting"],
                "none_lost_exactly_once": bool(ok),
                "delay_p50_drawn": str(drawn.median().round("s")), "delay_p50_last_record": (last["delay"] or {}).get("p50"),
                "cpu_s_first_cycles": round(float(np.mean(cpu[1:4])), 3), "cpu_s_middle_cycles": round(float(np.mean(cpu[len(cpu) // 2 - 1:len(cpu) // 2 + 2])), 3),
                "cpu_s_last_cycles": round(float(np.mean(cpu[-3:])), 3),
                # what is left of the growth: least-squares CPU seconds per cycle against the rows served so far (cycle 2 on)
                "cpu_ms_per_10k_rows_served": round(float(np.polyfit(cuts[1:], cpu[1:], 1)[0]) * 1e7, 2)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--median-hours", type=float, default=36.0)
    ap.add_argument("--never", type=float, default=0.02, help="share of labels that never arrive")
    args = ap.parse_args(argv)
    bad = False
    for name, (df, target, tcol) in tables().items():
        r = run(name, df, target, tcol, args.cycles, args.median_hours, args.never)
        print(json.dumps(r) + f"  load average {os.getloadavg()[0]:.1f}")
        bad = bad or not r["none_lost_exactly_once"]
    return 1 if bad else 0


if __name__ == "__main__": sys.exit(main())
