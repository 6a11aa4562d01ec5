"Bad input to the drift library: every case gives a typed error naming what to fix, or an explicit 'not tested' row."
import math

import numpy as np
import pandas as pd
import pytest

from ctml_nb.core import InputError, NotFittedError
from ctml_nb.drift.detector import DriftDetector


def _frame(n=2_000, seed=0):
    g = np.random.default_rng(seed)
    return pd.DataFrame({"x": g.normal(size=n), "y": g.exponential(size=n), "n": g.integers(0, 5, n),
                         "c": pd.Series(g.choice(list("abc"), n), dtype="str"), "b": g.random(n) < 0.3})


def _no_silent_nan(report):
    "Every row is either tested with finite numbers and a boolean verdict, or untested with a reason"
    for r in report.rows:
        if r["reason"] is None:
            assert all(isinstance(r[k], float) and math.isfinite(r[k]) for k in ("statistic", "p_value", "p_adjusted")), r
            assert isinstance(r["drift"], bool)
        else:
            assert isinstance(r["reason"], str) and r["reason"] and r["drift"] is False


@pytest.fixture(scope="module")
def det():
    return DriftDetector().fit(_frame())


def test_empty_frames(det):
    with pytest.raises(InputError, match="reference data has no rows"):
        DriftDetector().fit(_frame().iloc[:0])
    with pytest.raises(InputError, match="current data has no rows"):
        det.test(_frame().iloc[:0])
    with pytest.raises(InputError, match="current batches hold no rows"):
        det.test_batches([_frame().iloc[:0]])
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        det.test(np.zeros((3, 3)))
    with pytest.raises(InputError, match="iterable of DataFrames"):
        det.test_batches(_frame())
    with pytest.raises(NotFittedError, match="not fitted"):
        DriftDetector().test(_frame())


def test_all_nan_columns():
    # dtype "string" is pandas' StringDtype in 2.x and 3.x ("str" means object in pandas 2, profiled as numeric)
    ref = _frame().assign(z=np.nan, s=pd.Series([None] * 2_000, dtype="string"))
    cur = _frame(seed=1).assign(z=1.0, s="a")
    r = DriftDetector().fit(ref).test(cur)
    assert "no non-missing finite values in the reference" in r.not_tested["z"]
    assert "no non-missing values in the reference" in r.not_tested["s"]
    r2 = DriftDetector().fit(_frame()).test(_frame(seed=1).assign(x=np.nan, c=None))
    assert r2.not_tested["x"] == "no non-missing finite values in the current data"
    assert r2.not_tested["c"] == "no non-missing values in the current data"
    assert r2.findings["x"][0].startswith("missing-value rate 0.0% -> 100.0%")
    _no_silent_nan(r); _no_silent_nan(r2)


def test_constant_columns():
    ref, cur = _frame().assign(k=3.0), _frame(seed=1).assign(k=3.0)
    det = DriftDetector().fit(ref)
    same = det.test(cur)
    assert "k" not in same.drifted and "reference is constant (3)" in same.findings["k"][0]
    moved = det.test(cur.assign(k=np.where(np.arange(len(cur)) < 500, 4.0, 3.0)))
    row = moved.to_frame().set_index("column").loc["k"]
    assert row["drift"] and row["test"] == "total_variation" and row["statistic"] == pytest.approx(0.25)
    _no_silent_nan(same); _no_silent_nan(moved)
    # constant in the current data only: an ordinary, drifted, numeric test
    assert "x" in det.test(cur.assign(x=0.0)).drifted


def test_infinities(det):
    cur = _frame(seed=1)
    cur.loc[:99, "x"] = np.inf
    cur.loc[100:149, "y"] = -np.inf
    r = det.test(cur)
    f = r.findings
    assert f["x"] == ["infinite-value rate 0.0% -> 5.0% (p<1e-16)"]
    assert f["y"] == ["50 infinite values (left out of the test)"]
    assert r.to_frame().set_index("column").loc["x", "n_cur"] == 1_900
    _no_silent_nan(r)
    ref = _frame().assign(x=np.inf)
    r2 = DriftDetector().fit(ref).test(_frame(seed=1))
    assert "no non-missing finite values in the reference" in r2.not_tested["x"]


def test_missing_and_added_columns(det):
    cur = _frame(seed=1).drop(columns=["y"]).assign(extra=pd.Series(["u"] * 2_000, dtype="str"))
    r = det.test(cur)
    assert r.not_tested["y"].startswith("missing from the current data")
    assert r.not_tested["extra"].startswith("not in the reference profile")
    assert r.to_frame().set_index("column").loc["extra", "kind"] == "categorical"
    # with an explicit column list, extra columns are expected and not reported
    sel = DriftDetector(columns=["x", "c"]).fit(_frame())
    assert sel.test(_frame(seed=1)).to_frame()["column"].tolist() == ["x", "c"]
    with pytest.raises(InputError, match=r"Columns \['zz'\] are not in the frame"):
        DriftDetector(columns=["zz"]).fit(_frame())
    # batches: a column missing from one chunk
    rb = det.test_batches([_frame(seed=1), _frame(seed=2).drop(columns=["x"])])
    assert rb.not_tested["x"] == "missing from current chunk 1: every chunk must carry the column"
    _no_silent_nan(r); _no_silent_nan(rb)


def test_changed_dtypes(det):
    cur = _frame(seed=1)
    r = det.test(cur.assign(x=cur["x"].astype(str), n=cur["n"].astype(float), c=cur["n"]))
    text = pd.Series(["a"]).astype(str).dtype  # pandas' default text dtype: str in pandas 3, object in pandas 2
    assert r.findings["x"] == [f"dtype changed from float64 (numeric) to {text} (categorical): values parsed as numbers"]
    assert r.findings["n"] == ["dtype changed: int64 -> float64"]
    assert r.findings["c"][0] == f"dtype changed from {text} (categorical) to int64 (numeric): compared as text"
    assert "c" in r.drifted  # the codes 0..4 are all new categories
    bad = cur.assign(y=cur["y"].astype(str).where(cur.index % 2 == 0, "n/a"))
    why = det.test(bad).not_tested["y"]
    assert "1000 values are not numbers (e.g. 'n/a')" in why and "cast 'y' back to numbers" in why
    dt = det.test(cur.assign(x=pd.date_range("2024-01-01", periods=len(cur), freq="min")))
    assert "cast 'x' back to float64" in dt.not_tested["x"]
    _no_silent_nan(r)


def test_mixed_type_object_columns(det):
    ref = _frame().assign(m=pd.Series([1, "a"] * 1_000, dtype=object))
    r = DriftDetector().fit(ref).test(ref)
    assert "mixed value types (int, str)" in r.not_tested["m"] and "cast the column to one type" in r.not_tested["m"]
    cur = _frame(seed=1).assign(c=pd.Series(["a", 2, "b", "c"] * 500, dtype=object))
    rc = det.test(cur)
    assert rc.findings["c"][0].endswith("compared as text") and "1 new category: '2' (25.0%)" in rc.findings["c"][1]
    _no_silent_nan(r); _no_silent_nan(rc)


def test_reference_smaller_than_the_test_needs():
    ref = _frame()
    ref.loc[30:, "x"] = np.nan
    r = DriftDetector().fit(ref).test(_frame(seed=1))
    assert r.not_tested["x"].startswith("only 30 non-missing values in the reference; the test needs at least 50")
    cur = _frame(seed=1)
    cur.loc[10:, "c"] = None
    assert "only 10 non-missing values in the current data" in DriftDetector().fit(_frame()).test(cur).not_tested["c"]
    # when nothing at all can be tested, that is an error, not an empty verdict
    with pytest.raises(InputError, match="No column could be tested: 'x': only 30 non-missing values"):
        DriftDetector().fit(_frame(30)).test(_frame(seed=1))
    r2 = DriftDetector(min_rows=20).fit(_frame(30)).test(_frame(seed=1))
    assert r2.not_tested == {}
    _no_silent_nan(r); _no_silent_nan(r2)


def test_bad_parameters():
    df = _frame()
    for kw, word in [({"alpha": 0}, "`alpha`"), ({"alpha": 1.5}, "`alpha`"), ({"correction": "holm"}, "`correction`"),
                     ({"dataset_drift_share": -1}, "`dataset_drift_share`"), ({"n_quantiles": 5}, "`n_quantiles`"),
                     ({"n_bins": 1}, "`n_bins`"), ({"min_rows": 1.5}, "`min_rows`"),
                     ({"tests": ["x"]}, "`tests` must be a dict"), ({"thresholds": {"x": -1}}, "thresholds['x']"),
                     ({"column_weights": {"x": np.nan}}, "column_weights['x']"), ({"columns": "x"}, "`columns`")]:
        with pytest.raises(InputError, match=word.replace("[", r"\[").replace("]", r"\]")):
            DriftDetector(**kw).fit(df)
    with pytest.raises(InputError, match=r"tests\['c'\]` = 'wasserstein' is not available for a categorical column"):
        DriftDetector(tests={"c": "wasserstein"}).fit(df).test(df)
    with pytest.raises(InputError, match="`column_weights` are all 0"):
        DriftDetector(column_weights={c: 0 for c in df}).fit(df).test(df)


def test_chunks_with_conflicting_kinds():
    det = DriftDetector().partial_fit(_frame())
    with pytest.raises(InputError, match="Cannot merge profiles of column 'x': it is numeric in one chunk and categorical"):
        det.partial_fit(_frame(seed=1).assign(x=pd.Series(["p"] * 2_000, dtype="str")))
    with pytest.raises(InputError, match=r"different columns \(differing: \['b'\]\)"):
        det.partial_fit(_frame().drop(columns=["b"]))
    # the chunks refused did not enter the profile; an all-missing chunk of another dtype is accepted
    det.partial_fit(_frame(seed=2).assign(c=pd.Series([None] * 2_000, dtype=object)))
    assert det.profile_.n_rows == 4_000 and det.profile_["c"].kind == "categorical"
    assert det.profile_["c"].n_missing == 2_000
