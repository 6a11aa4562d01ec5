"""The data contract through real cycles: late rows are counted in the run record and never trained on (reject), or
trained on and counted (include); rows without labels are counted, and the trigger and the gate use labelled rows only."""
import numpy as np
import pandas as pd

from ctml_nb.pipeline.config import config_path, load_config
from ctml_nb.demo import demo_data
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.pipeline.runner import run_cycle

CONFIG = """\
name: elec2
data: {source: live.csv, target: target, time_column: timestamp, late_rows: LATE}
model:
  factory: sklearn.tree:DecisionTreeClassifier
  params: {max_depth: 5, random_state: 0}
triggers:
  - {kind: interval, params: {rows: 1}}
promotion: {kind: gate, params: {metric: accuracy, n_boot: 100, min_delta: -1.0, test: none}}
timeout: 300
"""


def _first_cycle(seeded, tmp_path, late="reject"):
    "A project whose first cycle, on 7 days, made version 1 champion (a copy of the shared seed, tests/seeded.py)"
    return load_config(seeded(tmp_path, CONFIG.replace("LATE", late), days=7)), demo_data()


def _train_snapshot(cfg):
    reg = ModelRegistry(config_path(cfg, "registry"))
    return reg.load_snapshot(reg.get_version("elec2", "champion").data_snapshots["train"])


def _late_rows(df):
    "Four rows dated inside the first week, with an impossible price that marks them"
    return df.iloc[100:104].assign(nswprice=-9.0)


def test_late_rows_rejected_and_counted(seeded, tmp_path):
    cfg, df = _first_cycle(seeded, tmp_path)
    # the next two days arrive, and four rows dated last week arrive with them (appended at the end of the file)
    pd.concat([df.iloc[:9 * 48], _late_rows(df)]).to_csv(tmp_path / "live.csv", index=False)
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "succeeded", rec.reason
    d = rec.values["check"]["data"]
    assert (d["batch_rows"], d["late_rows"], d["late_policy"], d["rows_seen"]) == (96, 4, "reject", 9 * 48)
    assert (_train_snapshot(cfg)["nswprice"] != -9.0).all()          # never trained on
    assert rec.cursor["rows"] == 9 * 48
    pd.concat([df.iloc[:9 * 48], _late_rows(df), df.iloc[9 * 48:10 * 48]]).to_csv(tmp_path / "live.csv", index=False)
    rec = run_cycle(cfg, progress=False)                                  # nor in any later cycle
    assert rec.values["check"]["data"]["late_rows"] == 0 and (_train_snapshot(cfg)["nswprice"] != -9.0).all()


def test_late_rows_included_and_counted(seeded, tmp_path):
    cfg, df = _first_cycle(seeded, tmp_path, "include")
    pd.concat([df.iloc[:9 * 48], _late_rows(df)]).to_csv(tmp_path / "live.csv", index=False)
    rec = run_cycle(cfg, progress=False)
    d = rec.values["check"]["data"]
    assert (d["batch_rows"], d["late_rows"], d["late_policy"], d["rows_seen"]) == (96, 4, "include", 9 * 48 + 4)
    assert (_train_snapshot(cfg)["nswprice"] == -9.0).sum() == 4      # trained on, and said so


def test_label_delay_counts_and_uses_labelled_rows_only(seeded, tmp_path):
    cfg, df = _first_cycle(seeded, tmp_path)
    live = df.iloc[:9 * 48].copy()
    live["target"] = live["target"].astype(float)
    live.loc[live.index[8 * 48:], "target"] = np.nan                   # the newest day has no labels yet
    live.to_csv(tmp_path / "live.csv", index=False)
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "succeeded", rec.reason
    d = rec.values["check"]["data"]
    assert (d["batch_rows"], d["unlabelled"], d["newly_labelled"], d["label_mark"]) == (96, 48, 48, 8 * 48)
    assert rec.values["check"]["served"]["labelled"] == 48             # the champion is scored on labelled rows only
    assert rec.trigger["evidence"] is not None
    train = _train_snapshot(cfg)
    assert train["target"].notna().all() and len(train) <= 8 * 48     # the unlabelled day is not trained on
    df.iloc[:9 * 48].to_csv(tmp_path / "live.csv", index=False)        # its labels arrive
    rec = run_cycle(cfg, progress=False)
    d = rec.values["check"]["data"]
    assert (d["batch_rows"], d["unlabelled"], d["newly_labelled"]) == (0, 0, 48)
