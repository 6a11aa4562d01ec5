"""Trust round 3 (issue 22): the registry's identity, the promotion journal, operators' moves and the registry CLI.

An attacker here can write to `runs/` or to `registry/` but cannot read the signing key.
"""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ctml_nb.cli import main
from ctml_nb.pipeline.config import load_config
from ctml_nb.core import IntegrityError
from ctml_nb.pipeline.journal import journal_path, recover_promotion
from ctml_nb.registry.model_files import KEY_ENV, KEY_FILE_ENV, sign
from ctml_nb.registry.files import ModelRegistry

from pipelines import elec2_pipeline  # tests/pipelines.py


@pytest.fixture(autouse=True)
def key_file(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "keys" / "registry.key"))
    return tmp_path / "keys" / "registry.key"


def _model(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 2)); y = (X[:, 0] + 0.1 * seed > 0).astype(int)
    return LogisticRegression().fit(X, y)


@pytest.fixture
def project(tmp_path):
    "A pipeline config whose registry holds versions 1 and 2 of `elec2`, 2 the champion"
    (tmp_path / "pipeline.yaml").write_text(elec2_pipeline())
    reg = ModelRegistry(tmp_path / "registry")
    for s in (1, 2): reg.register(_model(s), "elec2", metrics={"accuracy": 0.7 + s / 100})
    reg.promote("elec2", 1); reg.promote("elec2", 2)
    return tmp_path


def test_a_forged_promotion_journal_is_refused_and_set_aside(project, capsys):
    "Issue 22: a fabricated runs/<pipeline>.promotion.json made `ctml registry list` move the champion 2 -> 1"
    cfg = load_config(project / "pipeline.yaml")
    forged = {"state": "started", "run_id": "20260101T000000Z-abcdef", "pipeline": "elec2", "model": "elec2",
              "previous": 1, "version": 2, "test_snapshot": "0" * 64, "expected": "0" * 64, "started": "2026-01-01T00:00:00"}
    journal_path(cfg).parent.mkdir(parents=True, exist_ok=True)
    for signature in (None, sign(b"the attacker's own key, 32 bytes", forged)):
        journal_path(cfg).write_text(json.dumps(forged if signature is None else {**forged, "signature": signature}))
        assert main(["registry", "list", "--config", str(project / "pipeline.yaml")]) == 0
        err = capsys.readouterr().err
        assert "refused" in err and "nothing done" in err, err
        assert ModelRegistry(project / "registry").resolve("elec2", "champion") == 2
        assert not journal_path(cfg).exists() and list(journal_path(cfg).parent.glob("elec2.promotion.refused-*.json"))
    hist = ModelRegistry(project / "registry").history("elec2")
    assert list(hist["action"]) == ["promote", "promote"]   # no recovery was recorded


def test_a_signed_journal_of_another_pipeline_is_refused(project):
    from ctml_nb.pipeline.journal import begin_promotion
    cfg = load_config(project / "pipeline.yaml")
    other = load_config(project / "pipeline.yaml"); other.name = "other"
    begin_promotion(other, "r1", "elec2", 1, 2, "0" * 64, "0" * 64)   # signed with our key, for another pipeline
    shutil.move(journal_path(other), journal_path(cfg))
    rec = recover_promotion(cfg)
    assert rec["outcome"] == "refused" and "pipeline 'other'" in rec["note"]
    assert ModelRegistry(project / "registry").resolve("elec2", "champion") == 2


def test_a_version_signed_in_another_registry_is_refused_naming_both(tmp_path):
    "Issue 22: a version signed in a sandbox registry (same key) loaded as production's champion and verify() said OK"
    prod, sandbox = ModelRegistry(tmp_path / "prod"), ModelRegistry(tmp_path / "sandbox")
    prod.register(_model(1), "m"); prod.promote("m", 1)
    sandbox.register(_model(2), "m"); sandbox.register(_model(3), "m", metrics={"accuracy": 0.99})
    shutil.copytree(sandbox._version_dir("m", 2), prod._version_dir("m", 2))   # a writer of registry/ copies it in
    with pytest.raises(IntegrityError) as e: prod.load("m", 2)
    msg = str(e.value)
    assert prod.identity()["id"] in msg and sandbox.identity()["id"] in msg and str(tmp_path / "sandbox") in msg, msg
    with pytest.raises(IntegrityError): prod.promote("m", 2)
    assert prod.resolve("m", "champion") == 1
    bad = prod.verify("m").query("version == 2")
    assert not bad["ok"].any()
    prod.sign("m", 2)   # whoever vouches for the copy binds it here, on purpose
    prod.load("m", 2)


def test_an_older_registry_gets_its_identity_on_first_write_and_binds_its_versions(tmp_path):
    "Migration: versions signed before registries had an id load as before; the first write creates the id and binds them"
    from ctml_nb.registry.model_files import signing_key
    reg = ModelRegistry(tmp_path / "reg")
    reg.register(_model(1), "m"); reg.register(_model(2), "m")
    key = signing_key()
    for v in (1, 2):   # what an older ctml-nb wrote: no `registry` in the signed record, no registry.json
        p = reg._version_dir("m", v) / "version.json"
        meta = {k: x for k, x in json.loads(p.read_text()).items() if k not in ("signature", "registry")}
        p.write_text(json.dumps({**meta, "signature": sign(key, meta)}))
    legacy = json.loads((reg._version_dir("m", 2) / "version.json").read_text())
    (tmp_path / "reg" / "registry.json").unlink()
    assert reg.identity() is None
    reg.load("m", 1); reg.load("m", 2)             # as before
    reg.register(_model(3), "m")                    # first write: the id is created, 1 and 2 are bound to it
    ident = reg.identity()
    assert ident and all(json.loads((reg._version_dir("m", v) / "version.json").read_text())["registry"]["id"] == ident["id"]
                         for v in (1, 2, 3))
    reg.load("m", 1)
    (reg._version_dir("m", 2) / "version.json").write_text(json.dumps(legacy))   # an unbound record copied in later
    with pytest.raises(IntegrityError, match="no registry"): reg.load("m", 2)


def test_swap_champion_moves_only_from_the_expected_version(project):
    reg = ModelRegistry(project / "registry")
    assert reg.swap_champion("elec2", 1, 2, reason="stale") is False and reg.resolve("elec2", "champion") == 2
    assert reg.swap_champion("elec2", 2, 1, reason="mine") is True and reg.resolve("elec2", "champion") == 1


def test_registry_cli_hides_forged_metrics_and_refuses_to_promote_them(project, capsys):
    "Issue 22: `ctml registry list` showed a forged version's metrics; `promote` accepted an invalid signature"
    reg = ModelRegistry(project / "registry")
    reg.register(_model(3), "elec2", metrics={"accuracy": 0.5})
    p = reg._version_dir("elec2", 3) / "version.json"
    d = json.loads(p.read_text()); d["metrics"]["accuracy"] = 0.99; p.write_text(json.dumps(d))
    conf = str(project / "pipeline.yaml")
    assert main(["registry", "list", "--config", conf]) == 0
    out, err = capsys.readouterr()
    assert "0.99" not in out and "NO" in out and "version 3 is not verified" in err, (out, err)
    from ctml_nb.cli import EXIT_ERROR
    assert main(["registry", "promote", "3", "--config", conf]) == EXIT_ERROR
    assert "invalid signature" in capsys.readouterr().err
    assert reg.resolve("elec2", "champion") == 2
    p1 = reg._version_dir("elec2", 1) / "version.json"   # the previous champion, forged: a rollback will not go there
    d = json.loads(p1.read_text()); d["metrics"]["accuracy"] = 0.98; p1.write_text(json.dumps(d))
    assert main(["registry", "rollback", "--config", conf]) == EXIT_ERROR
    assert "elec2 version 1" in capsys.readouterr().err and reg.resolve("elec2", "champion") == 2


def test_ctml_run_says_when_a_registry_recovery_holds_the_lock(project, capsys):
    "Issue 22: `ctml run` exited 3 with no cycle running while `ctml registry` recovered, and did not say why"
    from ctml_nb.demo import demo_data
    from ctml_nb.pipeline.runner import cycle_lock_held
    demo_data().iloc[:14 * 48].to_csv(project / "live.csv", index=False)
    with cycle_lock_held(load_config(project / "pipeline.yaml"), "a registry recovery (`ctml registry`)"):
        code = main(["run", "--config", str(project / "pipeline.yaml"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 3 and "No cycle of pipeline 'elec2' is running" in err and "registry recovery" in err, err


@pytest.mark.parametrize("extra, key", [
    ("engine: {kind: dask, address: 'not a url'}\n", "engine.address"),
    ("trust: {key_file: keys}\n", "trust.key_file"),              # a folder
    ("trust: {key_file: loose.key}\n", "trust.key_file"),         # readable by everyone
    ("trust: {key_file: short.key}\n", "trust.key_file"),         # 5 bytes
])
def test_bad_trust_and_engine_settings_exit_2_before_any_kernel(project, capsys, extra, key):
    "Issue 22: `engine.address: 'not a url'` failed 30 s into a later cycle; a key_file naming a folder failed at retrain"
    from ctml_nb.demo import demo_data
    demo_data().iloc[:14 * 48].to_csv(project / "live.csv", index=False)
    (project / "keys").mkdir(exist_ok=True)
    (project / "loose.key").write_text("k" * 64); (project / "loose.key").chmod(0o644)
    (project / "short.key").write_text("short"); (project / "short.key").chmod(0o600)
    (project / "pipeline.yaml").write_text(elec2_pipeline(extra=extra))
    code = main(["run", "--config", str(project / "pipeline.yaml"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and key in err, err
    assert not list((project / "runs").glob("*/run.json")) if (project / "runs").exists() else True


def test_rotate_key_signs_every_verified_version_with_a_new_key(project, key_file, capsys):
    "Key rotation, documented as one command: `ctml registry rotate-key --config FILE`"
    reg = ModelRegistry(project / "registry")
    reg.register(_model(3), "elec2")
    p = reg._version_dir("elec2", 3) / "version.json"
    d = json.loads(p.read_text()); d["metrics"] = {"accuracy": 0.99}; p.write_text(json.dumps(d))   # forged
    from ctml_nb.pipeline.config import config_path
    from ctml_nb.pipeline.journal import last_cursor, sign_cursor
    cfg = load_config(project / "pipeline.yaml"); runs = config_path(cfg, "runs")
    run = {"run_id": "20260101T000000Z-000000abcd", "pipeline": cfg.name, "status": "succeeded", "cursor": {"rows": 5},
           "watermark": None}
    (runs / run["run_id"]).mkdir(parents=True)
    (runs / run["run_id"] / "run.json").write_text(json.dumps({**run, "cursor_signature": sign_cursor(cfg, run)}))
    old = key_file.read_bytes()
    assert main(["registry", "rotate-key", "--config", str(project / "pipeline.yaml")]) == 0
    out, err = capsys.readouterr()
    assert "2 version(s) signed with the new key" in out and "version 3 not signed again" in err, (out, err)
    assert "1 run cursor(s) too" in out, out
    cur, info = last_cursor(cfg, runs)   # the next cycle goes on from where the last one stopped, with the new key
    assert cur == {"rows": 5} and info["passed_over"] == [], info
    assert key_file.read_bytes() != old and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert [f.read_bytes() for f in key_file.parent.glob("registry.key.old-*")] == [old]
    reg.load("elec2", 1); reg.load("elec2", "champion")
    with pytest.raises(IntegrityError): reg.load("elec2", 3)
