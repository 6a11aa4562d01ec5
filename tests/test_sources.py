"Data sources on disk: each kind, late rows, label delay, windows that open only the files they need, bad input."
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import ctml_nb.data.source_files as source_files
import ctml_nb.data.source_kinds as source_kinds
from ctml_nb.pipeline.config import DataConfig
from ctml_nb.core import ConfigError, InputError
from ctml_nb.data.source_kinds import open_source
from ctml_nb.data.sources import Batch


def _frame(start, n, freq="h", x0=0, label=True):
    return pd.DataFrame({"timestamp": pd.date_range(start, periods=n, freq=freq),
                         "x": np.arange(x0, x0 + n, dtype=float),
                         "target": (np.arange(n) % 2).astype(float) if label else np.nan})


def _open(source, base=None, **kw):
    return open_source(DataConfig(source=str(source), target="target", time_column="timestamp"), base, **kw)


def _days(folder, first, n, fmt="parquet"):
    folder.mkdir(exist_ok=True)
    for d in pd.date_range(first, periods=n, freq="D"):
        f = _frame(d, 24)
        path = folder / f"{d:%Y-%m-%d}.{fmt}"
        f.to_parquet(path) if fmt == "parquet" else f.to_csv(path, index=False)


def _dataset(root, first, n):
    t = pd.concat([_frame(d, 24) for d in pd.date_range(first, periods=n, freq="D")])
    t["date"] = t.timestamp.dt.strftime("%Y-%m-%d")
    ds.write_dataset(pa.Table.from_pandas(t, preserve_index=False), root, format="parquet", partitioning=["date"],
                     partitioning_flavor="hive", existing_data_behavior="overwrite_or_ignore",
                     basename_template=f"part-{first}-{{i}}.parquet")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_growing_file(tmp_path, fmt):
    path = tmp_path / f"h.{fmt}"
    write = (lambda df: df.to_csv(path, index=False)) if fmt == "csv" else (lambda df: df.to_parquet(path))
    write(_frame("2024-01-01", 10))
    src = open_source(DataConfig(source=path.name, target="target", time_column="timestamp"), tmp_path)
    assert type(src).__name__ == "FileSource"
    b = src.next_batch(None)
    assert (len(b.rows), len(b.late)) == (10, 0)
    assert json.loads(json.dumps(b.cursor)) == b.cursor
    write(pd.concat([_frame("2024-01-01", 10), _frame("2024-01-01 10:00", 5, x0=10)]))
    b2 = src.next_batch(b.cursor)
    assert b2.rows.x.tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert src.next_batch(b2.cursor).rows.empty
    assert b2.to_dict()["watermark"] == "2024-01-01T14:00:00"


def test_folder_csv_and_parquet(tmp_path):
    for fmt in ("csv", "parquet"):
        _days(tmp_path / fmt, "2024-01-01", 3, fmt)
        src = _open(tmp_path / fmt)
        assert type(src).__name__ == "FolderSource"
        b = src.next_batch()
        _days(tmp_path / fmt, "2024-01-04", 1, fmt)
        b2 = src.next_batch(b.cursor)
        assert (len(b.rows), len(b2.rows), b2.files) == (72, 24, [f"2024-01-04.{fmt}"])
        assert src.columns() == {"timestamp": "datetime", "x": "float", "target": "float"}


def test_dataset(tmp_path):
    _dataset(tmp_path / "ds", "2024-01-01", 3)
    src = _open(tmp_path / "ds")
    assert type(src).__name__ == "DatasetSource"
    b = src.next_batch()
    _dataset(tmp_path / "ds", "2024-01-04", 1)
    b2 = src.next_batch(b.cursor)
    assert (len(b.rows), len(b2.rows), b2.rows.date.unique().tolist()) == (72, 24, ["2024-01-04"])


def test_callable(tmp_path, monkeypatch):
    import types, sys
    hist, state = _frame("2024-01-01", 10, freq="D"), {"n": 4}
    mod = types.ModuleType("_srctest")
    mod.whole = lambda: hist.iloc[:state["n"]]
    mod.newer = lambda after=None: hist.iloc[:state["n"]] if after is None else hist.iloc[:state["n"]].query("timestamp > @after")
    monkeypatch.setitem(sys.modules, "_srctest", mod)
    for ref in ("_srctest:whole", "_srctest:newer"):
        state["n"] = 4
        src = _open(ref)
        b = src.next_batch()
        state["n"] = 7
        assert src.next_batch(b.cursor).rows.x.tolist() == [4.0, 5.0, 6.0], ref


def test_late_rows_rejected_by_default_included_on_request(tmp_path):
    path = tmp_path / "h.csv"
    _frame("2024-01-01", 6).to_csv(path, index=False)
    src = _open(path)
    b = src.next_batch()
    pd.concat([_frame("2024-01-01", 6), _frame("2024-01-01 01:00", 2, x0=100), _frame("2024-01-01 06:00", 2, x0=6)]
              ).to_csv(path, index=False)
    rej = src.next_batch(b.cursor)
    assert (rej.rows.x.tolist(), rej.late.x.tolist(), rej.late_policy) == ([6.0, 7.0], [100.0, 101.0], "reject")
    assert rej.to_dict()["late"] == 2 and rej.cursor["watermark"] == pd.Timestamp("2024-01-01 07:00").value
    assert 100.0 not in src.read(cursor=rej.cursor).x.tolist()  # excluded from every later window
    inc = src.next_batch(b.cursor, late="include")
    assert (inc.rows.x.tolist(), inc.late.x.tolist()) == ([6.0, 7.0], [100.0, 101.0])  # apart, never mixed
    assert 100.0 in src.read(cursor=inc.cursor).x.tolist()
    assert src.next_batch(rej.cursor).late.empty  # reported once


def test_late_file_in_folder(tmp_path):
    _days(tmp_path / "f", "2024-01-01", 3)
    src = _open(tmp_path / "f")
    b = src.next_batch()
    _frame("2024-01-02 05:00", 3, x0=500).to_parquet(tmp_path / "f" / "2024-01-02-resent.parquet")
    b2 = src.next_batch(b.cursor)
    assert (len(b2.rows), len(b2.late)) == (0, 3)


def test_label_delay(tmp_path):
    path = tmp_path / "h.parquet"
    df = _frame("2024-01-01", 8)
    df.loc[5:, "target"] = np.nan                      # the last three rows arrive unlabelled
    df.to_parquet(path)
    src = _open(path)
    b = src.next_batch()
    lab = src.labelled(b.cursor)
    assert (b.unlabelled, len(lab.rows), lab.waiting) == (3, 5, 3)
    df.loc[5:, "target"] = [1.0, 0.0, 1.0]             # labels filled in: the file is rewritten in place
    df.to_parquet(path)
    b2 = src.next_batch(lab.cursor)
    lab2 = src.labelled(b2.cursor)
    assert (len(b2.rows), b2.unlabelled, lab2.rows.x.tolist(), lab2.waiting) == (0, 0, [5.0, 6.0, 7.0], 0)
    assert src.labelled(lab2.cursor).rows.empty         # each labelled row is handed out once
    assert lab2.to_dict()["labelled"] == 3


def test_label_delay_folder_relabelled_file(tmp_path):
    _days(tmp_path / "f", "2024-01-01", 2)
    day3 = _frame("2024-01-03", 24, label=False)
    day3.to_parquet(tmp_path / "f" / "2024-01-03.parquet")
    src = _open(tmp_path / "f")
    b = src.next_batch()
    lab = src.labelled(b.cursor)
    assert (b.unlabelled, len(lab.rows), lab.waiting) == (24, 48, 24)
    day3["target"] = 1.0
    day3.to_parquet(tmp_path / "f" / "2024-01-03.parquet")
    lab2 = src.labelled(src.next_batch(lab.cursor).cursor)
    assert (len(lab2.rows), lab2.waiting) == (24, 0)


@pytest.mark.parametrize("kind", ["folder", "dataset"])
def test_window_opens_only_the_files_that_can_hold_it(tmp_path, monkeypatch, kind):
    root = tmp_path / kind
    _days(root, "2024-01-01", 30) if kind == "folder" else _dataset(root, "2024-01-01", 30)
    src = _open(root)
    b = src.next_batch()
    opened = []
    real = source_files.read_table
    for mod in (source_files, source_kinds):   # the file machinery and the kinds each read files
        monkeypatch.setattr(mod, "read_table", lambda path, *a, **k: opened.append(path) or real(path, *a, **k))
    w = src.read(since="2024-01-28", cursor=b.cursor)
    assert len(opened) == 3 and len(w) == 72 and len(w.attrs["read"]["files"]) == 3
    assert w.timestamp.is_monotonic_increasing
    opened.clear()
    _days(root, "2024-01-31", 1) if kind == "folder" else _dataset(root, "2024-01-31", 1)
    assert len(src.next_batch(b.cursor).rows) == 24 and len(opened) == 1   # one new file read, not the history


def test_bad_input(tmp_path):
    _frame("2024-01-01", 3).to_csv(tmp_path / "h.csv", index=False)
    with pytest.raises(InputError, match="no target column 'label'"):
        open_source(DataConfig(source="h.csv", target="label"), tmp_path).next_batch()
    with pytest.raises(InputError, match="no time column 'when'"):
        open_source(DataConfig(source="h.csv", target="target", time_column="when"), tmp_path).columns()
    pd.DataFrame({"timestamp": ["a", "b"], "target": [0, 1]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="cannot be read as dates"):
        _open(tmp_path / "bad.csv").next_batch()
    _frame("2024-01-01", 4).iloc[[1, 0, 2, 3]].to_csv(tmp_path / "unsorted.csv", index=False)
    with pytest.raises(InputError, match="decrease after file row 2"):
        _open(tmp_path / "unsorted.csv").next_batch()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no \\*.csv or \\*.parquet files"):
        _open(tmp_path / "empty").next_batch()
    _days(tmp_path / "mixed", "2024-01-01", 1)
    _frame("2024-01-02", 2).drop(columns="x").to_parquet(tmp_path / "mixed" / "2024-01-02.parquet")
    with pytest.raises(InputError, match="2024-01-02.parquet: columns differ.*missing \\['x'\\]"):
        _open(tmp_path / "mixed").next_batch()
    with pytest.raises(InputError, match="not found"):
        _open(tmp_path / "missing.parquet")
    with pytest.raises(ConfigError, match="expected one of file, folder, dataset, callable"):
        _open(tmp_path / "h.csv", kind="s3")
    src = _open(tmp_path / "h.csv")
    b = src.next_batch()
    with pytest.raises(InputError, match="The last cycle read file source .*start the pipeline over"):
        _open(tmp_path / "unsorted.csv").next_batch(b.cursor)
    _frame("2024-01-01", 2).to_csv(tmp_path / "h.csv", index=False)
    with pytest.raises(InputError, match="has 2 rows but 3 were read before"):
        src.next_batch(b.cursor)
    with pytest.raises(InputError, match="late: expected one of"):
        src.next_batch(None, late="drop")
