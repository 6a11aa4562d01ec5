"""Bad input, one test per class of fault (issue 14, items 5 to 10): each ends in a typed ctml error naming the file,
column or key and what to do, or in a decision that refuses with its reason; none in a traceback or a silent pass.

The pipeline-level cases (late rows, bad labels) run the packaged templates through papermill (in-process) on the project of
`test_pipeline.py` (a few hundred rows of Elec2); the others call the library or the CLI directly.
"""
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctml_nb.cli import EXIT_ERROR, EXIT_USAGE, main
from ctml_nb.pipeline.config import config_path
from ctml_nb.core import InputError, IntegrityError, read_json, read_table
from ctml_nb.demo import demo_data
from ctml_nb.drift.detector import DriftDetector
from ctml_nb.gate.promotion import PromotionPolicy
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.pipeline.runner import run_cycle
from ctml_nb.data.validation import infer_schema, validate

from pipelines import elec2_pipeline  # noqa: E402 (tests/pipelines.py)
CONFIG = elec2_pipeline(floor=1.0, data=", late_rows: LATE")


def _project(tmp_path, late="reject"):
    (tmp_path / "pipeline.yaml").write_text(CONFIG.replace("LATE", late))
    return tmp_path / "pipeline.yaml"


def _first_cycle(seeded, tmp_path, late="reject", days=14):
    "A project whose first cycle promoted version 1 (a copy of the shared seed); returns (config path, the rows it saw)"
    cfg = seeded(tmp_path, CONFIG.replace("LATE", late), days)
    return cfg, demo_data().iloc[:days * 48].copy()


# 5. Bad labels ------------------------------------------------------------------------------------------------------
def test_gate_refuses_a_test_set_it_cannot_judge():
    g = np.random.default_rng(0)
    X = pd.DataFrame({"a": g.normal(size=400)}); y = (X.a > 0).astype(int).to_numpy()
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    champ, const = LogisticRegression().fit(X, y), DummyClassifier(strategy="constant", constant=1).fit(X, y)
    d = PromotionPolicy().decide(champ, const, X[y == 1], y[y == 1])   # "accuracy 1 vs champion ..." no more
    assert not d.promote and d.blocked_by == ["test set"] and "holds one class only" in d.reason
    few = PromotionPolicy().decide(None, champ, X[:10], y[:10])
    assert not few.promote and "10 rows, fewer than min_test_rows 30" in few.reason
    reg = PromotionPolicy(metric="mae", task="regression").decide(None, champ, X[:100], np.ones(100))
    assert not reg.promote and "one target value only" in reg.reason


@pytest.mark.parametrize("fault", ["one class", "unseen label"])
def test_bad_labels_fail_the_cycle_and_nothing_is_promoted(seeded, tmp_path, fault):
    cfg, df = _first_cycle(seeded, tmp_path)
    more = demo_data().iloc[14 * 48:20 * 48].copy()      # six more days, 288 labelled rows
    if fault == "one class": more["target"] = 1
    else: more.loc[more.index[:5], "target"] = 7
    pd.concat([df, more]).to_csv(tmp_path / "live.csv", index=False)
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and rec.model_after == 1, rec.reason
    assert "Data validation failed" in rec.reason
    assert ("holds one class only (1) in all 288 labelled rows" if fault == "one class" else
            "label(s) never seen in training, e.g. [7]") in rec.reason, rec.reason
    assert [s["step"] for s in rec.steps] == ["check"]   # no challenger was trained
    assert ModelRegistry(tmp_path / "registry").resolve("elec2", "champion") == 1


def test_regression_labels_are_numbers():
    tr = pd.DataFrame({"x": [0.1, 0.2, 0.3], "y": [1.5, 2.0, 2.5]})
    s = infer_schema(tr, target="y", task="regression", row_bounds=None)
    rep = validate(pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4]}), s, labels=pd.Series([1.0, np.nan, np.inf, "n/a"], dtype=object))
    assert [v.check for v in rep.errors] == ["target_values", "target_values"]
    assert validate(pd.DataFrame({"x": [0.1]}), s, labels=pd.Series([np.nan])).ok   # not labelled yet: fine


# 6. Late rows never bypass validation -----------------------------------------------------------------------------
@pytest.mark.parametrize("late", ["reject", "include"])
def test_a_late_row_with_a_schema_error_fails_the_cycle(seeded, tmp_path, late):
    cfg, df = _first_cycle(seeded, tmp_path, late)
    bad = df.iloc[[100]].copy()
    bad["nswdemand"] = "not a number"          # a late row (dated before the watermark) with a changed type
    more = demo_data().iloc[14 * 48:16 * 48]
    pd.concat([df, bad, more]).to_csv(tmp_path / "live.csv", index=False)
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and rec.model_after == 1, rec.reason
    assert "Data validation failed" in rec.reason and "nswdemand" in rec.reason, rec.reason
    assert [s["step"] for s in rec.steps] == ["check"]   # never trained on
    assert not list(Path(rec.run_dir).glob("candidate*"))


# 7. All-new categories at high cardinality --------------------------------------------------------------------------
@pytest.mark.parametrize("n_values", [2, 50, 5_000])
def test_all_new_categories_are_drift_at_any_cardinality(n_values):
    g, n = np.random.default_rng(1), 20_000
    ref = pd.DataFrame({"x": g.normal(size=n), "c": [f"v{i}" for i in g.integers(0, n_values, n)]})
    cur = pd.DataFrame({"x": g.normal(size=n), "c": [f"w{i}" for i in g.integers(0, n_values, n)]})
    det = DriftDetector().fit(ref)
    for r in (det.test(cur), det.test_batches([cur[:5000], cur[5000:]])):
        assert "c" in r.drifted and r.findings["c"], r.findings
    same = pd.DataFrame({"x": g.normal(size=n), "c": [f"v{i}" for i in g.integers(0, n_values, n)]})
    assert "c" not in det.test(same).drifted


def test_identifier_like_column_is_reported_not_silently_passed():
    n = 200_000
    ref = pd.DataFrame({"x": np.arange(n) % 7, "id": [f"u{i}" for i in range(n)]})
    cur = pd.DataFrame({"x": np.arange(n) % 7, "id": [f"w{i}" for i in range(n)]})
    r = DriftDetector().fit(ref).test(cur)
    assert r.not_tested["id"].startswith("not tested: identifier-like column (about ") and f"of {n:,} values" in r.not_tested["id"]
    assert r.findings["id"][0].startswith("100.0% of current rows hold values the reference never had")


# 9. Environment faults end in one line and an exit code -------------------------------------------------------------
def test_a_file_where_the_runs_lock_goes_is_a_config_error(tmp_path, capsys, monkeypatch):
    cfg = _project(tmp_path)
    demo_data().iloc[:300].to_csv(tmp_path / "live.csv", index=False)
    (tmp_path / "runs" / ".elec2.lock").mkdir(parents=True)   # the lock path is taken by a folder
    monkeypatch.setattr("ctml_nb.pipeline.runner.execute_step", lambda *a, **k: pytest.fail("a kernel was started"))
    assert main(["run", "--config", str(cfg), "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("ctml run: config error: runs: 'runs': cannot take the lock") and "Traceback" not in err, err
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [".elec2.lock"]   # nothing else written


def test_read_only_registry_on_promote(tmp_path, capsys, monkeypatch):
    from sklearn.dummy import DummyClassifier
    cfg = _project(tmp_path)
    reg = ModelRegistry(tmp_path / "registry")
    for _ in range(2): reg.register(DummyClassifier().fit([[0], [1]], [0, 1]), "elec2")
    before = {p: p.read_bytes() for p in (tmp_path / "registry").rglob("*") if p.is_file()}
    def refuse(path, data):  # a read-only file system, which root's chmod cannot simulate
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr("ctml_nb.registry.files.atomic_write", refuse)
    monkeypatch.setattr("ctml_nb.registry.files.write_json", refuse)
    assert main(["registry", "promote", "2", "--config", str(cfg)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("ctml registry: ") and "cannot be written (permission denied)" in err and "Traceback" not in err, err
    assert {p: p.read_bytes() for p in (tmp_path / "registry").rglob("*") if p.is_file()} == before


def test_a_file_where_a_folder_is_needed(tmp_path, capsys):
    (tmp_path / "out").write_text("a file\n")
    assert main(["demo", "--drift-only", "--out", str(tmp_path / "out")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "is a file where a folder is needed" in err and err.count("\n") == 1, err
    assert (tmp_path / "out").read_text() == "a file\n"


# 10. Errors name their file and column ------------------------------------------------------------------------------
@pytest.mark.parametrize("fault,expected", [
    ("empty", "live.csv is empty (no header line)"),
    ("latin-1", "live.csv is not UTF-8 text (byte 0xe9"),
    ("gzip", "live.csv is gzip-compressed, not CSV text: decompress it"),
    ("duplicated columns", "live.csv has duplicated column names ['nswprice']"),
])
def test_unreadable_source_files_name_the_file(tmp_path, capsys, fault, expected):
    cfg = _project(tmp_path)
    f = tmp_path / "live.csv"
    demo_data().iloc[:300].to_csv(f, index=False)
    if fault == "empty": f.write_text("")
    elif fault == "latin-1": f.write_bytes(f.read_bytes().replace(b"nswprice", "nswpr\xe9ce".encode("latin-1")))
    elif fault == "gzip": f.write_bytes(gzip.compress(f.read_bytes()))
    else:
        head, rest = f.read_text().split("\n", 1)
        f.write_text(head.replace("nswdemand", "nswprice") + "\n" + rest)
    with pytest.raises(InputError, match="live.csv"): read_table(f)
    assert main(["run", "--config", str(cfg), "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_inf_in_a_feature_and_nan_labels_name_the_column():
    tr = pd.DataFrame({"nswprice": [0.1, 0.2, 0.3], "target": [0, 1, 0]})
    rep = validate(tr.assign(nswprice=[0.1, np.inf, 0.3]), infer_schema(tr, target="target", row_bounds=None))
    assert [v.check for v in rep.errors] == ["finite"] and "column 'nswprice' has 1 infinite value(s)" in rep.errors[0].message
    from sklearn.linear_model import LogisticRegression
    from ctml_nb.policy.backtest import backtest
    from ctml_nb.policy.policies import baseline_policies
    data = demo_data().iloc[:400].drop(columns=["timestamp"])
    data.loc[data.index[350], "target"] = np.nan
    with pytest.raises(InputError, match=r"`data\['target'\]` has 1 missing labels"):
        backtest(data, "target", LogisticRegression(), baseline_policies(100)[0], batch_size=50)


def test_a_flipped_byte_in_registry_metadata_is_an_integrity_error(tmp_path):
    from sklearn.dummy import DummyClassifier
    reg = ModelRegistry(tmp_path / "registry")
    reg.register(DummyClassifier().fit([[0], [1]], [0, 1]), "m")
    meta = next(p for p in (tmp_path / "registry").rglob("*.json") if "version" in p.name or p.parent.name.startswith("v"))
    b = bytearray(meta.read_bytes()); b[5] ^= 0xFF; meta.write_bytes(bytes(b))   # one flipped byte: not UTF-8 any more
    with pytest.raises(InputError, match="is not valid JSON: byte 0x"): read_json(meta)
    with pytest.raises(IntegrityError, match=str(meta.name)):
        ModelRegistry(tmp_path / "registry").get_version("m", 1)


@pytest.mark.parametrize("argv", [["show", "last"], ["report", "last"], ["report", "--index"], ["runs"], ["runs", "--json"],
                                  ["ui", "--port", "0"], ["registry", "list"], ["registry", "rollback"],
                                  ["registry", "promote", "1"]])
@pytest.mark.parametrize("made", [False, True])
def test_no_runs_yet_is_the_users_input(tmp_path, capsys, argv, made):
    "A pipeline that never ran (no runs folder, or an empty one): every command that reads runs exits 2 saying what to run"
    cfg = _project(tmp_path)
    if made: (tmp_path / "runs").mkdir()
    assert main(argv + ["--config", str(cfg)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "run `ctml run --config FILE` first" in err and "Traceback" not in err, err
    assert ("holds no runs yet" if made else "does not exist") in err or argv[0] == "registry", err
