"""The packaged templates through papermill (in-process; a killed kernel in a real one): full, skipped, failed cycles
and a user's changed copy.

Failure modes on minimal templates (timeouts, overlapping cycles, ...) are in `test_pipeline_runner.py`; here the
real steps run on a small slice of the bundled Elec2 data.
"""
import json
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from ctml_nb.cli import EXIT_USAGE, main
from ctml_nb.pipeline.config import config_path, load_config
from ctml_nb.demo import demo_data
from ctml_nb.pipeline.context import DRIFT_PROFILE, GATE_DECISION, fit_reference, open_context, reference_detector
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.pipeline.runner import RunRecord, read_index, request_retrain, run_cycle

TEMPLATES = Path(__file__).resolve().parents[1] / "ctml_nb" / "templates"
from pipelines import elec2_pipeline  # noqa: E402 (tests/pipelines.py)
CONFIG = elec2_pipeline(floor="FLOOR", gate="")


def _project(tmp_path, floor=0.0, templates=None, accept_any=False):
    cfg = CONFIG.replace("FLOOR", str(floor))
    if accept_any:  # a gate that promotes any challenger: the crash test needs a promotion to undo
        cfg = cfg.replace("n_boot: 200,", "n_boot: 200, min_delta: -1.0, test: none,")
    if templates: cfg += f"templates: {templates}\n"
    (tmp_path / "pipeline.yaml").write_text(cfg)
    return tmp_path / "pipeline.yaml"


def _live(tmp_path, days, corrupt=False):
    df = demo_data().iloc[:days * 48].copy()
    if corrupt: df.loc[df.index[-48:], "nswdemand"] = np.nan
    df.to_csv(tmp_path / "live.csv", index=False)


def _champion(cfg):
    try: return ModelRegistry(config_path(cfg, "registry")).resolve("elec2", "champion")
    except Exception: return None


def test_story_full_skipped_failed_recovered(tmp_path):
    cfg = _project(tmp_path)
    _live(tmp_path, 14)
    first = run_cycle(cfg, progress=False)
    assert first.status == "succeeded", first.reason
    assert first.reason.startswith("version 1 promoted")
    assert (first.model_before, first.model_after) == (None, 1)
    assert [s["step"] for s in first.steps] == ["check", "retrain", "evaluate", "promote"]
    assert all(Path(s["notebook"]).exists() for s in first.steps)
    assert first.trigger["retrain"] and first.trigger["fired"] == ["first_model"]   # nobody asked: no champion yet
    assert first.gate["promote"] and first.gate["baseline"] is None
    assert set(first.snapshots) == {"batch", "train", "test"}
    on_disk = json.loads((Path(first.run_dir) / "run.json").read_text())
    assert on_disk["status"] == "succeeded" and on_disk["watermark"] == "1997-05-18T23:30:00"
    mv = ModelRegistry(tmp_path / "registry").get_version("elec2", "champion")
    assert mv.run_id == first.run_id and mv.data_snapshots["train"] == first.snapshots["train"] and mv.has_schema
    nb = nbformat.read(first.steps[0]["notebook"], as_version=4)
    assert "| run | `%s` |" % first.run_id in json.dumps(nb)  # the run header

    # the champion carries its drift reference profile, which gives the report a refit on its training rows gives
    reg = ModelRegistry(tmp_path / "registry")
    assert sorted(mv.artifacts) == [DRIFT_PROFILE, GATE_DECISION] and mv.status == "accepted"
    ctx = open_context(load_config(cfg))
    day = demo_data().iloc[14 * 48:16 * 48]
    day = day.assign(nswdemand=day["nswdemand"] * 1.3)
    stored = reference_detector(ctx, mv).test(day)
    assert stored.to_dict() == fit_reference(ctx.cfg, reg.load_snapshot(mv.data_snapshots["train"])).test(day).to_dict()
    assert "nswdemand" in stored.drifted
    train_file = Path(reg.snapshots.info(mv.data_snapshots["train"]).path)
    train_file.rename(train_file.with_suffix(".away"))  # so the next check cannot read the training data

    _live(tmp_path, 15)  # one more day; the floor is 0: nothing fires
    skipped = run_cycle(cfg, progress=False)
    assert (skipped.status, len(skipped.steps)) == ("skipped", 1), skipped.reason
    assert skipped.reason.startswith("no trigger fired") and "accuracy" in skipped.reason
    assert skipped.model_after == 1
    check_nb = json.dumps(nbformat.read(skipped.steps[0]["notebook"], as_version=4))
    assert "Reference: the drift profile stored with version 1" in check_nb and "reference refitted" not in check_nb
    train_file.with_suffix(".away").rename(train_file)

    _live(tmp_path, 16, corrupt=True)  # a sensor outage in the new day
    failed = run_cycle(cfg, progress=False)
    assert failed.status == "failed"
    assert "Data validation failed" in failed.reason and "nswdemand" in failed.reason
    assert (failed.model_before, failed.model_after) == (1, 1)
    assert Path(failed.steps[0]["notebook"]).exists()

    _live(tmp_path, 16)  # repaired: the next cycle processes the same day again
    again = run_cycle(cfg, progress=False)
    assert again.status == "skipped", again.reason
    assert again.values["check"]["batch_rows"] == 48
    assert list(read_index(tmp_path / "runs")["status"]) == ["succeeded", "skipped", "failed", "skipped"]


def _seed_champion(seeded, tmp_path):
    "A registry with a champion trained by a first cycle (a copy of the shared seed, tests/seeded.py), and a 15th day"
    cfg = seeded(tmp_path, CONFIG.replace("FLOOR", "0.0"))
    _live(tmp_path, 15)
    return cfg


def _copy_templates(tmp_path, step, code):
    "A user's copy of the packaged templates with `code` appended to one step"
    dst = tmp_path / "my_templates"
    shutil.copytree(TEMPLATES, dst)
    path = next(dst.glob(f"*_{step}.ipynb"))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(code))
    nbformat.write(nb, path)
    return dst


def test_crash_after_promotion_restores_the_champion(seeded, tmp_path):
    cfg = _seed_champion(seeded, tmp_path)
    tpl = _copy_templates(tmp_path, "promote", "raise RuntimeError('crash after the promotion')")
    cfg = _project(tmp_path, templates=str(tpl), accept_any=True)
    request_retrain(load_config(cfg), "test: force a retrain", requested_by="pytest")
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and "crash after the promotion" in rec.reason
    assert rec.values["promote"]["promotion"]["version"] == 2  # the step promoted version 2, then crashed ...
    assert "restored to 1" in rec.reason  # ... and the runner put the champion back
    assert (rec.model_before, rec.model_after) == (1, 1)
    assert _champion(load_config(cfg)) == 1
    assert len(list((tmp_path / "runs" / "requests" / "elec2").glob("*.json"))) == 1  # a failed cycle leaves it queued


@pytest.mark.kernel
def test_kernel_killed_in_a_step_keeps_the_champion(seeded, tmp_path):
    _seed_champion(seeded, tmp_path)  # the first model in-process (the seed); the cycle under test in real kernels
    tpl2 = _copy_templates(tmp_path / "k", "evaluate", "import os; os._exit(1)")
    cfg = _project(tmp_path, templates=str(tpl2))
    request_retrain(load_config(cfg), "test: force a retrain", requested_by="pytest")
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and "kernel died" in rec.reason
    assert rec.steps[-1]["step"] == "evaluate"
    assert "This step failed" in nbformat.read(rec.steps[-1]["notebook"], as_version=4).cells[0].source
    assert _champion(load_config(cfg)) == 1


def test_bad_config_and_bad_parameter(tmp_path, capsys):
    cfg = _project(tmp_path)
    _live(tmp_path, 3)
    bad = tmp_path / "bad.yaml"
    bad.write_text(cfg.read_text().replace("kind: performance", "kind: perfromance"))
    assert main(["run", "--config", str(bad)]) == EXIT_USAGE
    assert "triggers[0].kind: expected one of" in capsys.readouterr().err
    assert main(["run", "--config", str(cfg), "-p", "retrain.test_fraction", "high"]) == EXIT_USAGE
    assert "parameter 'test_fraction': expected Optional[float]" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*/run.json"))


def test_cli_registry_and_drift_without_kernels(tmp_path, capsys):
    from sklearn.dummy import DummyClassifier
    from ctml_nb.cli import EXIT_ERROR, EXIT_FAILED, EXIT_OK
    cfg = _project(tmp_path)
    reg = ModelRegistry(tmp_path / "registry")
    for _ in range(2): reg.register(DummyClassifier().fit([[0], [1]], [0, 1]), "elec2", metrics={"accuracy": 0.5})
    assert main(["registry", "promote", "1", "--config", str(cfg)]) == EXIT_OK
    assert main(["registry", "promote", "2", "--config", str(cfg), "--reason", "better"]) == EXIT_OK
    assert main(["registry", "list", "--config", str(cfg)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "version 2 is now champion" in out and "metrics.accuracy" in out
    assert main(["registry", "rollback", "--config", str(cfg), "--reason", "bad feedback"]) == EXIT_OK
    assert "champion is now version 1" in capsys.readouterr().out
    assert reg.resolve("elec2", "champion") == 1
    assert main(["registry", "promote", "9", "--config", str(cfg)]) == EXIT_ERROR
    assert "has no version 9" in capsys.readouterr().err

    data = demo_data()
    feats = ["nswprice", "nswdemand"]
    data.iloc[:1000][feats].to_csv(tmp_path / "ref.csv", index=False)
    data.iloc[10000:11000][feats].to_parquet(tmp_path / "cur.parquet")
    html = tmp_path / "drift.html"
    assert main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.parquet"), "--html", str(html)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "nswprice" in out and "dataset drift" in out and html.exists()
    code = main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.parquet"), "--fail-on-drift"])
    assert code == (EXIT_FAILED if "dataset drift: True" in capsys.readouterr().out else EXIT_OK)
    assert main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "missing.csv")]) == EXIT_ERROR
    assert "File not found" in capsys.readouterr().err


def test_streaming_detector_carries_on_across_cycles(tmp_path):
    "An ADWIN on the error stream sees every good cycle's errors, not only the last batch's (each step is a new kernel)"
    cfg = _project(tmp_path)
    text = cfg.read_text().replace("floor: 0.0, min_rows: 20", "detector: adwin, min_rows: 20")
    cfg.write_text(text)
    _live(tmp_path, 14)
    assert run_cycle(cfg, progress=False).status == "succeeded"   # first model, on request
    _live(tmp_path, 15)
    second = run_cycle(cfg, progress=False)
    assert second.status == "skipped", second.reason
    run_dir = Path(second.run_dir)
    assert (run_dir / "trigger_state.joblib").exists()
    _live(tmp_path, 16)
    third = run_cycle(cfg, progress=False)
    notes = " ".join(third.trigger["notes"])
    assert f"detector state restored from run {second.run_id} (48 values seen)" in notes, notes
    assert third.trigger["evidence"]  # the numbers behind the decision are still recorded


def test_default_policy_state_carries_on_across_cycles(tmp_path):
    "The default policy's decay trigger keeps the model's fresh level between cycles (each step is a new kernel)"
    cfg = _project(tmp_path)
    cfg.write_text(cfg.read_text().replace("  - {kind: performance, params: {metric: accuracy, floor: 0.0, min_rows: 20}}",
                                           "  - {kind: decay, params: {window: 30}}\n  - {kind: volume, params: {min_fraction: 0.03}}\n"
                                           "trigger_combine: all"))
    _live(tmp_path, 14)
    assert run_cycle(cfg, progress=False).status == "succeeded"   # first model, on request
    _live(tmp_path, 15)
    second = run_cycle(cfg, progress=False)
    assert (Path(second.run_dir) / "trigger_state.joblib").exists(), second.reason
    _live(tmp_path, 16)
    third = run_cycle(cfg, progress=False)
    notes = " ".join(third.trigger["notes"])
    assert f"decay(max_rise=0.1, window=30): streaming state restored from run {second.run_id}" in notes, notes
    label = "decay(max_rise=0.1, window=30)"
    ev2, ev3 = second.trigger["evidence"][label], third.trigger["evidence"][label]
    assert ev2["fresh"] is not None and ev3["fresh"] == ev2["fresh"], (ev2, ev3)  # the level measured on day 15 is kept
    assert ev3["error"] is not None and "on the last 30 rows" in " ".join(third.trigger["notes"] + third.trigger["reasons"])
