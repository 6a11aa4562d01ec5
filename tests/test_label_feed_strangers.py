"""The label feed on shapes its own tests did not use (found by trying it as a stranger would, on public tables with a
separate labels table): each test names the class of fault it locks."""
import numpy as np
import pandas as pd
import pytest

from ctml_nb.data.labels import LabelLedger, check_delivery, check_policies, join_delivery


def _ledger_roundtrip(tmp_path, labels, kind=None):
    "Deliver `labels` for keys a, b, c, save the ledger and read it back: the joined labels"
    df = pd.DataFrame({"id": ["a", "b", "c"][:len(labels)], "y": labels})
    new = check_delivery(df, ["id"], "y", kind=kind)
    led, _ = join_delivery(LabelLedger(), new, {"a", "b", "c"}, check_policies({}))
    led.save(tmp_path / "ledger.parquet")
    return LabelLedger.load(tmp_path / "ledger.parquet").labels()


def test_boolean_labels_stay_booleans_in_the_ledger(tmp_path):
    "Class: True/False labels were stored as the text 'True'/'False', so the next delivery of booleans was refused as numbers for text classes"
    got = _ledger_roundtrip(tmp_path, [True, False, True])
    assert [type(v) for v in got.tolist()] == [bool] * 3 and got.tolist() == [True, False, True]
    from ctml_nb.data.labels import label_kind
    assert label_kind(got) is None                                    # so the next boolean delivery is accepted
    check_delivery(pd.DataFrame({"id": ["d"], "y": [False]}), ["id"], "y", kind=label_kind(got))


def test_boolean_labels_for_a_0_1_target_join_as_its_classes(tmp_path):
    "Class: True/False delivered for a 0/1 target joined as other classes (and as text once saved)"
    got = _ledger_roundtrip(tmp_path, [True, False, True], kind="number")
    assert got.tolist() == [1, 0, 1] and pd.api.types.is_integer_dtype(got)


def test_a_label_that_never_arrives_is_named_with_what_it_holds_back(tmp_path):
    "Class: one served row whose label never came held every later labelled row back (no scoring, no retrain) with nothing saying why"
    from test_label_feed import _cycle, _elec2, _project
    from ctml_nb.reports.text import labels_text
    cfg, (data, lab) = _project(tmp_path), _elec2()
    lost = data["id"].iloc[3]
    lab = lab[lab["id"] != lost]
    recs = [_cycle(tmp_path, cfg, data, lab, days, k) for k, days in enumerate((7, 8))]
    f = recs[-1].values["check"]["data"]["labels"]
    o = f["oldest_waiting"]
    assert (o["row"], o["key"]) == (4, str(lost))
    assert o["labelled_behind"] == 8 * 48 - f["waiting"] - 3 and o["labelled_behind"] > 250   # all labelled rows after it
    assert recs[-1].values["check"]["data"]["label_mark"] == 3                  # the mark stops there, as the message says
    assert f"row 4 (key '{lost}'" in labels_text(recs[-1].to_dict())


def test_labels_held_for_rows_not_served_are_counted_unknown_once():
    "Class: a label held (`on_unknown: wait`) was counted again as an unknown delivery in every later cycle"
    pol = check_policies({})
    d1 = check_delivery(pd.DataFrame({"id": ["a", "x", "later"], "y": [1, 0, 1]}), ["id"], "y")
    led, c1 = join_delivery(LabelLedger(), d1, {"a"}, pol)
    d2 = check_delivery(pd.DataFrame({"id": ["b"], "y": [0]}), ["id"], "y")
    led, c2 = join_delivery(led, d2, {"a", "b"}, pol)
    d3 = check_delivery(pd.DataFrame({"id": ["c"], "y": [0]}), ["id"], "y")
    led, c3 = join_delivery(led, d3, {"a", "b", "c", "later"}, pol)
    assert [c["unknown"] for c in (c1, c2, c3)] == [2, 0, 0]                   # delivered once, counted once
    assert [c["labels_waiting"] for c in (c1, c2, c3)] == [2, 2, 1]            # still held until its row comes
    assert [c["joined"] for c in (c1, c2, c3)] == [1, 1, 2] and led.labels().to_dict() == {"a": 1, "b": 0, "c": 0, "later": 1}


def test_a_feed_file_rewritten_with_rows_before_its_end_is_refused_not_half_read(tmp_path):
    "Class: a labels file (or `module:function` output) re-exported sorted by key, not appended to: the rows past the count read before were taken as new, labels inserted before them were lost silently and old ones counted as duplicates"
    from ctml_nb.core import InputError
    from ctml_nb.data.labels import open_feed
    lab = pd.DataFrame({"sku": range(10), "y": range(10), "at": [0, 5, 1, 6, 2, 7, 3, 8, 4, 9]})
    lab[lab["at"] <= 4].to_csv(tmp_path / "l.csv", index=False)
    feed = open_feed(str(tmp_path / "l.csv"), "y")
    b = feed.next_batch(None, late="include")
    assert b.rows["sku"].tolist() == [0, 2, 4, 6, 8]
    lab.to_csv(tmp_path / "l.csv", index=False)                              # sorted by key: 1, 3, 5 ... inserted
    with pytest.raises(InputError, match=r"l.csv: row 5, the last read before, changed.*append new rows"):
        feed.next_batch(b.cursor, late="include")
    pd.concat([lab[lab["at"] <= 4], lab[lab["at"] > 4]]).to_csv(tmp_path / "l.csv", index=False)   # appended: fine
    assert sorted(feed.next_batch(b.cursor, late="include").rows["sku"]) == [1, 3, 5, 7, 9]
    lab[lab["at"] <= 4].assign(y=lambda d: d["y"].where(d["sku"] != 8)).to_csv(tmp_path / "l.csv", index=False)
    b = feed.next_batch(None, late="include")                                # a label blanked, then filled in place: fine
    lab[lab["at"] <= 4].assign(y=lambda d: d["y"].astype(float)).to_csv(tmp_path / "l.csv", index=False)
    assert len(feed.next_batch(b.cursor, late="include").rows) == 0


def test_unknown_counted_once_when_reported_too():
    "The count of unknown labels under `on_unknown: report` (dropped, not held), alongside held ones"
    d1 = check_delivery(pd.DataFrame({"id": ["a", "x", "y"], "y": [1, 0, 1]}), ["id"], "y")
    led, c1 = join_delivery(LabelLedger(), d1, {"a"}, check_policies({"on_unknown": "report"}))
    assert (c1["unknown"], c1["labels_waiting"], c1["joined"]) == (2, 0, 1)


def test_a_label_mark_that_did_not_move_reads_an_empty_window():
    "Class: a cycle where no row was newly labelled (the oldest row still waiting) asked for rows [mark, mark) before the window it read, and failed ('rows from 180 were not read')"
    from ctml_nb.core import InputError
    from ctml_nb.pipeline.batches import CycleData
    h = pd.DataFrame({"x": range(60)})
    d = CycleData(h, 200, h, h.iloc[:0], "reject", {"label_mark": 180}, {"rows": 260, "label_mark": 180})
    assert len(d.rows(180, 180)) == 0 and list(d.rows(180, 180).columns) == ["x"]
    assert d.rows(210, 212)["x"].tolist() == [10, 11]
    with pytest.raises(InputError, match="rows from 180 were not read"): d.rows(180, 190)


def test_boolean_labels_with_rows_waiting_make_a_boolean_target():
    "Class: True/False joined into a target column with rows still waiting became Python objects, which scikit-learn refuses ('Unknown label type')"
    from sklearn.utils.multiclass import type_of_target
    from ctml_nb.data.labels import LabelJoin
    labels = pd.Series([True, False], index=["a", "b"])
    df = pd.DataFrame({"id": ["a", "b", "c"], "x": [1, 2, 3], "y": [float("nan")] * 3})   # target column present, empty
    for frame in (df, df.drop(columns="y")):                                   # or absent from the data
        y = LabelJoin(["id"], "y", labels, "y" in frame)(frame)["y"]
        assert str(y.dtype) == "boolean" and y.isna().tolist() == [False, False, True]
        assert type_of_target(y.iloc[:2]) == "binary"


def _lost(tmp_path, share=0.1, max_wait="4D", late=()):
    "Elec2 with `share` of its labels never delivered and the ids in `late` delivered 6 days after their row; `data.labels.max_wait`"
    from test_label_feed import CONFIG, _elec2
    from ctml_nb.pipeline.config import load_config
    data, lab = _elec2()
    rng = np.random.default_rng(1)
    lost = set(data["id"].iloc[5:][rng.random(len(data) - 5) < share])   # the first rows (the first model's) too, from row 6
    lab = lab[~lab["id"].isin(lost - set(late))].copy()
    is_late = lab["id"].isin(late)
    lab.loc[is_late, "arrived_at"] = pd.to_datetime(data.set_index("id").loc[lab.loc[is_late, "id"], "timestamp"]).to_numpy() + pd.Timedelta("6D")
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = CONFIG.format(policies="").replace("time: arrived_at}", f"time: arrived_at, max_wait: {max_wait}}}")
    (tmp_path / "pipeline.yaml").write_text(cfg)
    (tmp_path / "labels").mkdir(exist_ok=True)
    return load_config(tmp_path / "pipeline.yaml"), data, lab, lost - set(late)


def test_lost_labels_are_given_up_after_max_wait_and_the_rows_after_them_scored_and_trained(tmp_path, monkeypatch):
    "Class: a label that never came held the (position-based) label mark for ever: nothing after it scored, every retrain refused; a backtest replays the same rule"
    from test_label_feed import DAY, _cycle
    from ctml_nb.pipeline.label_feed import ledger_path
    from ctml_nb.reports.text import labels_text
    late_id = 100_000 + 5 * DAY + 5                         # its label comes 6 days after the row: given up on first
    cfg, data, lab, lost = _lost(tmp_path, late=(late_id,))
    days = (7, 8, 10, 11, 12)
    recs = [_cycle(tmp_path, cfg, data, lab, d, k) for k, d in enumerate(days)]
    assert all(r.status == "succeeded" for r in recs), [r.reason for r in recs]
    vals = [r.values["check"]["data"] for r in recs]
    feeds = [v["labels"] for v in vals]
    t = pd.to_datetime(data["timestamp"])
    for v, f, d in zip(vals, feeds, days):
        wm = t.iloc[d * DAY - 1]
        old = (t <= wm - pd.Timedelta("4D")).to_numpy()[:d * DAY]
        ids = data["id"].iloc[:d * DAY]
        arrived = ids.isin(lab.loc[lab["arrived_at"] <= wm, "id"]).to_numpy()
        block = ~arrived & ~old                              # waiting, not given up yet
        assert v["label_mark"] == (int(block.argmax()) if block.any() else d * DAY)   # the mark passes the rows given up on
        assert f["waiting"] == int(block.sum())
    planted = data["id"].iloc[:days[-1] * DAY][(t <= t.iloc[days[-1] * DAY - 1] - pd.Timedelta("4D")).to_numpy()[:days[-1] * DAY]]
    assert sum(f["given_up"] for f in feeds) == len(set(planted) & (lost | {late_id}))   # counted once each, as planted
    assert sum(f["late_after_giving_up"] for f in feeds) == 1                          # the late one, reported
    led = LabelLedger.load(ledger_path(cfg))
    got = led.frame[led.frame["status"] == "joined"]
    served = data["id"].iloc[:days[-1] * DAY]
    delivered = lab[(lab["arrived_at"] <= t.iloc[days[-1] * DAY - 1]) & lab["id"].isin(served)]
    assert not got["key"].duplicated().any() and set(got["key"].astype(int)) == set(delivered["id"])   # each delivered label once
    assert sum(f["joined"] for f in feeds) == len(delivered)
    assert late_id in set(got["key"].astype(int))                                      # joined (counted late), never scored
    first_lost = t[data["id"].isin(lost).to_numpy()].min()
    for r, d in zip(recs, days):                             # each retrain: every labelled row up to its window's end, the lost ones left out
        tr, wm = r.values["retrain"]["retrain"], t.iloc[d * DAY - 1]
        upto = (t <= pd.Timestamp(tr["window_end"])).to_numpy()
        assert tr["rows"] == int((upto & data["id"].isin(lab.loc[lab["arrived_at"] <= wm, "id"]).to_numpy()).sum())
        assert pd.Timestamp(tr["window_end"]) > first_lost + pd.Timedelta("1D")
    assert vals[-1]["label_mark"] > 8 * DAY and vals[-1]["newly_labelled"] >= DAY     # later rows labelled and passed
    assert "given up" in labels_text(recs[-1].to_dict())
    # `ctml backtest --config` on the same history: its label mark after each day is where `ctml run`'s was
    import importlib
    from ctml_nb.cli import main
    bt, seen = importlib.import_module("ctml_nb.policy.backtest"), []
    real = bt.label_marks
    monkeypatch.setattr(bt, "label_marks", lambda *a: seen.append(real(*a)) or seen[-1])
    in_feed = data["id"].iloc[:days[-1] * DAY].isin(lab["id"]).to_numpy() & (t.iloc[:days[-1] * DAY] <= t.iloc[days[-1] * DAY - 1]).to_numpy()
    in_feed &= data["id"].iloc[:days[-1] * DAY].isin(lab.loc[lab["arrived_at"] <= t.iloc[days[-1] * DAY - 1], "id"]).to_numpy()
    n0 = int(in_feed[:3 * DAY].sum())                          # the first model: the first 3 days' labelled rows, then a day a batch
    assert main(["backtest", "--config", str(tmp_path / "pipeline.yaml"), "--batch-every", "1D", "--initial-rows", str(n0),
                 "--json", "--no-progress"]) == 0
    (marks,) = seen
    from ctml_nb.data.history import load_history
    hist = load_history(cfg.data, cfg.base_dir)
    n0_, starts = bt.batch_bounds(hist, "target", batch_every="1D", initial_rows=n0, time_column="timestamp")
    end_at = pd.to_datetime(hist["timestamp"]).iloc[np.r_[starts[1:], len(hist)] - 1].to_numpy()
    same = 0
    for v, d in zip(vals[1:], days[1:]):                      # the batch ending where the cycle's watermark is (day 7's mark is in the first model's rows)
        k = int(np.searchsorted(end_at, t.iloc[d * DAY - 1].to_datetime64(), side="right")) - 1
        if end_at[k] != t.iloc[d * DAY - 1].to_datetime64(): continue   # the day's last rows still wait for labels: the replay's batch ends earlier
        same += 1
        assert marks[k] == int(in_feed[:v["label_mark"]].sum()), d   # the same rows scored, in the rows the replay keeps
    assert same >= 2


def test_max_wait_is_checked_naming_the_key(tmp_path):
    from ctml_nb.core import ConfigError
    for bad in ("30", "soon", "-2D"):
        with pytest.raises(ConfigError, match="data.labels.max_wait: expected a positive duration"):
            _lost(tmp_path / "x", max_wait=bad)


def test_without_a_time_column_max_wait_counts_rows_served_after(tmp_path):
    "Class: the same lost labels with rows in arrival order (no time column): a label is given up once `max_wait` rows were served after its row"
    from test_label_feed import CONFIG, DAY, _elec2
    from ctml_nb.pipeline.config import load_config
    from ctml_nb.pipeline.runner import run_cycle
    data, lab = _elec2()
    data = data.drop(columns="timestamp")
    lost = set(data["id"].iloc[[20, 150, 170, 300]])
    (tmp_path / "labels").mkdir(parents=True)
    cfg = CONFIG.format(policies="").replace("  time_column: timestamp\n", "").replace(", time: arrived_at}", ", max_wait: 60}")
    (tmp_path / "pipeline.yaml").write_text(cfg)
    cfg = load_config(tmp_path / "pipeline.yaml")
    marks, given, sent = [], 0, set()
    for k, n in enumerate((200, 260, 400)):
        data.iloc[:n].to_csv(tmp_path / "live.csv", index=False)
        new = lab[lab["id"].isin(data["id"].iloc[:n]) & ~lab["id"].isin(lost | sent)].drop(columns="arrived_at")
        new.to_csv(tmp_path / "labels" / f"d{k}.csv", index=False)   # every label of the rows served, as they come
        sent |= set(new["id"])
        r = run_cycle(cfg, progress=False)
        assert r.status == "succeeded", r.reason
        v = r.values["check"]["data"]
        marks.append(v["label_mark"]); given += v["labels"]["given_up"]
    assert marks == [150, 260, 400]     # row 151 holds the mark until 60 rows were served after it; rows 171, 301 the same
    assert given == 4
