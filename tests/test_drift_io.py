"Drift profiles and reports on disk: JSON round trips, parquet row groups, HTML pages, plots."
import base64
import json
import re

import matplotlib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

matplotlib.use("Agg")

from ctml_nb.core import InputError, IntegrityError
from ctml_nb.drift.detector import DriftDetector, DriftReport, ReferenceProfile, read_parquet_batches


def _frame(n, seed, shift=False):
    g = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": g.normal(0.6 if shift else 0.0, 1.0, n),
        "y": g.gamma(2.0, 1.0, n),
        "k": g.integers(0, 4, n),
        "flag": g.random(n) < (0.5 if shift else 0.2),
        "city": pd.Series(g.choice(["oslo", "rome", "lima"], n, p=[.2, .3, .5] if shift else [.5, .3, .2]), dtype="str"),
    })


@pytest.fixture(scope="module")
def ref_cur():
    return _frame(20_000, 0), _frame(20_000, 1, shift=True)


def test_profile_json_round_trip(ref_cur, tmp_path):
    ref, cur = ref_cur
    prof = DriftDetector(max_categories=2).fit(ref).profile_
    path = prof.save(tmp_path / "sub" / "profile.json")
    loaded = ReferenceProfile.load(path)
    assert loaded == prof
    assert loaded.to_dict() == json.loads(path.read_text())
    assert prof["city"].counts == {"oslo": int((ref.city == "oslo").sum()), "rome": int((ref.city == "rome").sum())}
    assert prof["city"].n_other == int((ref.city == "lima").sum())
    # a stored profile tests exactly like the detector that built it
    a = DriftDetector(max_categories=2).fit(ref).test(cur).to_dict(details=True)
    b = DriftDetector.from_profile(path).test(cur).to_dict(details=True)
    assert a == b
    assert not list(tmp_path.glob("sub/.*tmp"))  # atomic write left no temporary file


def test_damaged_profiles_are_refused(ref_cur, tmp_path):
    prof = DriftDetector().fit(ref_cur[0]).profile_
    d = prof.to_dict()
    d["columns"][0]["quantiles"] = d["columns"][0]["quantiles"][:10]
    (tmp_path / "cut.json").write_text(json.dumps(d))
    with pytest.raises(IntegrityError, match="'x' has a damaged quantile summary"):
        ReferenceProfile.load(tmp_path / "cut.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(InputError, match="junk.json is not valid JSON"):
        ReferenceProfile.load(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputError, match="Not a ctml-nb reference profile"):
        ReferenceProfile.load(tmp_path / "other.json")
    with pytest.raises(InputError, match="File not found"):
        ReferenceProfile.load(tmp_path / "absent.json")


def test_report_methods(ref_cur, tmp_path):
    ref, cur = ref_cur
    report = DriftDetector().fit(ref).test(cur)
    assert isinstance(report, DriftReport)
    assert report.drifted == ["x", "flag", "city"]
    assert report.share == pytest.approx(3 / 5) and report.dataset_drift
    frame = report.to_frame()
    for col in ["column", "kind", "test", "statistic", "p_value", "threshold", "drift", "p_adjusted", "n_ref", "n_cur",
                "findings", "reason"]:
        assert col in frame.columns
    assert frame["kind"].tolist() == ["numeric", "numeric", "numeric", "boolean", "categorical"]
    assert frame["test"].tolist() == ["wasserstein"] * 3 + ["jensen_shannon"] * 2
    d = report.to_dict(details=True)
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["drifted"] == report.drifted
    assert "Rule: effect >= threshold and bh-corrected p < 0.05" in d["summary"]
    html = report._repr_html_()
    assert html.count("<tr") == 6 and "Dataset drift: 3 of 5 tested columns drifted" in html
    fig = report.plot()
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles[:3] == [t for t in titles[:3] if "(drift)" in t] and titles[3] == "Scores"
    fig2 = report.plot(columns=["y"])
    assert [ax.get_title() for ax in fig2.axes if ax.axison][0].startswith("y: wasserstein")
    with pytest.raises(InputError, match="'nope'"):
        report.plot(columns=["nope"])
    page = report.save_html(tmp_path / "drift.html").read_text()
    png = re.search(r'data:image/png;base64,([A-Za-z0-9+/=]+)"', page).group(1)
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in page and "http" not in page  # self-contained
    saved = json.loads(report.save_json(tmp_path / "drift.json").read_text())
    assert saved["columns"][0]["details"]["ref_quantiles"][0] == pytest.approx(ref.x.min())


def _write_parquet(df, path, row_group_size):
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=row_group_size)


def test_parquet_row_groups(ref_cur, tmp_path):
    ref, cur = ref_cur
    _write_parquet(ref, tmp_path / "ref.parquet", 3_000)
    _write_parquet(cur, tmp_path / "cur.parquet", 7_000)
    chunks = list(read_parquet_batches(tmp_path / "ref.parquet"))
    assert [len(c) for c in chunks] == [3_000] * 6 + [2_000]
    assert list(read_parquet_batches(tmp_path / "ref.parquet", columns=["x"]))[0].columns.tolist() == ["x"]
    det = DriftDetector()
    for c in read_parquet_batches(tmp_path / "ref.parquet"): det.partial_fit(c)
    assert det.profile_.n_rows == len(ref)
    batched = det.test_batches(read_parquet_batches(tmp_path / "cur.parquet"))
    in_memory = DriftDetector().fit(ref).test(cur)
    assert batched.drifted == in_memory.drifted
    a, b = batched.to_frame().set_index("column"), in_memory.to_frame().set_index("column")
    assert np.allclose(a["statistic"], b["statistic"], atol=0.01)
    with pytest.raises(InputError, match="not found"):
        next(read_parquet_batches(tmp_path / "missing.parquet"))
    with pytest.raises(InputError, match=r"\['zz'\] are not in"):
        next(read_parquet_batches(tmp_path / "ref.parquet", columns=["zz"]))


def test_non_string_column_names_and_settings(tmp_path):
    g = np.random.default_rng(0)
    ref = pd.DataFrame({0: g.normal(size=500), 1: g.normal(size=500)})
    cur = pd.DataFrame({0: g.normal(1.0, 1.0, 500), 1: g.normal(size=500)})
    det = DriftDetector(thresholds={0: 0.5}, column_weights={0: 2, 1: 1}).fit(ref)
    report = det.test(cur)
    assert report.drifted == ["0"] and report.share == pytest.approx(2 / 3)
    assert report.to_frame()["threshold"].tolist() == [0.5, 0.1]
    loaded = DriftDetector.from_profile(det.profile_.save(tmp_path / "p.json"), thresholds={0: 0.5})
    assert loaded.test(cur).drifted == ["0"]
