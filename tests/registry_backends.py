"The registry backends the contract and cycle tests run against (a helper module: pytest collects only test_*.py files)."
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

BACKENDS = ["file", "mlflow"]


def mlflow_template_db(tmp_path_factory):
    "An empty, migrated MLflow SQLite store, made once per session (creating one takes MLflow several seconds)"
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    db = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


def spec(kind, folder, template_db=None):
    "The `registry:` spec of a backend whose files live in `folder` (the MLflow store copied from `template_db`)"
    folder = Path(folder); folder.mkdir(parents=True, exist_ok=True)
    if kind == "file": return {"kind": "file", "root": str(folder / "registry")}
    if template_db is not None and not (folder / "mlflow.db").exists(): shutil.copy(template_db, folder / "mlflow.db")
    return {"kind": "mlflow", "tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"}


def stored_file(reg, name, version, rec=None):
    "Local path of a version's model file (or of the artifact record `rec`), to damage it in a test"
    if type(reg).__name__ == "ModelRegistry": return Path(reg.root) / (rec or reg._record(name, version))["file"]
    meta = reg._record(name, version)
    uri = reg.client.get_run(meta["mlflow_run_id"]).info.artifact_uri
    return Path(unquote(urlparse(uri).path)) / (rec or meta)["file"]
