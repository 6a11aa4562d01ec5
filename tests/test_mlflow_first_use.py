"Two writers on a fresh MLflow SQLite store (issue 22: one died with `OperationalError: duplicate column name: step`)"
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import mlflow.store.tracking.sqlalchemy_store, mlflow.tracking   # imported before the start line: both begin together
    from sklearn.dummy import DummyClassifier
    from ctml_nb.registry.mlflow_backend import MlflowRegistry
    Path(sys.argv[4]).touch()
    while not Path(sys.argv[5]).exists(): time.sleep(0.01)
    reg = MlflowRegistry("sqlite:///" + sys.argv[1], lock_timeout=600)
    for i in range(int(sys.argv[2])):
        reg.register(DummyClassifier().fit([[0], [1]], [0, 1]), "m", metrics={"writer": int(sys.argv[3]), "i": i})
""")


def test_two_writers_on_a_fresh_sqlite_store_register_every_version(tmp_path, monkeypatch):
    db, script = tmp_path / "mlflow.db", tmp_path / "writer.py"
    script.write_text(WRITER)
    monkeypatch.delenv("CTML_REGISTRY_KEY", raising=False)
    monkeypatch.setenv("CTML_REGISTRY_KEY_FILE", str(tmp_path / "registry.key"))
    env = dict(os.environ)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(db), "6", str(w), str(tmp_path / f"ready{w}"), str(go)],
                              env=env, stderr=subprocess.PIPE, text=True) for w in (1, 2)]
    deadline = time.monotonic() + 600   # hang guard while both import mlflow
    while not all((tmp_path / f"ready{w}").exists() for w in (1, 2)) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs): break
        time.sleep(0.05)
    go.touch()   # both create their first client now: the store's tables do not exist yet
    errs = [p.communicate(timeout=900)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    from ctml_nb.registry.mlflow_backend import MlflowRegistry
    reg = MlflowRegistry(f"sqlite:///{db}")
    assert reg.version_numbers("m") == list(range(1, 13))
    assert sorted(reg.get_version("m", v).metrics["writer"] for v in range(1, 13)) == [1] * 6 + [2] * 6
