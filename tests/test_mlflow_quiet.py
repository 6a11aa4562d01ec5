"""Issue 23: MLflow's cost and noise. A cycle's MLflow log lines go to RUN/registry.log, not to the terminal; reads of a
local store (`ctml registry list`, the steps that only read) do not import MLflow, and still refuse what does not check.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from ctml_nb.demo import demo_data
from ctml_nb.pipeline.builders import pipeline_registry
from ctml_nb.pipeline.config import load_config
from ctml_nb.pipeline.runner import run_cycle
from ctml_nb.pipeline.steps import REGISTRY_LOG

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """\
name: quiet
data: {source: live.csv, target: target, time_column: timestamp}
model: {factory: "sklearn.tree:DecisionTreeClassifier", params: {max_depth: 3, random_state: 0}}
triggers:
  - {kind: performance, params: {metric: accuracy, floor: 0.0, min_rows: 20}}
strategy: {kind: full, params: {window: 7D}}
promotion: {kind: gate, params: {metric: accuracy, n_boot: 20, latency_repeats: 1, min_delta: -1.0, test: none}}
registry: {kind: mlflow, tracking_uri: "sqlite:///mlflow.db"}
trust: {key_file: registry.key}
timeout: 300
"""
SETUP_LINES = ("Creating initial MLflow database tables", "Context impl SQLiteImpl")   # MLflow's and alembic's INFO lines


def _pipeline(tmp_path, days=8):
    (tmp_path / "pipeline.yaml").write_text(CONFIG)
    demo_data().iloc[:days * 48].to_csv(tmp_path / "live.csv", index=False)
    return tmp_path / "pipeline.yaml"


def _ctml(*args, cwd):
    "`ctml ARGS` in a new process; (exit code, stdout, stderr, whether MLflow was imported)"
    code = ("import sys; from ctml_nb.cli import main; c = main(sys.argv[1:]); "
            "print('MLFLOW-IMPORTED' if 'mlflow' in sys.modules else 'MLFLOW-NOT-IMPORTED'); sys.exit(c)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    return p.returncode, p.stdout, p.stderr, "MLFLOW-IMPORTED" in p.stdout


def test_a_cycle_writes_mlflow_set_up_lines_to_the_run_log_not_the_terminal(tmp_path, capfd):
    cfg = _pipeline(tmp_path)   # a fresh store: MLflow creates its tables during this cycle, and says so
    rec = run_cycle(cfg, progress=False)
    assert (rec.status, rec.model_after) == ("succeeded", 1), rec.reason
    log = (Path(rec.run_dir) / REGISTRY_LOG).read_text()
    assert any(s in log for s in SETUP_LINES), log[-2000:]
    out, err = capfd.readouterr()
    assert not any(s in out + err for s in SETUP_LINES), (out + err)[-2000:]


def test_registry_commands_are_quiet_and_list_reads_without_mlflow_and_still_refuses_a_forged_record(tmp_path):
    cfg = _pipeline(tmp_path)
    assert run_cycle(cfg, progress=False).status == "succeeded"
    reg = pipeline_registry(load_config(cfg))
    from sklearn.dummy import DummyClassifier
    reg.register(DummyClassifier().fit([[0], [1]], [0, 1]), "quiet", metrics={"accuracy": 0.5})
    code, out, err, imported = _ctml("registry", "list", "--config", str(cfg), cwd=tmp_path)
    assert (code, err, imported) == (0, "", False), (out, err)
    rows = {int(line.split()[0]): line for line in out.splitlines() if line.split() and line.split()[0].isdigit()}
    assert sorted(rows) == [1, 2] and "champion" in rows[1] and "yes" in rows[2], out
    code, out, err, imported = _ctml("registry", "promote", "2", "--config", str(cfg), cwd=tmp_path)   # a write: MLflow's client
    assert (code, err, imported) == (0, "", True) and "version 2 is now champion" in out, (out, err)

    rec = json.loads(reg.client.get_model_version("quiet", "2").tags["ctml.record"])
    rec["metrics"]["accuracy"] = 0.99   # a forged number, the signature left as it was
    reg.client.set_model_version_tag("quiet", "2", "ctml.record", json.dumps(rec))
    code, out, err, imported = _ctml("registry", "list", "--config", str(cfg), cwd=tmp_path)
    assert code == 0 and not imported and "version 2 is not verified" in err, (out, err)
    assert "NO" in next(line for line in out.splitlines() if line.startswith("2 ")) and "0.99" not in out
