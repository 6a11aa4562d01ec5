"""The champion of an MLflow registry is an MLflow model: MLflow's own loaders and `mlflow models serve` use it offline,
and predict what ctml-nb's verified load predicts. Data: scikit-learn's bundled wine set (not designed on)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ctml_nb.core import IntegrityError
from ctml_nb.registry.backends import open_registry
from registry_backends import mlflow_template_db, spec, stored_file

pytest.importorskip("mlflow")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    return mlflow_template_db(tmp_path_factory)


@pytest.fixture
def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    return X.rename(columns=lambda c: c.replace("/", "_")), y


@pytest.fixture
def reg(tmp_path, template_db, monkeypatch):
    monkeypatch.setenv("CTML_REGISTRY_KEY_FILE", str(tmp_path / "registry.key"))
    monkeypatch.delenv("CTML_REGISTRY_KEY", raising=False)
    return open_registry(spec("mlflow", tmp_path / "store", template_db))


class Halver:
    "Not a scikit-learn estimator: stored in MLflow's pyfunc flavour"
    def predict(self, X): return np.asarray(X.iloc[:, 0]) / 2


def _champion(reg, wine):
    X, y = wine
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    reg.register(model, "wine", data_snapshot={"train": X.assign(target=y)}, metrics={"acc": 0.9})
    reg.promote("wine", 1, reason="first")
    return X, model


def test_the_champion_loads_through_mlflow_with_a_signature(reg, wine):
    import mlflow
    X, model = _champion(reg, wine)
    mlflow.set_tracking_uri(reg.tracking_uri)
    try:
        mm = mlflow.pyfunc.load_model("models:/wine@champion")
        assert mm.metadata.get_input_schema().input_names() == list(X.columns)
        assert mm.metadata.flavors.keys() >= {"sklearn", "python_function"}
        np.testing.assert_array_equal(mm.predict(X.head(20)), reg.load("wine", "champion").predict(X.head(20)))
        np.testing.assert_array_equal(mlflow.sklearn.load_model("models:/wine@champion").predict(X), model.predict(X))
    finally: mlflow.set_tracking_uri(None)
    files = reg._record("wine", 1)["model_files"]
    assert {"model/MLmodel", "model/model.pkl", "model/input_example.json"} <= set(files), sorted(files)


def test_any_estimator_is_a_pyfunc_model(reg, wine):
    import mlflow
    X, _ = wine
    reg.register(Halver(), "half", data_snapshot={"train": X}, schema=None)
    mlflow.set_tracking_uri(reg.tracking_uri)
    try: got = mlflow.pyfunc.load_model("models:/half/1").predict(X.head(5))
    finally: mlflow.set_tracking_uri(None)
    np.testing.assert_allclose(got, X.iloc[:5, 0] / 2)


def test_a_skops_model_stays_skops_for_mlflow(reg, wine):
    "No pickle is added beside a model registered as skops: MLflow's pyfunc reads the skops file itself"
    pytest.importorskip("skops")
    import mlflow
    X, y = wine
    model = LogisticRegression(max_iter=2000).fit(X, y)
    reg.register(model, "wine_skops", data_snapshot={"train": X}, format="skops")
    files = reg._record("wine_skops", 1)["model_files"]
    assert "model/model.pkl" not in files and "model/MLmodel" in files
    mlflow.set_tracking_uri(reg.tracking_uri)
    try: got = mlflow.pyfunc.load_model("models:/wine_skops/1").predict(X.head(10))
    finally: mlflow.set_tracking_uri(None)
    np.testing.assert_array_equal(got, reg.load("wine_skops", 1).predict(X.head(10)))


def test_ctml_loads_verify_every_file_of_the_mlflow_model(reg, wine):
    _champion(reg, wine)
    rec = reg._record("wine", 1)["model_files"]["model/MLmodel"]
    p = stored_file(reg, "wine", 1, rec)
    p.write_text(p.read_text() + "\n# changed\n")
    with pytest.raises(IntegrityError, match="MLmodel"): reg.load("wine", "champion")
    bad = reg.verify("wine")
    assert not bad["ok"].all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_models_serve_answers_like_ctmls_own_load(reg, wine, tmp_path):
    X, _ = _champion(reg, wine)
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": reg.tracking_uri, "PYTHONPATH": str(ROOT),   # as in an activated venv:
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}   # MLflow runs `uvicorn`
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([exe, "models", "serve", "-m", "models:/wine@champion", "--env-manager", "local",
                             "-h", "127.0.0.1", "-p", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240   # a hang guard only: the loop ends as soon as the server answers
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as r:
                    if r.status == 200: break
            except (urllib.error.URLError, ConnectionError, OSError): pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        rows = X.sample(15, random_state=0)
        body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r: served = json.loads(r.read())["predictions"]
        np.testing.assert_array_equal(np.asarray(served), reg.load("wine", "champion").predict(rows))
    finally:
        if proc.poll() is None: os.killpg(proc.pid, 15)
        proc.wait(timeout=60)
        log.close()
