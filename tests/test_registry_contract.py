"""The registry contract: the same tests against every backend (`ctml_nb.registry.backends.REGISTRIES`).

The file registry in a folder, MLflow offline on a local SQLite store with `file://` artifacts. Writers run as
separate processes, as they would in production.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from ctml_nb.core import InputError, IntegrityError, RegistryError
from ctml_nb.registry.api import REJECTED, STATUS_TAG
from ctml_nb.registry.backends import open_registry
from ctml_nb.data.validation import infer_schema
from registry_backends import BACKENDS, mlflow_template_db, spec, stored_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    return mlflow_template_db(tmp_path_factory)


@pytest.fixture(params=BACKENDS)
def reg_spec(request, tmp_path, monkeypatch):
    monkeypatch.setenv("CTML_REGISTRY_KEY_FILE", str(tmp_path / "registry.key"))
    monkeypatch.delenv("CTML_REGISTRY_KEY", raising=False)
    db = request.getfixturevalue("template_db") if request.param == "mlflow" else None
    return spec(request.param, tmp_path / "store", db)


@pytest.fixture
def reg(reg_spec):
    return open_registry(reg_spec)


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 2)), columns=["a", "b"])
    return X, (X["a"] > 0).astype(int)


def _two_versions(reg):
    X, y = _data()
    m1 = LogisticRegression().fit(X, y)
    reg.register(m1, "m", metrics={"acc": 0.8}, params=m1.get_params(), data_snapshot={"train": X.assign(y=y)},
                 run_id="r1", tags={"team": "pricing"}, schema=infer_schema(X), artifacts={"drift_profile": '{"a": 1}'})
    reg.register(LogisticRegression(C=0.1).fit(X, y), "m", metrics={"acc": 0.85}, parent=1, run_id="r2")
    return X, y, m1


def test_register_and_load(reg):
    X, y, m1 = _two_versions(reg)
    v1 = reg.get_version("m", 1)
    assert (v1.version, v1.run_id, v1.tags, v1.metrics, v1.params["C"]) == (1, "r1", {"team": "pricing"}, {"acc": 0.8}, 1.0)
    assert v1.has_schema and list(v1.data_snapshots) == ["train"] and list(v1.artifacts) == ["drift_profile"]
    np.testing.assert_array_equal(reg.load("m", 1).predict(X), m1.predict(X))
    assert reg.load_artifact("m", 1, "drift_profile") == b'{"a": 1}'
    assert list(reg.load_schema("m", 1).columns) == ["a", "b"]
    assert reg.load_snapshot(v1.data_snapshots["train"]).shape == (60, 3)
    assert (reg.names(), reg.resolve("m", "latest"), reg.version_numbers("m")) == (["m"], 2, [1, 2])
    table = reg.versions("m")
    assert list(table.index) == [1, 2] and list(table["metrics.acc"]) == [0.8, 0.85] and list(table["parent"].fillna("-")) == ["-", "m:1"]
    with pytest.raises(RegistryError, match="Model 'm' has no version 7"): reg.load("m", 7)
    with pytest.raises(RegistryError, match="No model named 'nope'"): reg.load("nope", 1)
    with pytest.raises(RegistryError, match="registered without `schema=`"): reg.load_schema("m", 2)
    with pytest.raises(InputError, match=r"`metrics\['acc'\]` must be a number"): reg.register(m1, "m", metrics={"acc": "high"})
    assert reg.set_tag("m", 1, "reviewed", True).tags == {"team": "pricing", "reviewed": "True"}
    assert reg.check_signature("m", 1) == 1            # a tag keeps a valid signature valid
    assert reg.version_numbers("m") == [1, 2]          # nothing was written by the failed calls


def test_aliases_promote_rollback_with_reason(reg):
    _two_versions(reg)
    reg.promote("m", 1, reason="first model")
    reg.set_alias("m", "challenger", 2, reason="shadow it")
    assert reg.get_version("m", "challenger").version == 2
    mv = reg.promote("m", "challenger", reason="better accuracy", evidence={"delta": 0.05})
    assert (mv.version, mv.aliases) == (2, ["champion"])       # the challenger alias is cleared
    back = reg.rollback("m", reason="complaints from the pricing team")
    assert (back.version, back.aliases) == (1, ["champion"])
    with pytest.raises(RegistryError, match="no previous champion"): reg.rollback("m", reason="again")
    with pytest.raises(InputError, match="`reason` must say why"): reg.rollback("m", reason=" ")
    assert reg.confirm("m", 1, reason="health check passed").version == 1
    with pytest.raises(RegistryError, match="version 2 is not the champion"): reg.confirm("m", 2, reason="x")
    h = reg.history("m")
    assert list(h["action"]) == ["promote", "set_alias", "promote", "delete_alias", "rollback", "confirm"]
    assert list(zip(h["from"], h["to"]))[4] == (2, 1)
    assert h["reason"].iloc[4] == "complaints from the pricing team"
    reg.delete_alias("m", "champion", reason="retired")
    with pytest.raises(RegistryError, match="has no alias 'champion'"): reg.resolve("m", "champion")


def test_rejected_challenger_is_registered_but_never_aliased(reg):
    X, y, _ = _two_versions(reg)
    reg.promote("m", 1, reason="first")
    rej = reg.register(LogisticRegression(C=5).fit(X, y), "m", parent=1, tags={STATUS_TAG: REJECTED},
                       artifacts={"gate_decision": json.dumps({"promote": False, "reason": "not better"})})
    assert (rej.version, rej.status) == (3, "rejected")
    for move in (lambda: reg.promote("m", 3), lambda: reg.set_alias("m", "challenger", 3)):
        with pytest.raises(RegistryError, match="the gate rejected"): move()
    assert reg.resolve("m", "champion") == 1 and "challenger" not in reg.history("m")["alias"].tolist()
    assert reg.versions("m")["status"].tolist()[-1] == "rejected"
    assert json.loads(reg.load_artifact("m", 3, "gate_decision"))["reason"] == "not better"


def test_lineage_and_verify(reg):
    _two_versions(reg)
    lin = reg.lineage("m", 2)
    assert [(mv.name, mv.version) for mv in lin.chain] == [("m", 2), ("m", 1)]
    assert lin.problems == [] and len(lin.snapshots) == 1 and list(lin.snapshots.values())[0].rows == 60
    chk = reg.verify(snapshots=True)
    assert chk["ok"].all() and set(chk["item"]) == {"model", "artifact:drift_profile", "snapshot:train"}
    assert reg.describe()["cannot_verify"]          # each backend says what its loads cannot check


def test_damaged_artifact_and_swapped_model_are_refused(reg, tmp_path):
    X, y, m1 = _two_versions(reg)
    v1 = reg.get_version("m", 1)
    art = stored_file(reg, "m", 1, v1.artifacts["drift_profile"])
    good = art.read_bytes()
    art.write_bytes(good[:-1] + b"2")
    with pytest.raises(IntegrityError, match="Artifact 'drift_profile' file .* does not match its recorded SHA-256"):
        reg.load_artifact("m", 1, "drift_profile")
    bad = reg.verify("m").set_index(["version", "item"])
    assert not bad.loc[(1, "artifact:drift_profile"), "ok"] and bad.loc[(1, "model"), "ok"]
    art.write_bytes(good)
    # a model file swapped for a pickle that runs code, with its recorded hash updated: refused, never unpickled
    marker = tmp_path / "pwned"
    evil = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import io, joblib, os, sys
        class Evil:
            def __reduce__(self): return (os.system, ("touch {marker}",))
        buf = io.BytesIO(); joblib.dump(Evil(), buf); sys.stdout.buffer.write(buf.getvalue())""")], capture_output=True).stdout
    f = stored_file(reg, "m", 1)
    f.write_bytes(evil)
    with pytest.raises(IntegrityError, match="is truncated|does not match its recorded SHA-256"): reg.load("m", 1)
    import hashlib
    meta = reg._record("m", 1); meta.update(sha256=hashlib.sha256(evil).hexdigest(), size=len(evil))
    reg._write_record("m", 1, meta)       # what someone with write access but without the key can do
    with pytest.raises(IntegrityError, match="has an invalid signature"): reg.load("m", 1)
    assert not marker.exists()
    np.testing.assert_array_equal(reg.load("m", 2).predict(X[:5]), reg.load("m", "latest").predict(X[:5]))


def test_unsafe_names_are_refused(reg):
    X, y = _data()
    m = LogisticRegression().fit(X, y)
    for bad in ("../x", "/tmp/x", "a/b", "", "x..y", "name'); DROP TABLE x; --", "n" * 129):
        with pytest.raises(RegistryError, match="is not allowed"): reg.register(m, bad)
    with pytest.raises(RegistryError, match="`artifacts` '../p' is not allowed"): reg.register(m, "ok", artifacts={"../p": b"x"})
    assert reg.names() == []                         # nothing was written
    reg.register(m, "ok")
    for alias in ("latest", "3", "v3", "../a"):
        with pytest.raises(RegistryError, match="is reserved|is not allowed"): reg.set_alias("ok", alias, 1)
    with pytest.raises(RegistryError, match="is not allowed"): reg.resolve("../ok", 1)


WRITER = """
import json, sys
import numpy as np
from sklearn.dummy import DummyClassifier
from ctml_nb.registry.backends import open_registry
reg = open_registry(json.loads(sys.argv[1]))
for i in range(10):
    m = DummyClassifier(constant=i % 2, strategy="constant").fit(np.zeros((2, 1)), [0, 1])
    reg.register(m, "m", tags={"writer": sys.argv[2], "i": str(i)})
"""


def test_two_processes_ten_registrations_each_lose_no_version(reg, reg_spec):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, json.dumps(reg_spec), w], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in "ab"]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    assert reg.version_numbers("m") == list(range(1, 21))
    tags = [reg.get_version("m", v).tags for v in range(1, 21)]
    assert sorted((t["writer"], int(t["i"])) for t in tags) == [(w, i) for w in "ab" for i in range(10)]
    assert reg.verify("m")["ok"].all()
    assert reg.load("m", 20).predict(np.zeros((1, 1)))[0] == int(tags[-1]["i"]) % 2


def test_a_pipeline_on_the_file_registry_never_imports_mlflow(tmp_path):
    pytest.importorskip("mlflow", reason="without mlflow nothing could import it")
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from sklearn.dummy import DummyClassifier
        import ctml_nb.cli, ctml_nb.pipeline.context, ctml_nb.pipeline.runner
        from ctml_nb.registry.backends import open_registry
        reg = open_registry({str(tmp_path / 'reg')!r})
        reg.register(DummyClassifier().fit(np.zeros((2, 1)), [0, 1]), "m"); reg.promote("m", 1); reg.load("m", "champion")
        open_registry({{"kind": "mlflow", "tracking_uri": "sqlite:///{tmp_path}/mlflow.db"}})   # opening does not connect
        assert "mlflow" not in sys.modules, sorted(m for m in sys.modules if m.startswith("mlflow"))[:5]
        print("ok")""")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CTML_REGISTRY_KEY_FILE": str(tmp_path / "key")}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "ok", r.stderr[-3000:]


def test_mlflow_shows_what_ctml_registered(tmp_path, template_db, monkeypatch):
    monkeypatch.setenv("CTML_REGISTRY_KEY_FILE", str(tmp_path / "registry.key"))
    reg = open_registry(spec("mlflow", tmp_path, template_db))
    X, y, m1 = _two_versions(reg)
    reg.promote("m", 2, reason="better", evidence={"delta": 0.05})
    c = reg.client
    mv = c.get_model_version_by_alias("m", "champion")
    run = c.get_run(c.get_model_version("m", "1").run_id)
    assert int(mv.version) == 2 and mv.tags["ctml.parent"] == "m:1" and json.loads(mv.tags["ctml.promotion"]) == {"delta": 0.05}
    assert run.data.metrics["acc"] == 0.8 and run.data.params["C"] == "1.0" and run.data.tags["team"] == "pricing"
    (ds,) = run.inputs.dataset_inputs
    sid = reg.get_version("m", 1).data_snapshots["train"]
    assert (ds.dataset.name, ds.dataset.digest, json.loads(ds.dataset.source)["snapshot_id"]) == ("train", sid[:36], sid)
    assert sorted(a.path for a in c.list_artifacts(run.info.run_id)) == ["artifacts", "model", "schema"]
    event = json.loads(c.get_registered_model("m").tags["ctml.history.000001"])
    assert (event["action"], event["to"], event["reason"]) == ("promote", 2, "better")
