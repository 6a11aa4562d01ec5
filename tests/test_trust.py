"""Model and state files that could run code: the registry's models, the streaming detectors' state and the candidate.

An attacker here can write to the registry and the runs folder (and rewrite a model's recorded SHA-256 and size) but
cannot read the signing key. Every malicious file below is a pickle whose `__reduce__` would create a marker file:
the tests check the file is refused with a clear message and that the marker never appears.
"""
import hashlib
import json
import shutil
from pathlib import Path

import joblib
import nbformat
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ctml_nb.pipeline.config import load_config, parse_config
from ctml_nb.core import IntegrityError
from ctml_nb.demo import demo_data
from ctml_nb.registry.model_files import KEY_ENV, KEY_FILE_ENV, sign
from ctml_nb.pipeline.context import (CANDIDATE, TRIGGER_STATE, load_candidate, open_context, restore_trigger_state,
                              save_candidate, save_trigger_state)
from ctml_nb.pipeline.policy_config import build_trigger
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.pipeline.runner import append_index, read_index, request_retrain, run_cycle
from ctml_nb.policy.triggers import ModelState

TEMPLATES = Path(__file__).resolve().parents[1] / "ctml_nb" / "templates"


class Evil:
    "Unpickling this runs code: it creates `marker`"
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (exec, (f"open({self.marker!r}, 'w').close()",))


@pytest.fixture(autouse=True)
def key_file(tmp_path, monkeypatch):
    "Each test has its own key, outside the registry and runs folders (the steps read the environment)"
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "keys" / "registry.key"))
    return tmp_path / "keys" / "registry.key"


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    return X, y


def _swap_model(reg, name, v, obj):
    "What an attacker with write access does: replace the model file and update its recorded SHA-256 and size"
    vdir = reg._version_dir(name, v)
    meta = json.loads((vdir / "version.json").read_text())
    f = Path(reg.root) / meta["file"]
    joblib.dump(obj, f)
    data = f.read_bytes()
    meta.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (vdir / "version.json").write_text(json.dumps(meta))
    return meta


# -- the registry

def test_rehashed_malicious_registry_pickle_is_refused_and_never_runs(tmp_path):
    X, y = _data()
    reg = ModelRegistry(tmp_path / "registry")
    reg.register(LogisticRegression().fit(X, y), "clf")
    marker = tmp_path / "pwned"
    _swap_model(reg, "clf", 1, Evil(marker))
    for call in (lambda: reg.load("clf", 1), lambda: reg.load("clf", "latest")):
        with pytest.raises(IntegrityError) as e:
            call()
        msg = str(e.value)
        assert "clf version 1" in msg and "invalid signature" in msg, msg
        assert "Do not load it: restore the version from a backup" in msg, msg
    assert not marker.exists()
    chk = reg.verify("clf")           # the check a scheduled job runs flags it too
    assert not chk["ok"].any() and "invalid signature" in chk["problem"].iloc[0]
    # removing the signature does not help: an unsigned version is refused as well
    vj = reg._version_dir("clf", 1) / "version.json"
    meta = json.loads(vj.read_text()); del meta["signature"]; vj.write_text(json.dumps(meta))
    with pytest.raises(IntegrityError, match="clf version 1 .* is not signed"):
        reg.load("clf", 1)
    assert not marker.exists()


def test_signature_by_another_key_is_refused(tmp_path, monkeypatch):
    X, y = _data()
    monkeypatch.setenv(KEY_ENV, "the attacker's key, long enough")
    evil = ModelRegistry(tmp_path / "registry")
    evil.register(Evil(tmp_path / "pwned"), "clf")       # a well-formed version, signed with another key
    monkeypatch.setenv(KEY_ENV, "our key, long enough to use")
    with pytest.raises(IntegrityError, match="invalid signature"):
        ModelRegistry(tmp_path / "registry").load("clf", 1)
    monkeypatch.delenv(KEY_ENV)                           # no key at all on this machine
    with pytest.raises(IntegrityError, match="has no signing key"):
        ModelRegistry(tmp_path / "registry", key_file=tmp_path / "none.key").load("clf", 1)
    assert not (tmp_path / "pwned").exists()


def test_default_path_round_trips_and_legitimate_joblib_loads_when_trusted_or_signed(tmp_path, key_file):
    X, y = _data()
    m = LogisticRegression(C=0.3).fit(X, y)
    reg = ModelRegistry(tmp_path / "registry")
    mv = reg.register(m, "clf")
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"   # made on first use, private
    assert not str(key_file).startswith(str(reg.root))
    np.testing.assert_array_equal(reg.load("clf", mv.version).predict(X), m.predict(X))
    np.testing.assert_array_equal(reg.load("clf", mv.version).predict_proba(X), m.predict_proba(X))
    # a version registered before signing (no signature): refused by default, loaded when the user trusts the folder,
    # and loaded by default again once the user signs it
    vj = reg._version_dir("clf", 1) / "version.json"
    meta = json.loads(vj.read_text()); del meta["signature"]; vj.write_text(json.dumps(meta))
    with pytest.raises(IntegrityError, match=r"sign it: `ModelRegistry\(...\).sign\('clf', 1\)`"):
        reg.load("clf", 1)
    np.testing.assert_array_equal(ModelRegistry(reg.root, trust_unsigned=True).load("clf", 1).predict(X), m.predict(X))
    reg.sign("clf", 1)
    np.testing.assert_array_equal(reg.load("clf", 1).predict(X), m.predict(X))
    # set_tag keeps a valid signature valid
    reg.set_tag("clf", 1, "reviewed", "yes")
    assert reg.check_signature("clf", 1) == 1
    # skops versions are signed and checked the same way
    pytest.importorskip("skops")
    v2 = reg.register(m, "clf", format="skops")
    np.testing.assert_array_equal(reg.load("clf", v2.version).predict(X), m.predict(X))


def test_pipeline_config_trust(tmp_path):
    base = {"name": "toy", "data": {"source": "d.csv", "target": "y"}, "model": {"factory": "m:f"}}
    ctx = open_context(parse_config(base, tmp_path))
    assert ctx.registry.trust_unsigned is False and ctx.registry.key_file is None
    ctx = open_context(parse_config({**base, "trust": {"trusted": True, "key_file": "secret/k.key"}}, tmp_path))
    assert ctx.registry.trust_unsigned is True and ctx.registry.key_file == tmp_path / "secret" / "k.key"


# -- the runs folder: streaming detector state

def _streaming_ctx(tmp_path):
    cfg = parse_config({"name": "toy", "data": {"source": "d.csv", "target": "y"}, "runs": "runs",
                        "model": {"factory": "sklearn.linear_model:LogisticRegression"},
                        "triggers": [{"kind": "performance", "params": {"detector": "ddm"}}]}, tmp_path)
    return cfg, open_context(cfg)


def _fed(trigger):
    (perf,) = [t for t in [trigger, *getattr(trigger, "triggers", [])] if getattr(t, "detector", None) is not None]
    return getattr(perf, "n_fed_", 0)


def test_tampered_trigger_state_is_refused_and_the_detector_starts_fresh(tmp_path):
    cfg, ctx = _streaming_ctx(tmp_path)
    t1, _ = build_trigger(cfg)
    t1.check(ModelState(errors=np.random.default_rng(0).integers(0, 2, 100), last_trained_rows=0))
    path = save_trigger_state(ctx, "run-1", t1)
    assert path.name == TRIGGER_STATE and Path(f"{path}.sig").exists()
    append_index(tmp_path / "runs", {"run_id": "run-1", "pipeline": "toy", "status": "succeeded"})
    t2, _ = build_trigger(cfg)
    assert "restored from run run-1 (100 values seen)" in restore_trigger_state(ctx, t2)[0]

    marker = tmp_path / "pwned"
    joblib.dump(Evil(marker), path)                       # replaced; the old signature file stays
    t3, _ = build_trigger(cfg)
    (note,) = restore_trigger_state(ctx, t3)
    assert note.startswith("streaming detector(s) start fresh: state file not signed or tampered"), note
    assert "does not match the SHA-256 and size its signature vouches for" in note and _fed(t3) == 0
    # the attacker rewrites the signature file to match, but cannot sign it with our key
    data = path.read_bytes()
    rec = {"file": f"run-1/{TRIGGER_STATE}", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    Path(f"{path}.sig").write_text(json.dumps({**rec, "signature": sign(b"guessed key", rec)}))
    (note,) = restore_trigger_state(ctx, build_trigger(cfg)[0])
    assert "invalid signature" in note, note
    Path(f"{path}.sig").unlink()                          # or removes it
    (note,) = restore_trigger_state(ctx, build_trigger(cfg)[0])
    assert "no readable signature file" in note, note
    assert not marker.exists()


# -- the runs folder: the candidate between steps

def test_tampered_candidate_is_refused(tmp_path):
    X, y = _data()
    cfg, ctx = _streaming_ctx(tmp_path)
    m = LogisticRegression().fit(X, y)
    path = save_candidate(ctx, "run-1", m)
    np.testing.assert_array_equal(load_candidate(ctx, "run-1").predict(X), m.predict(X))
    marker = tmp_path / "pwned"
    joblib.dump(Evil(marker), path)
    data = path.read_bytes()
    rec = {"file": f"run-1/{CANDIDATE}", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    Path(f"{path}.sig").write_text(json.dumps({**rec, "signature": sign(b"guessed key", rec)}))
    with pytest.raises(IntegrityError, match="Candidate model .* has an invalid signature") as e:
        load_candidate(ctx, "run-1")
    assert "The cycle stops and the champion stays" in str(e.value)
    save_candidate(ctx, "run-2", m)                       # another run's signed candidate, copied here, is refused too
    shutil.copy(Path(tmp_path / "runs" / "run-2" / f"{CANDIDATE}.sig"), Path(f"{path}.sig"))
    shutil.copy(tmp_path / "runs" / "run-2" / CANDIDATE, path)
    with pytest.raises(IntegrityError, match="its signature is for run-2/candidate.joblib"):
        load_candidate(ctx, "run-1")
    assert not marker.exists()


# -- real cycles (papermill): a tampered candidate, then a re-hashed champion

from pipelines import elec2_pipeline  # noqa: E402 (tests/pipelines.py)
CONFIG = elec2_pipeline()


def _live(tmp_path, days):
    demo_data().iloc[:days * 48].to_csv(tmp_path / "live.csv", index=False)


def test_cycles_refuse_a_tampered_candidate_and_a_rehashed_champion(seeded, tmp_path):
    cfg = seeded(tmp_path, CONFIG)   # version 1 champion after a first cycle (tests/seeded.py)

    # someone with write access to runs/ replaces the candidate between the retrain and evaluate steps
    marker = tmp_path / "pwned"
    tpl = tmp_path / "my_templates"
    shutil.copytree(TEMPLATES, tpl)
    path = next(tpl.glob("*_retrain.ipynb"))
    nb = nbformat.read(path, as_version=4)
    payload = f"open({str(marker)!r}, 'w').close()"
    nb.cells.append(nbformat.v4.new_code_cell(
        "import joblib\nclass _Evil:\n    def __reduce__(self): return (exec, (%r,))\n"
        "joblib.dump(_Evil(), candidate_path)" % payload))
    nbformat.write(nb, path)
    cfg.write_text(CONFIG + f"templates: {tpl}\n")
    _live(tmp_path, 15)
    request_retrain(load_config(cfg), "test: force a retrain", requested_by="pytest")
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and rec.steps[-1]["step"] == "evaluate", rec.reason
    assert "Candidate model" in rec.reason and "does not match the SHA-256 and size" in rec.reason, rec.reason
    assert (rec.model_before, rec.model_after) == (1, 1)
    assert not marker.exists()

    # ... or replaces the champion's model file in the registry and updates its recorded hash and size
    cfg.write_text(CONFIG)
    reg = ModelRegistry(tmp_path / "registry")
    _swap_model(reg, "elec2", 1, Evil(marker))
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and rec.steps[-1]["step"] == "check", rec.reason
    assert "elec2 version 1" in rec.reason and "invalid signature" in rec.reason, rec.reason
    assert not marker.exists()
    assert reg.resolve("elec2", "champion") == 1
    assert list(read_index(tmp_path / "runs")["status"]) == ["succeeded", "failed", "failed"]


def test_a_run_config_changed_between_steps_is_refused(tmp_path):
    "runs/<id>/config.json names code to import: a step refuses it when it differs from what the runner wrote"
    from ctml_nb.pipeline.runner import load_run_config
    from ctml_nb.core import IntegrityError
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(CONFIG)
    _live(tmp_path, 14)
    tpl = tmp_path / "my_templates"
    shutil.copytree(TEMPLATES, tpl)
    path = next(tpl.glob("*_check.ipynb"))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(   # someone with write access to runs/ edits the run's config
        "import json\nd = json.load(open(config_path))\nd['model']['factory'] = 'os:getcwd'\n"
        "json.dump(d, open(config_path, 'w'))"))
    nbformat.write(nb, path)
    cfg.write_text(CONFIG + f"templates: {tpl}\n")
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and rec.steps[-1]["step"] == "retrain", rec.reason
    assert "changed after the runner wrote it" in rec.reason, rec.reason
    assert rec.model_after is None
    run_cfg = Path(rec.run_dir) / "config.json"
    with pytest.raises(IntegrityError, match="changed after the runner wrote it"):
        load_run_config(run_cfg, "0" * 64)
    assert load_run_config(run_cfg).model.factory == "os:getcwd"   # without a digest (a user's own reading): as it is
