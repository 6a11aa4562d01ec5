"""A label feed (`data.labels`) through real cycles: labels delivered in their own files are joined to the served rows
by key exactly once, bad deliveries are refused or counted, a crash between the join and the record joins nothing
twice, and a backtest replays the feed's delays."""
import os

import numpy as np
import pandas as pd
import pytest

from ctml_nb.demo import demo_data
from ctml_nb.data.labels import LabelFeedError, LabelLedger
from ctml_nb.pipeline.config import load_config
from ctml_nb.pipeline.label_feed import ledger_path
from ctml_nb.pipeline.runner import run_cycle

CONFIG = """\
name: feed
data:
  source: live.csv
  target: target
  time_column: timestamp
  labels: {{source: labels, key: id, label: label, time: arrived_at{policies}}}
model:
  factory: sklearn.tree:DecisionTreeClassifier
  params: {{max_depth: 5, random_state: 0}}
triggers:
  - {{kind: interval, params: {{rows: 1}}}}
promotion: {{kind: gate, params: {{metric: accuracy, n_boot: 100, min_delta: -1.0, test: none}}}}
timeout: 300
"""
DAY = 48   # Elec2 rows per day


def _elec2():
    "Elec2 with an id column: features and times in one table, labels in another with delays of 2 hours to 4 days"
    df = demo_data().iloc[:12 * DAY].copy()
    df.insert(0, "id", np.arange(100_000, 100_000 + len(df)))
    rng = np.random.default_rng(0)
    lab = pd.DataFrame({"id": df["id"], "label": df["target"],
                        "arrived_at": pd.to_datetime(df["timestamp"]) + pd.to_timedelta(rng.uniform(2, 96, len(df)), unit="h")})
    return df.drop(columns="target"), lab


def _project(tmp_path, policies=""):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pipeline.yaml").write_text(CONFIG.format(policies=policies))
    (tmp_path / "labels").mkdir(exist_ok=True)
    return load_config(tmp_path / "pipeline.yaml")


def _deliver(tmp_path, lab, upto, name):
    "Write, as one delivery file, the labels that arrived up to `upto` and were not delivered before"
    done = set()
    for f in (tmp_path / "labels").glob("*.csv"): done |= set(pd.read_csv(f)["id"])
    new = lab[(lab["arrived_at"] <= upto) & ~lab["id"].isin(done)]
    new.to_csv(tmp_path / "labels" / name, index=False)
    return new


def _cycle(tmp_path, cfg, data, lab, days, k):
    data.iloc[:days * DAY].to_csv(tmp_path / "live.csv", index=False)
    _deliver(tmp_path, lab, pd.Timestamp(data["timestamp"].iloc[days * DAY - 1]), f"d{k:02d}.csv")
    return run_cycle(cfg, progress=False)


def test_every_delivered_label_joined_exactly_once(tmp_path):
    cfg, (data, lab) = _project(tmp_path), _elec2()
    recs = [_cycle(tmp_path, cfg, data, lab, days, k) for k, days in enumerate((7, 8, 9, 10))]
    assert all(r.status == "succeeded" for r in recs), [r.reason for r in recs]
    feeds = [r.values["check"]["data"]["labels"] for r in recs]
    served = data.iloc[:10 * DAY]
    delivered = pd.concat([pd.read_csv(f) for f in sorted((tmp_path / "labels").glob("*.csv"))])
    expect = delivered[delivered["id"].isin(served["id"])].set_index("id")["label"].sort_index()
    led = LabelLedger.load(ledger_path(cfg))
    got = led.frame[led.frame["status"] == "joined"]
    assert not got["key"].duplicated().any()                                   # each key once
    assert got.set_index(got["key"].astype(int))["label"].astype(int).sort_index().to_dict() == expect.to_dict()
    assert sum(f["joined"] for f in feeds) == len(expect)                      # and counted once, in the records
    assert feeds[-1]["waiting"] == len(served) - len(expect)                   # the rest still waiting
    assert all(f["duplicate"] == f["conflict"] == f["unknown"] == 0 for f in feeds)
    d = feeds[-1]["delay"]
    assert d["rows"] == feeds[-1]["joined"] and pd.Timedelta(d["max"]) <= pd.Timedelta("4D")
    assert pd.Timedelta(d["p50"]) > pd.Timedelta("2h")
    # the steps see joined labels as labels: the label mark counts the leading labelled rows
    y = served["id"].map(expect)
    first_gap = int(np.argmax(y.isna().to_numpy())) if y.isna().any() else len(y)
    assert recs[-1].values["check"]["data"]["label_mark"] == first_gap
    # shown by `ctml show` and on the runs page
    from ctml_nb.reports.runs_page import runs_rows
    from ctml_nb.reports.text import record_text
    line = f"labels: {feeds[-1]['joined']} joined (delay p50 {d['p50']}"
    assert line in record_text(recs[-1], details=True)
    assert runs_rows(tmp_path / "runs")[0]["compare"]["data"]["labels"].startswith(f"{feeds[-1]['joined']} joined")


def _two_cycles(tmp_path, extra_rows, policies=""):
    "A first good cycle, then a second whose delivery holds `extra_rows` besides the day's labels; returns (cfg, record)"
    cfg, (data, lab) = _project(tmp_path, policies), _elec2()
    assert _cycle(tmp_path, cfg, data, lab, 7, 0).status == "succeeded"
    data.iloc[:8 * DAY].to_csv(tmp_path / "live.csv", index=False)
    new = _deliver(tmp_path, lab, pd.Timestamp(data["timestamp"].iloc[8 * DAY - 1]), "d01.csv")
    pd.concat([new, extra_rows(lab, new)]).to_csv(tmp_path / "labels" / "d01.csv", index=False)
    return cfg, run_cycle(cfg, progress=False)


def test_unknown_keys_wait_reported_or_refused(tmp_path):
    ghost = lambda lab, new: pd.DataFrame({"id": [1, 2], "label": [0, 1], "arrived_at": new["arrived_at"].iloc[:2].to_numpy()})
    cfg, rec = _two_cycles(tmp_path / "wait", ghost)
    f = rec.values["check"]["data"]["labels"]
    assert rec.status == "succeeded" and (f["unknown"], f["labels_waiting"]) == (2, 2)     # kept until their row comes
    cfg, rec = _two_cycles(tmp_path / "report", ghost, ", on_unknown: report")
    f = rec.values["check"]["data"]["labels"]
    assert rec.status == "succeeded" and (f["unknown"], f["labels_waiting"]) == (2, 0)
    cfg, rec = _two_cycles(tmp_path / "refuse", ghost, ", on_unknown: refuse")
    assert rec.status == "failed" and "2 unknown label(s)" in rec.reason and "on_unknown" in rec.reason


def test_duplicate_labels_reported_or_refused(tmp_path):
    again = lambda lab, new: new.iloc[:3]                              # three labels delivered twice, same values
    cfg, rec = _two_cycles(tmp_path / "report", again)
    f = rec.values["check"]["data"]["labels"]
    assert rec.status == "succeeded" and f["duplicate"] == 3 and f["conflict"] == 0
    cfg, rec = _two_cycles(tmp_path / "refuse", again, ", on_duplicate: refuse")
    assert rec.status == "failed" and "3 duplicated label(s)" in rec.reason


def test_conflicting_labels_refused_by_default_or_kept(tmp_path):
    flip = lambda lab, new: lab.iloc[:2].assign(label=1 - lab["label"].iloc[:2])   # already joined, other value
    from ctml_nb.core import ConfigError
    with pytest.raises(ConfigError, match=r"data.labels.on_conflict: .*\(file\(s\) d01.csv\): 2 conflicting label\(s\).*keep_first"):
        _two_cycles(tmp_path / "refuse", flip)                          # refused by the preflight, before any kernel
    cfg = load_config(tmp_path / "refuse" / "pipeline.yaml")
    assert LabelLedger.load(ledger_path(cfg)).seq == 1                  # nothing of the refused delivery joined
    assert len(list((tmp_path / "refuse" / "runs").glob("*/run.json"))) == 1   # and no second run began
    cfg, rec = _two_cycles(tmp_path / "first", flip, ", on_conflict: keep_first")
    f = rec.values["check"]["data"]["labels"]
    assert rec.status == "succeeded" and f["conflict"] == 2
    led = LabelLedger.load(ledger_path(cfg)).labels()
    assert led[str(_elec2()[1]["id"].iloc[0])] == _elec2()[1]["label"].iloc[0]


def test_wrongly_typed_labels_refused(tmp_path):
    words = lambda lab, new: pd.DataFrame({"id": [new["id"].iloc[0]], "label": ["up"], "arrived_at": [new["arrived_at"].iloc[0]]})
    cfg, rec = _two_cycles(tmp_path, words)
    assert rec.status == "failed" and "not numbers" in rec.reason and "'label'" in rec.reason


def test_crash_between_join_and_record_joins_nothing_twice(tmp_path, monkeypatch):
    cfg, (data, lab) = _project(tmp_path), _elec2()
    assert _cycle(tmp_path, cfg, data, lab, 7, 0).status == "succeeded"
    import ctml_nb.data.source_files as sf
    real = sf.FilesSource.labelled
    def dies(self, cursor): raise RuntimeError("killed after the ledger was written")
    monkeypatch.setattr(sf.FilesSource, "labelled", dies)               # the check step dies right after the join
    rec = _cycle(tmp_path, cfg, data, lab, 8, 1)
    assert rec.status == "failed"
    joined_in_crash = (LabelLedger.load(ledger_path(cfg)).frame["seq"] == 2).sum()
    assert joined_in_crash > 0
    monkeypatch.setattr(sf.FilesSource, "labelled", real)
    rec = run_cycle(cfg, progress=False)                                # the same data again, nothing new delivered
    assert rec.status == "succeeded", rec.reason
    f = rec.values["check"]["data"]["labels"]
    assert (f["delivered"], f["duplicate"], f["joined"]) == (0, 0, joined_in_crash)   # counted once, by the next record
    led = LabelLedger.load(ledger_path(cfg))
    assert not led.frame["key"].duplicated().any()


def test_crash_while_writing_the_ledger_loses_nothing(tmp_path, monkeypatch):
    cfg, (data, lab) = _project(tmp_path), _elec2()
    assert _cycle(tmp_path, cfg, data, lab, 7, 0).status == "succeeded"
    before = LabelLedger.load(ledger_path(cfg))
    real = os.replace
    def dies(a, b):
        if str(b).endswith("ledger.parquet"): raise OSError("disk gone")
        return real(a, b)
    monkeypatch.setattr(os, "replace", dies)
    assert _cycle(tmp_path, cfg, data, lab, 8, 1).status == "failed"
    assert LabelLedger.load(ledger_path(cfg)).seq == before.seq        # the old ledger, whole
    monkeypatch.setattr(os, "replace", real)
    rec = run_cycle(cfg, progress=False)
    f = rec.values["check"]["data"]["labels"]
    assert rec.status == "succeeded" and f["delivered"] > 0 and f["duplicate"] == 0


def test_backtest_replays_the_feeds_delays(tmp_path, monkeypatch, capsys):
    cfg, (data, lab) = _project(tmp_path), _elec2()
    data.to_csv(tmp_path / "live.csv", index=False)
    lab.iloc[::-1].to_csv(tmp_path / "labels" / "all.csv", index=False)    # delivered in any order
    from ctml_nb.cli import main
    from ctml_nb.pipeline.config import load_source
    from ctml_nb.pipeline.policy_config import feed_label_times, first_cycle_rows
    import importlib
    bt = importlib.import_module("ctml_nb.policy.backtest")   # the module (the package exports the function `backtest`)
    hist = load_source(cfg)
    assert (hist["target"].to_numpy() == demo_data()["target"].iloc[:len(hist)].to_numpy()).all()
    assert (feed_label_times(cfg, hist) == lab["arrived_at"].to_numpy()).all()
    seen = []
    real = bt.label_marks
    monkeypatch.setattr(bt, "label_marks", lambda *a: seen.append(real(*a)) or seen[-1])
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--batch-rows", str(DAY), "--json", "--no-progress"]) == 0
    (marks,) = seen
    n0 = first_cycle_rows(cfg)                           # the first cycle's rows (labelled from the start), then a day each
    ends = np.minimum(n0 + DAY * np.arange(1, len(marks) + 1), len(hist))
    assert ends[-1] == len(hist) and ends[-2] < len(hist)
    t, at = pd.to_datetime(hist["timestamp"]), lab["arrived_at"].to_numpy()
    for m, e in zip(marks, ends):                        # the mark: leading rows labelled by the batch's last time
        assert (at[n0:m] <= t.iloc[e - 1]).all() and (m == e or at[max(m, n0)] > t.iloc[e - 1])
    assert (marks < ends).all()                          # never all labelled at once: the delays are replayed
    seen.clear()
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--batch-rows", str(DAY), "--label-delay", "1",
                 "--no-progress"]) == 0 and not seen    # --label-delay still replaces them


def test_a_replay_reads_the_label_feed_once(tmp_path, monkeypatch, capsys):
    "`ctml backtest` and `ctml tune` join the feed once: the history loader hands on the arrival times it computed"
    cfg, (data, lab) = _project(tmp_path), _elec2()
    data.to_csv(tmp_path / "live.csv", index=False)
    lab.to_csv(tmp_path / "labels" / "all.csv", index=False)
    import ctml_nb.data.labels as labels
    from ctml_nb.cli import main
    calls, real = [], labels.join_history
    monkeypatch.setattr(labels, "join_history", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--batch-rows", str(DAY), "--json", "--no-progress"]) == 0
    assert len(calls) == 1
    from ctml_nb.pipeline.policy_config import backtest_config
    calls.clear(); backtest_config(cfg, batch_rows=DAY)   # the history read here: once too
    assert len(calls) == 1
    from ctml_nb.data.history import load_history
    hist, times = load_history(cfg.data, cfg.base_dir, label_times=True)
    assert (times == lab.set_index("id")["arrived_at"].reindex(hist["id"]).to_numpy()).all()   # each row's own label time


WEATHER = """\
name: weather
data:
  source: days
  target: weather
  time_column: date
  labels: {source: reviews, key: [station, day], time: reviewed_at}
model:
  factory: sklearn.ensemble:RandomForestClassifier
  params: {n_estimators: 10, random_state: 0, n_jobs: 1}
triggers:
  - {kind: interval, params: {rows: 1}}
promotion: {kind: gate, params: {metric: accuracy, n_boot: 100, min_delta: -1.0, test: none}}
timeout: 300
"""


def test_public_data_of_another_shape(tmp_path):
    "Seattle weather (vega_datasets' bundled copy): text classes, a two-column text key, folders of parquet files"
    from vega_datasets import local_data
    w = local_data.seattle_weather().iloc[:420]
    w = w.assign(station="SEA", day=w["date"].dt.strftime("d%Y%m%d"),   # two text classes: 'fog' first comes after a year
                 weather=np.where(w["weather"].isin(["rain", "drizzle", "snow"]), "wet", "dry"))
    rng = np.random.default_rng(1)
    lab = w[["station", "day", "weather"]].assign(
        reviewed_at=w["date"] + pd.to_timedelta(rng.integers(0, 20, len(w)), unit="D") + pd.Timedelta("18h"))
    for d in ("days", "reviews"): (tmp_path / d).mkdir()
    (tmp_path / "pipeline.yaml").write_text(WEATHER)
    cfg = load_config(tmp_path / "pipeline.yaml")
    recs, cut = [], [240, 300, 360, 420]
    for k, (a, b) in enumerate(zip([0] + cut[:-1], cut)):
        w.iloc[a:b].drop(columns="weather").to_parquet(tmp_path / "days" / f"{k:02d}.parquet")
        now = w["date"].iloc[b - 1] + pd.Timedelta("1D")
        due = lab[(lab["reviewed_at"] <= now) & (lab["reviewed_at"] > (w["date"].iloc[a - 1] + pd.Timedelta("1D") if a else pd.Timestamp(0)))]
        due.iloc[::-1].to_parquet(tmp_path / "reviews" / f"{k:02d}.parquet")   # in any order
        recs.append(run_cycle(cfg, progress=False))
        assert recs[-1].status == "succeeded", recs[-1].reason
    led = LabelLedger.load(ledger_path(cfg))
    got = led.frame[led.frame["status"] == "joined"].set_index("key")["label"].sort_index()
    sent = pd.concat([pd.read_parquet(f) for f in sorted((tmp_path / "reviews").glob("*.parquet"))])
    want = sent.assign(key=sent["station"] + "\x1f" + sent["day"]).set_index("key")["weather"].sort_index()
    assert got.to_dict() == want.to_dict() and not sent.duplicated(["station", "day"]).any()
    feeds = [r.values["check"]["data"]["labels"] for r in recs]
    assert sum(f["joined"] for f in feeds) == len(want) and feeds[-1]["waiting"] == 420 - len(want)
    assert feeds[-1]["unknown"] == 0 and feeds[-1]["delay"]["rows"] == feeds[-1]["joined"]
    # a review of a class that is a number: refused, the delivery joins nothing
    pd.DataFrame({"station": ["SEA"], "day": [w["day"].iloc[-1]], "weather": [3],
                  "reviewed_at": [w["date"].iloc[-1] + pd.Timedelta("2D")]}).to_parquet(tmp_path / "reviews" / "99.parquet")
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and "holds numbers (e.g. 3)" in rec.reason and "99.parquet" in rec.reason


def test_preflight_names_the_feed_key_before_any_kernel(tmp_path, capsys):
    from ctml_nb.cli import main
    cfg, (data, lab) = _project(tmp_path), _elec2()
    data.iloc[:7 * DAY].to_csv(tmp_path / "live.csv", index=False)
    lab.iloc[:DAY].rename(columns={"id": "row"}).to_csv(tmp_path / "labels" / "d00.csv", index=False)
    assert main(["run", "--config", str(tmp_path / "pipeline.yaml"), "--no-progress"]) == 2
    assert "data.labels.key: column 'id' is not in data.labels.source 'labels'" in capsys.readouterr().err
    lab.iloc[:DAY].to_csv(tmp_path / "labels" / "d00.csv", index=False)
    (tmp_path / "pipeline.yaml").write_text(CONFIG.format(policies="").replace("time: arrived_at", "time: confirmed"))
    assert main(["run", "--config", str(tmp_path / "pipeline.yaml"), "--no-progress"]) == 2
    assert "data.labels.time: column 'confirmed' is not in" in capsys.readouterr().err
    (tmp_path / "pipeline.yaml").write_text(CONFIG.format(policies=", on_conflict: newest"))
    assert main(["run", "--config", str(tmp_path / "pipeline.yaml"), "--no-progress"]) == 2
    assert "data.labels.on_conflict: expected one of refuse, keep_first, keep_last" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "labels").exists()


def test_tune_replays_the_feeds_delays_and_adds_estimated_candidates(tmp_path, monkeypatch, capsys):
    "Labels K batches (days) late through the feed: the tuner's replay waits for them, and estimated candidates join the space"
    import dataclasses
    import ctml_nb.policy.tune as tune
    from ctml_nb.pipeline.tuning import tune_config
    K, data = 2, demo_data().iloc[:48 * DAY].reset_index(drop=True)
    data.insert(0, "id", np.arange(len(data)))
    lab = pd.DataFrame({"id": data["id"], "label": data.pop("target"),
                        "arrived_at": pd.to_datetime(data["timestamp"]) + pd.Timedelta(days=K)})
    cfg = _project(tmp_path)
    data.to_csv(tmp_path / "live.csv", index=False)
    lab.to_csv(tmp_path / "labels" / "all.csv", index=False)
    hist = data.assign(target=lab["label"].to_numpy())
    perf = [f"performance(accuracy, max_drop={d})" for d in (0.02, 0.05, 0.1)]
    real = tune.default_space   # a few of the default candidates keep the test fast; the estimated ones are added after it
    monkeypatch.setattr(tune, "default_space", lambda *a, **k: [p for p in real(*a, **k) if p.name in ["never"] + perf])
    monkeypatch.setattr(tune, "refine_space", lambda *a, **k: [])
    def tuned(c, h):
        r = tune_config(c, 0.0, h, progress=False, batch_rows=DAY)
        return r, [b.results[k].frame for b in r._tuning.blocks for k in perf]
    late, frames = tuned(cfg, hist)
    est = [k for k in late.search.results if k.startswith("estimated_performance") or k.startswith("any(estimated")]
    assert len(est) == 5 and all(late.search.results[k].totals["batches"] for k in est)
    on_time, frames0 = tuned(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, labels=None)), hist.drop(columns="id"))
    assert not [k for k in on_time.search.results if "estimated" in k]      # labels on time: the space stays as it is
    first = lambda f: next((int(b) for b, r in zip(f["batch"], f["retrained"]) if r and b > 0), None)   # batch 0: the first model
    fired = [(first(a), first(b)) for a, b in zip(frames, frames0) if first(b) is not None and first(b) + K < len(b) - 1]
    assert len(fired) >= 3 and all(a == b + K for a, b in fired), fired   # the same drop, seen K batches later
    why = " ".join(late.search.results[est[0]].frame["reasons"].fillna(""))
    assert "estimated accuracy" in why, why   # the estimated trigger fired on unlabelled rows, before their labels came
    ev = late.evaluation.utility(0.0)   # the optimum replays the feed's arrival times too: it bounds every policy judged
    assert isinstance(late.hindsight, dict) and late.hindsight["utility"] >= ev.max() - 1e-12, (late.hindsight, ev.to_dict())


def test_served_keys_indexed_as_served_and_a_lost_part_loses_nothing(tmp_path, monkeypatch):
    "Each cycle appends its served rows' keys to the index and reads no older rows; a removed part: one full read, same joins"
    from ctml_nb.data.labels import key_strings
    from ctml_nb.data.source_kinds import open_source
    from ctml_nb.pipeline.label_feed import SERVED_DIR
    import ctml_nb.data.source_files as sf
    cfg, (data, lab) = _project(tmp_path), _elec2()
    full, real = [], sf.FilesSource.read
    def read(self, since=None, upto=None, columns=None, cursor=None):
        if since is None and columns is not None and "id" in columns and "target" in columns: full.append(len(columns))
        return real(self, since, upto, columns, cursor)
    monkeypatch.setattr(sf.FilesSource, "read", read)
    import ctml_nb.pipeline.label_feed as lf
    monkeypatch.setattr(lf, "COMPACT_PARTS", 2)                        # the third cycle merges the first two parts
    recs = [_cycle(tmp_path, cfg, data, lab, days, k) for k, days in enumerate((7, 8, 9))]
    assert all(r.status == "succeeded" for r in recs) and not full    # no cycle read the served keys back
    idx = tmp_path / "runs" / SERVED_DIR
    parts = sorted(idx.glob("*.parquet"))
    assert [p.stem for p in parts] == [f"{a:012d}-{b:012d}" for a, b in ((0, 8 * DAY), (8 * DAY, 9 * DAY))]
    keys = pd.concat([pd.read_parquet(p) for p in parts])["key"]
    assert keys.tolist() == key_strings(data.iloc[:9 * DAY], ["id"]).tolist()
    parts[1].unlink()                                                   # a part lost
    rec = _cycle(tmp_path, cfg, data, lab, 10, 3)
    assert rec.status == "succeeded" and len(full) == 1                 # read back once
    assert [p.stem for p in idx.glob("*.parquet")] == [f"{0:012d}-{10 * DAY:012d}"]
    led = LabelLedger.load(ledger_path(cfg)).frame
    delivered = pd.concat([pd.read_csv(f) for f in sorted((tmp_path / "labels").glob("*.csv"))])
    served = delivered[delivered["id"].isin(data["id"].iloc[:10 * DAY])]
    assert not led["key"].duplicated().any() and (led["status"] == "joined").sum() == len(served)
    assert rec.values["check"]["data"]["labels"]["waiting"] == 10 * DAY - len(served)


def _feed_cycles(tmp_path, hint:bool, monkeypatch, max_wait=None):
    "Six cycles of the check step's data part on a folder of daily parquet files; one early label never arrives"
    import json
    import ctml_nb.data.source_files as sf
    from ctml_nb.core import to_jsonable
    from ctml_nb.pipeline.batches import cycle_data
    from ctml_nb.pipeline.config import parse_config
    data, lab = _elec2()
    lost = data["id"].iloc[30]
    lab = lab[lab["id"] != lost]
    (tmp_path / "data").mkdir(parents=True); (tmp_path / "labels").mkdir()
    cfg = parse_config({"name": "p", "data": {"source": "data", "target": "target", "time_column": "timestamp",
                        "labels": {"source": "labels", "key": "id", "label": "label", "time": "arrived_at"}},
                        "model": {"factory": "sklearn.dummy:DummyClassifier"}}, tmp_path)
    read, real_read, real_labelled = [], sf.FilesSource._read, sf.FilesSource.labelled
    def labelled(self, cursor, unlabelled=None):
        self._in_labelled, self.max_label_wait = True, max_wait   # what a source opened with `max_label_wait` gives up on
        try: return real_labelled(self, cursor, unlabelled if hint else None)
        finally: self._in_labelled = False
    def _read(self, *a, **k):
        out = real_read(self, *a, **k)
        if getattr(self, "_in_labelled", False): read.append(len(out))
        return out
    monkeypatch.setattr(sf.FilesSource, "labelled", labelled); monkeypatch.setattr(sf.FilesSource, "_read", _read)
    cursor, out, t = "", [], pd.to_datetime(data["timestamp"])
    for k, days in enumerate(range(3, 9)):
        data.iloc[(days - 1) * DAY if k else 0:days * DAY].to_parquet(tmp_path / "data" / f"{k:02d}.parquet")
        since = t.iloc[(days - 1) * DAY - 1] if k else pd.Timestamp.min
        lab[(lab["arrived_at"] <= t.iloc[days * DAY - 1]) & (lab["arrived_at"] > since)].to_parquet(tmp_path / "labels" / f"{k:02d}.parquet")
        d = cycle_data(cfg, cursor)
        cursor = json.dumps(to_jsonable(d.cursor))
        out.append((d.label_mark, d.cursor["label_from"], d.labels["waiting"]))
    monkeypatch.undo()
    return out, read


@pytest.mark.parametrize("max_wait", [None, "2D"])
def test_a_label_that_never_arrives_does_not_make_every_cycle_read_back(tmp_path, monkeypatch, max_wait):
    "The feed knows which served rows wait: `labelled` reads up to the first that blocks, with the same marks as a full read"
    fast, read = _feed_cycles(tmp_path / "hint", True, monkeypatch, max_wait)
    full, read_all = _feed_cycles(tmp_path / "full", False, monkeypatch, max_wait)
    assert [f[:3] for f in fast] == [f[:3] for f in full]          # the same label marks, frontiers and waiting rows
    if max_wait is None:
        assert all(m == 30 for m, *_ in full[2:])                  # pinned at the row whose label never comes
        assert read[3:] == [1, 1, 1] and read_all[-1] > 6 * DAY    # once pinned, the row itself only; a full read goes back to it each cycle


@pytest.mark.parametrize("argv", [["run"], ["backtest", "--batch-rows", "96", "--initial-rows", "200"],
                                  ["tune", "--retrain-cost", "0.01", "--batch-rows", "96", "--initial-rows", "200"]])
def test_a_conflicting_delivery_is_exit_2_in_every_command(tmp_path, capsys, argv):
    "The default `on_conflict: refuse`: `ctml run`, `backtest --config` and `tune --config` exit 2 naming the key and the options"
    from ctml_nb.cli import EXIT_USAGE, main
    flip = lambda lab, new: lab.iloc[:2].assign(label=1 - lab["label"].iloc[:2])
    from ctml_nb.core import ConfigError
    with pytest.raises(ConfigError): _two_cycles(tmp_path, flip)   # the first cycle ran; the second delivery conflicts
    capsys.readouterr()
    assert main(argv + ["--config", str(tmp_path / "pipeline.yaml"), "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "2 conflicting label(s)" in err and "on_conflict" in err and "keep_first" in err and "Traceback" not in err, err


def test_failed_cycles_claim_their_joins_once(tmp_path, monkeypatch):
    "Cycles failing after the join (in the check step, in the retrain step, before any record): the records' `joined` add up to the ledger's"
    import ctml_nb.pipeline.context as context
    import ctml_nb.data.source_files as sf
    cfg, (data, lab) = _project(tmp_path), _elec2()
    def dies(*a, **k): raise RuntimeError("a step failed after the join")
    fails = {1: (context, "served_scores"), 2: (context, "retrain_candidate"), 4: (sf.FilesSource, "labelled")}  # the last: no record of the join
    recs = []
    for k, days in enumerate((7, 8, 9, 9, 10, 10)):
        with monkeypatch.context() as m:
            if k in fails: m.setattr(*fails[k], dies)
            recs.append(_cycle(tmp_path, cfg, data, lab, days, k))
    assert [r.status for r in recs] == ["succeeded", "failed", "failed", "succeeded", "failed", "succeeded"], \
        [r.reason for r in recs]
    feeds = [(r.values.get("check") or {}).get("data", {}).get("labels") for r in recs]
    assert feeds[1]["joined"] > 0 and feeds[4] is None            # a failed check that recorded its join; one that died first
    led = LabelLedger.load(ledger_path(cfg)).frame
    joined = int((led["status"] == "joined").sum())
    assert sum(f["joined"] for f in feeds if f) == joined, [f and f["joined"] for f in feeds]
    assert feeds[3]["joined"] == 0 and feeds[5]["joined"] == int((led["seq"] == 5).sum()) > 0   # no join claimed twice; an unclaimed one once
