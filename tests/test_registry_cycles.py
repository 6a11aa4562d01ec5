"""A pipeline's whole life on each registry backend, through papermill (in-process): first model, a skipped cycle,
a retrain promoted, a retrain rejected (registered, never champion), a rollback from the CLI, and `ctml registry list`.
"""
import json

import pytest

from ctml_nb.cli import EXIT_ERROR, EXIT_OK, main
from ctml_nb.pipeline.builders import pipeline_registry
from ctml_nb.pipeline.config import load_config
from ctml_nb.demo import demo_data
from ctml_nb.pipeline.runner import request_retrain, run_cycle
from registry_backends import BACKENDS, mlflow_template_db, spec

CONFIG = """\
name: elec2
data: {{source: live.csv, target: target, time_column: timestamp}}
model:
  factory: sklearn.tree:DecisionTreeClassifier
  params: {{max_depth: 4, random_state: 0}}
triggers:
  - {{kind: performance, params: {{metric: accuracy, floor: 0.0, min_rows: 20}}}}
strategy: {{kind: full, params: {{window: 7D}}}}
promotion: {{kind: gate, params: {{metric: accuracy, n_boot: 50, latency_repeats: 1, {gate}}}}}
registry: {registry}
trust: {{key_file: registry.key}}
timeout: 300
"""
ACCEPT_ANY, REJECT_ALL = "min_delta: -1.0, test: none", "min_delta: 1.0, test: none"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    return mlflow_template_db(tmp_path_factory)


def _config(tmp_path, registry, gate):
    (tmp_path / "pipeline.yaml").write_text(CONFIG.format(registry=json.dumps(registry), gate=gate))
    return tmp_path / "pipeline.yaml"


def _live(tmp_path, days):
    demo_data().iloc[:days * 48].to_csv(tmp_path / "live.csv", index=False)


@pytest.mark.parametrize("kind", BACKENDS)
def test_cycle_sequence_on_each_backend(kind, tmp_path, request, capsys):
    if kind == "mlflow": spec(kind, tmp_path, request.getfixturevalue("template_db"))   # a migrated, empty store: tmp_path/mlflow.db
    registry = {"kind": "mlflow", "tracking_uri": "sqlite:///mlflow.db"} if kind == "mlflow" else "registry"  # relative to the config
    cfg = _config(tmp_path, registry, ACCEPT_ANY)

    _live(tmp_path, 8)
    first = run_cycle(cfg, progress=False)
    assert (first.status, first.model_after) == ("succeeded", 1), first.reason
    _live(tmp_path, 9)
    skipped = run_cycle(cfg, progress=False)
    assert (skipped.status, skipped.model_after) == ("skipped", 1), skipped.reason

    _live(tmp_path, 10)
    request_retrain(load_config(cfg), "test: a retrain the gate accepts", requested_by="pytest")
    promoted = run_cycle(cfg, progress=False)
    assert (promoted.status, promoted.model_before, promoted.model_after) == ("succeeded", 1, 2), promoted.reason

    _live(tmp_path, 11)
    cfg = _config(tmp_path, registry, REJECT_ALL)
    request_retrain(load_config(cfg), "test: a retrain the gate rejects", requested_by="pytest")
    rejected = run_cycle(cfg, progress=False)
    assert (rejected.status, rejected.model_after) == ("succeeded", 2), rejected.reason
    assert not rejected.gate["promote"] and rejected.values["promote"]["rejected"] == {"version": 3, "status": "rejected"}
    assert "registered as version 3" in rejected.reason

    reg = pipeline_registry(load_config(cfg))
    assert type(reg).__name__ == {"file": "ModelRegistry", "mlflow": "MlflowRegistry"}[kind]
    v3 = reg.get_version("elec2", 3)
    assert (v3.status, v3.aliases, v3.parent["version"], v3.run_id) == ("rejected", [], 2, rejected.run_id)
    assert json.loads(reg.load_artifact("elec2", 3, "gate_decision"))["promote"] is False
    assert reg.get_version("elec2", "champion").status == "accepted"

    assert main(["registry", "promote", "3", "--config", str(cfg)]) == EXIT_ERROR
    assert "the gate rejected" in capsys.readouterr().err
    assert main(["registry", "rollback", "--config", str(cfg), "--reason", "complaints after version 2"]) == EXIT_OK
    assert "champion is now version 1" in capsys.readouterr().out
    assert main(["registry", "list", "--config", str(cfg)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "mlflow" not in err.lower() and "alembic" not in err.lower(), err   # MLflow's set-up lines stay off the terminal
    lines = out.splitlines()
    assert "status" in lines[0] and "metrics.accuracy" in lines[0]
    rows = {ln.split()[0]: ln for ln in lines[1:] if ln.split() and ln.split()[0].isdigit()}
    assert set(rows) == {"1", "2", "3"} and "champion" in rows["1"] and "rejected" in rows["3"] and "accepted" in rows["2"]
    h = reg.history("elec2")
    assert list(h["action"]) == ["promote", "promote", "rollback"] and h["reason"].iloc[-1] == "complaints after version 2"
    assert reg.verify(snapshots=True)["ok"].all()
    if kind == "mlflow":   # the pipeline's champion is an MLflow model, with the signature of the features it reads
        import mlflow
        mlflow.set_tracking_uri(reg.tracking_uri)
        try: mm = mlflow.pyfunc.load_model("models:/elec2@champion")
        finally: mlflow.set_tracking_uri(None)
        feats = mm.metadata.get_input_schema().input_names()
        assert "nswprice" in feats and "target" not in feats, feats
        rows = reg.load_snapshot(reg.get_version("elec2", "champion").data_snapshots["train"])[feats].head(20)
        assert (mm.predict(rows) == reg.load("elec2", "champion").predict(rows)).all()

    _live(tmp_path, 12)   # the next cycle serves the rolled-back champion
    after = run_cycle(cfg, progress=False)
    assert (after.status, after.model_before, after.model_after) == ("skipped", 1, 1), after.reason
