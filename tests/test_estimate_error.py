"""The estimate beside the realised metric: a cycle's estimate made without labels is settled once every label of its batch
has arrived (the same cycle, or days later through a label feed), against the metric of the predictions served then on
those very rows; the error is their difference, tracked over time on `ctml show` and the runs page."""
import numpy as np
import pandas as pd

from ctml_nb.demo import demo_data
from ctml_nb.pipeline.config import load_config
from ctml_nb.pipeline.runner import run_cycle

CONFIG = """\
name: est
data:
  source: live.csv
  target: target
  time_column: timestamp
{labels}model:
  factory: sklearn.tree:DecisionTreeClassifier
  params: {{max_depth: 5, random_state: 0}}
triggers:
  - {{kind: performance, params: {{metric: accuracy, floor: 0.0, min_rows: 20}}}}
promotion: {{kind: gate, params: {{metric: accuracy, n_boot: 100, min_delta: -1.0, test: none}}}}
timeout: 300
"""
DAY = 48   # Elec2 rows per day


def _project(tmp_path, feed:bool):
    labels = "  labels: {source: labels, key: id, label: label, time: arrived_at}\n" if feed else ""
    (tmp_path / "pipeline.yaml").write_text(CONFIG.format(labels=labels))
    (tmp_path / "labels").mkdir(exist_ok=True)
    return load_config(tmp_path / "pipeline.yaml")


def _elec2(days):
    "Elec2 with an id column, and its labels in a table of their own arriving 2 hours to 2 days after their row"
    df = demo_data().iloc[:days * DAY].copy()
    df.insert(0, "id", np.arange(100_000, 100_000 + len(df)))
    rng = np.random.default_rng(0)
    lab = pd.DataFrame({"id": df["id"], "label": df["target"],
                        "arrived_at": pd.to_datetime(df["timestamp"]) + pd.to_timedelta(rng.uniform(2, 48, len(df)), unit="h")})
    return df, lab


def _feed_cycle(tmp_path, cfg, data, lab, days, k):
    "Serve `days` days of rows (no labels in them), and deliver the labels that arrived by then in a file of their own"
    data.drop(columns="target").iloc[:days * DAY].to_csv(tmp_path / "live.csv", index=False)
    upto = pd.Timestamp(data["timestamp"].iloc[days * DAY - 1])
    done = set().union(*[set(pd.read_csv(f)["id"]) for f in (tmp_path / "labels").glob("*.csv")])
    lab[(lab["arrived_at"] <= upto) & ~lab["id"].isin(done)].to_csv(tmp_path / "labels" / f"d{k:02d}.csv", index=False)
    return run_cycle(cfg, progress=False)


def _estimates(recs):
    "{run_id: (estimate, batch span)} of the cycles that estimated their batch"
    out = {}
    for r in recs:
        c = r.values["check"]
        if (c.get("estimated_performance") or {}).get("value") is not None:
            out[r.run_id] = (c["estimated_performance"]["value"], (c["data"]["rows_seen"] - c["data"]["batch_rows"], c["data"]["rows_seen"]))
    return out


def test_labels_from_a_feed_settle_each_estimate_once_on_the_rows_served(tmp_path):
    cfg, (data, lab) = _project(tmp_path, feed=True), _elec2(13)
    recs = [_feed_cycle(tmp_path, cfg, data, lab, days, k) for k, days in enumerate(range(7, 13))]
    assert all(r.status in ("succeeded", "skipped") for r in recs), [r.reason for r in recs]
    est = _estimates(recs)
    assert len(est) >= 3, [r.values["check"].get("estimated_performance") for r in recs]
    settled = [e for r in recs for e in (r.values["check"].get("estimate_error") or {}).get("settled", [])]
    by_run = {}
    for e in settled: by_run.setdefault(e["run_id"], []).append(e)
    assert by_run and all(len(v) == 1 for v in by_run.values())             # each estimate settled exactly once
    truth = lab.set_index("id")["label"]
    for run_id, (e,) in by_run.items():
        value, span = est[run_id]
        assert (e["estimate"], (e["from_row"], e["to_row"])) == (value, span)   # the estimate made for those rows
        served = pd.read_parquet(tmp_path / "runs" / run_id / "predictions.parquet")
        rows = data.iloc[span[0]:span[1]]
        assert (pd.to_datetime(served["position"]).to_numpy() == pd.to_datetime(rows["timestamp"]).to_numpy()).all()
        realised = float((served["prediction"].to_numpy() == truth.loc[rows["id"]].to_numpy()).mean())
        assert abs(e["realised"] - realised) < 1e-12 and abs(e["error"] - (value - realised)) < 1e-12
    # a batch is settled only once all its labels arrived: the later cycle that settles it is never the one that served it
    assert all(r.run_id not in [e["run_id"] for e in (r.values["check"].get("estimate_error") or {}).get("settled", [])] for r in recs)
    # tracked over time: the newest record's summary is the mean |error| of the settled estimates
    recent = recs[-1].values["check"]["estimate_error"]["recent"]
    errs = [e["error"] for e in settled][-10:]
    assert recent["n"] == len(errs) and abs(recent["mae"] - np.mean(np.abs(errs))) < 1e-12
    from ctml_nb.reports.runs_page import runs_page_html, runs_rows
    from ctml_nb.reports.text import record_text
    first = next(iter(by_run))
    assert f"estimate error over the last {recent['n']}" in record_text(recs[-1])
    row = next(r for r in runs_rows(tmp_path / "runs") if r["run_id"] == first)
    e = by_run[first][0]
    assert row["estimate"] == f"{e['estimate']:.3f} / {e['realised']:.3f} ({e['error']:+.3f})"
    assert "mean |estimate - realised|" in runs_page_html(tmp_path / "runs")


def test_labels_in_the_batch_settle_the_estimate_in_the_same_cycle(tmp_path):
    cfg, (data, _) = _project(tmp_path, feed=False), _elec2(9)
    recs = []
    for days in (7, 8, 9):
        data.drop(columns="id").iloc[:days * DAY].to_csv(tmp_path / "live.csv", index=False)
        recs.append(run_cycle(cfg, progress=False))
    r = recs[-1]
    est, (e,) = r.values["check"]["estimated_performance"], r.values["check"]["estimate_error"]["settled"]
    assert e["run_id"] == r.run_id and e["estimate"] == est["value"]
    assert abs(e["realised"] - r.values["check"]["served"]["value"]) < 1e-12    # the served metric on the same rows
    assert abs(e["error"] - (e["estimate"] - e["realised"])) < 1e-12


def test_runs_page_and_show_escape_what_a_settled_estimate_says(tmp_path):
    "A reason carries text from files (paths, labels): the page escapes it, and an unsettled estimate says it waits"
    from ctml_nb.core import write_json
    from ctml_nb.pipeline.run_record import RunRecord, append_index
    from ctml_nb.reports.html import run_summary_html
    from ctml_nb.reports.runs_page import runs_page_html, runs_rows
    runs, bad = tmp_path / "runs", "<script>alert(1)</script>"
    settled = {"run_id": "r0", "metric": "accuracy", "estimate": 0.9, "realised": None, "error": None, "rows": 5, "reason": bad}
    for i, s in enumerate([[], [settled], []]):
        rec = RunRecord(f"r{i}", "p", status="skipped", run_dir=str(runs / f"r{i}"),
                        values={"check": {"estimated_performance": {"metric": "accuracy", "value": 0.9, "rows": 5},
                                          "estimate_error": {"settled": s, "recent": {"n": 0}}}})
        (runs / f"r{i}").mkdir(parents=True)
        write_json(runs / f"r{i}" / "run.json", rec.stored()); append_index(runs, rec.summary())
    page = runs_page_html(runs, plots=False)
    assert bad not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    cells = {r["run_id"]: r["estimate"] for r in runs_rows(runs)}
    assert cells["r0"] == f"0.900 / - ({bad})" and cells["r2"] == "0.900 / waiting for labels"
    report = run_summary_html(runs / "r1", history=False)
    assert bad not in report and "estimate of run r0: not settled (&lt;script&gt;" in report


def test_a_cycle_reads_the_records_it_settles_and_the_newest_window_only(tmp_path, monkeypatch):
    "One pass over run.json: the checks whose batches may settle now, and the newest record's window of settled errors"
    import ctml_nb.pipeline.estimate_error as ee
    from ctml_nb.core import write_json
    entry = lambda i: ee.settled_entry(f"r{i:03d}", {"metric": "accuracy", "value": 0.9}, (10 * i, 10 * i + 10), 0.8)
    for i in range(60):   # each check served 10 rows and settled the one before it
        v = ee.estimate_error_value([entry(i - 1)] if i else [], ee.recent_settled(tmp_path, "p"))
        write_json(tmp_path / f"r{i:03d}" / "run.json", {"pipeline": "p", "status": "succeeded", "values": {"check": {
            "data": {"batch_rows": 10, "rows_seen": 10 * i + 10}, "estimate_error": v}}})
    read, real = [], ee.run_records
    def counted(*a, **k):
        for run, d in real(*a, **k): read.append(run.name); yield run, d
    monkeypatch.setattr(ee, "run_records", counted)
    checks, earlier = ee._scan(tmp_path, "p", lo=580, last=10)   # label mark 580: the batches ending at 590 and 600 may settle
    assert [c[0] for c in checks] == ["r059", "r058"] and read == ["r059", "r058", "r057"]   # r057 ends at 580: settled before
    assert [e["run_id"] for e in earlier] == [f"r{i:03d}" for i in range(49, 59)]             # from r059's window alone
    read.clear()
    assert len(ee.recent_settled(tmp_path, "p", last=10)) == 10 and read == ["r059"]
