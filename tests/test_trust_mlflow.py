"""Issue 22 on the MLflow backend: a version signed in another MLflow registry (another store, or another experiment of
the same store) is refused, and the message names both registries' ids."""
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ctml_nb.core import IntegrityError
from ctml_nb.registry.model_files import KEY_ENV, KEY_FILE_ENV

from registry_backends import mlflow_template_db, spec

pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    return mlflow_template_db(tmp_path_factory)


@pytest.fixture(autouse=True)
def key_file(tmp_path, monkeypatch):   # one key for both registries: the user's
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "keys" / "registry.key"))


def _model(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 2)); y = (X[:, 0] + 0.1 * seed > 0).astype(int)
    return LogisticRegression().fit(X, y)


def _refused(reg, other, v):
    with pytest.raises(IntegrityError) as e: reg.load("m", v)
    msg = str(e.value)
    assert reg.identity()["id"] in msg and other.identity()["id"] in msg, msg
    return msg


def test_a_version_signed_in_another_mlflow_store_is_refused_naming_both(tmp_path, template_db):
    from ctml_nb.registry.mlflow_backend import RECORD, MlflowRegistry
    prod = MlflowRegistry(spec("mlflow", tmp_path / "prod", template_db)["tracking_uri"])
    sandbox = MlflowRegistry(spec("mlflow", tmp_path / "sandbox", template_db)["tracking_uri"])
    prod.register(_model(1), "m"); prod.promote("m", 1); prod.register(_model(2), "m")
    sandbox.register(_model(3), "m"); sandbox.register(_model(4), "m", metrics={"accuracy": 0.99})
    assert prod.identity()["id"] != sandbox.identity()["id"]
    # a writer of prod's tracking store puts the sandbox's signed record on prod's version 2 (same key, same name and number)
    forged = sandbox.client.get_model_version("m", "2").tags[RECORD]
    prod.client.set_model_version_tag("m", "2", RECORD, forged)
    msg = _refused(prod, sandbox, 2)
    assert str(tmp_path / "sandbox") in msg and str(tmp_path / "prod") in msg, msg
    with pytest.raises(IntegrityError): prod.promote("m", 2)
    assert prod.resolve("m", "champion") == 1
    assert not prod.verify("m").query("version == 2")["ok"].any()
    assert prod.verify("m").query("version == 1")["ok"].all()


def test_a_version_signed_for_another_experiment_of_the_same_store_is_refused(tmp_path, template_db):
    from ctml_nb.registry.mlflow_backend import RECORD, MlflowRegistry
    uri = spec("mlflow", tmp_path / "store", template_db)["tracking_uri"]
    prod, sandbox = MlflowRegistry(uri, experiment="prod"), MlflowRegistry(uri, experiment="sandbox")
    prod.register(_model(1), "m"); prod.promote("m", 1)
    sandbox.register(_model(2), "other")
    assert prod.identity()["id"] != sandbox.identity()["id"]
    rec = json.loads(sandbox.client.get_model_version("other", "1").tags[RECORD])
    assert rec["registry"]["id"] == sandbox.identity()["id"]
    with pytest.raises(IntegrityError) as e: prod.load("other", 1)   # the store's models are shared; the records are not
    assert prod.identity()["id"] in str(e.value) and sandbox.identity()["id"] in str(e.value)
    sandbox.load("other", 1); prod.load("m", 1)
    from ctml_nb.core import RegistryError
    with pytest.raises(RegistryError) as e: sandbox.register(_model(3), "m")   # MLflow's names are the store's: "m" is prod's
    assert prod.identity()["id"] in str(e.value) and sandbox.identity()["id"] in str(e.value) and "'prod'" in str(e.value)
    assert prod.version_numbers("m") == [1] and prod.resolve("m", "champion") == 1
