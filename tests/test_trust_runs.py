"""Trust round 3 (issue 22): whoever can write only `runs/` cannot move the champion.

Every file of a run that decides a promotion, a recovery, or what code a step imports is signed with the registry key
or checked against the digest the runner computed from the very bytes it wrote: `values.json` (the gate's decision),
`config.json` and the promotion journal.
"""
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from ctml_nb.pipeline.config import load_config
from ctml_nb.core import IntegrityError
from ctml_nb.demo import demo_data
from ctml_nb.registry.model_files import KEY_ENV, KEY_FILE_ENV
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.pipeline.runner import load_run_config, load_values, request_retrain, run_cycle

from pipelines import elec2_pipeline  # tests/pipelines.py

TEMPLATES = Path(__file__).resolve().parents[1] / "ctml_nb" / "templates"
CONFIG = elec2_pipeline()


@pytest.fixture(autouse=True)
def key_file(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "keys" / "registry.key"))
    return tmp_path / "keys" / "registry.key"


def _live(tmp_path, days):
    demo_data().iloc[:days * 48].to_csv(tmp_path / "live.csv", index=False)


def _templates_with(tmp_path, step, code, position=2):
    "A copy of the templates where `step` runs `code` before its own cells (at `position`, after the parameters)"
    tpl = tmp_path / "my_templates"
    if not tpl.exists(): shutil.copytree(TEMPLATES, tpl)
    path = next(tpl.glob(f"*_{step}.ipynb"))
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(position, nbformat.v4.new_code_cell(code))
    nbformat.write(nb, path)
    return tpl


def _first_cycle(seeded, tmp_path):
    "A pipeline whose first cycle made version 1 champion (a copy of the shared seed, signed with its key); its config"
    return seeded(tmp_path, CONFIG)


def test_values_json_gate_flip_is_refused(seeded, tmp_path):
    "Issue 22: setting the gate's `promote: true` in values.json before step 4 made a rejected challenger champion"
    cfg = _first_cycle(seeded, tmp_path)
    tpl = _templates_with(tmp_path, "promote",   # written after the runner wrote values.json, before the step reads it
        "import json\nd = json.load(open(values_path))\nd['evaluate']['gate']['promote'] = True\n"
        "json.dump(d, open(values_path, 'w'))")
    cfg.write_text(elec2_pipeline(gate=", min_delta: 1.0, test: none") + f"templates: {tpl}\n")  # nothing can pass
    _live(tmp_path, 15)
    request_retrain(load_config(cfg), "test: force a retrain", requested_by="pytest")
    rec = run_cycle(cfg, progress=False)
    assert rec.gate["promote"] is False
    assert rec.status == "failed" and rec.steps[-1]["step"] == "promote", rec.reason
    assert "changed after the runner wrote it" in rec.reason, rec.reason
    reg = ModelRegistry(tmp_path / "registry")
    assert reg.resolve("elec2", "champion") == 1 and (rec.model_before, rec.model_after) == (1, 1)
    assert reg.version_numbers("elec2") == [1]   # nothing registered, nothing tagged accepted


def test_values_and_config_are_parsed_from_the_bytes_that_were_hashed(tmp_path, monkeypatch):
    "Issue 22: `load_run_config` hashed one read and parsed a second; a swap in between went unnoticed"
    import hashlib
    good = {"evaluate": {"gate": {"promote": False}}}
    p = tmp_path / "values.json"
    p.write_text(json.dumps(good))
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    assert load_values(p, digest) == good
    reads = []
    real = Path.read_bytes
    def swapping(self):   # every read after the first sees the attacker's file
        reads.append(self)
        return real(self) if len(reads) == 1 else json.dumps({"evaluate": {"gate": {"promote": True}}}).encode()
    monkeypatch.setattr(Path, "read_bytes", swapping)
    assert load_values(p, digest) == good and len(reads) == 1
    monkeypatch.setattr(Path, "read_bytes", real)
    p.write_text(json.dumps({"evaluate": {"gate": {"promote": True}}}))
    with pytest.raises(IntegrityError, match="changed after the runner wrote it"): load_values(p, digest)
    with pytest.raises(IntegrityError, match="changed after the runner wrote it"): load_run_config(p, digest)
    (tmp_path / "gone.json").unlink(missing_ok=True)
    assert load_values(tmp_path / "gone.json") == {}   # no digest, no file: the first step's empty values


@pytest.mark.kernel   # the step kills its own kernel process: in-process that would be the test process
def test_an_operators_promote_during_a_cycle_whose_kernel_dies_stands(seeded, tmp_path):
    "Issue 22: `ctml registry promote 1` during a cycle whose kernel then died was undone by the runner's `_finish`"
    from sklearn.dummy import DummyClassifier
    cfg = _first_cycle(seeded, tmp_path)
    reg = ModelRegistry(tmp_path / "registry")
    reg.register(DummyClassifier().fit([[0]], [0]), "elec2"); reg.promote("elec2", 2, reason="set up by the test")
    tpl = _templates_with(tmp_path, "check",     # the operator acts while the step runs, then the kernel dies
        "import os, signal, subprocess, sys\n"   # the operator's own process: not one of the cycle's steps
        "operator = {k: v for k, v in os.environ.items() if k != 'CTML_RUN_ID'}\n"
        f"code = \"from ctml_nb.registry.files import ModelRegistry; ModelRegistry({str(tmp_path / 'registry')!r})"
        ".promote('elec2', 1, reason='operator: back to 1')\"\n"
        "subprocess.run([sys.executable, '-c', code], env=operator, check=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)")
    cfg.write_text(CONFIG + f"templates: {tpl}\n")
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "failed" and "kernel died" in rec.reason, rec.reason
    assert reg.resolve("elec2", "champion") == 1 and (rec.model_before, rec.model_after) == (2, 1)
    assert "not by this cycle's promotion: left as is" in rec.reason, rec.reason
    hist = reg.history("elec2")
    assert hist["reason"].iloc[-1] == "operator: back to 1"   # the last move is the operator's, not a restore


def test_a_weakened_schema_json_is_not_what_the_registry_saves(seeded, tmp_path):
    "Issue 22: a run's schema.json was read back by step 4 and saved with the model; the step now uses step 2's record"
    from ctml_nb.data.validation import DataSchema
    cfg = _first_cycle(seeded, tmp_path)
    tpl = _templates_with(tmp_path, "promote",   # a writer of runs/ keeps only the target in the schema
        "import json\nfrom pathlib import Path\np = Path(run_dir) / 'schema.json'\nd = json.loads(p.read_text())\n"
        "d['columns'] = {k: v for k, v in d['columns'].items() if k == d['target']['column']}\np.write_text(json.dumps(d))")
    cfg.write_text(CONFIG + f"templates: {tpl}\n")
    _live(tmp_path, 15)
    request_retrain(load_config(cfg), "test: force a retrain", requested_by="pytest")
    rec = run_cycle(cfg, progress=False)
    assert rec.status == "succeeded", rec.reason
    forged = DataSchema.load(Path(rec.run_dir) / "schema.json")
    saved = ModelRegistry(tmp_path / "registry").load_schema("elec2", 2)
    assert saved.to_dict() == rec.values["retrain"]["schema"]
    assert len(forged.columns) == 0 < len(saved.columns)   # the forged file kept no feature; the registry kept them all


def test_a_forged_cursor_makes_a_cycle_read_rows_again_never_skip_them(seeded, tmp_path):
    "Issue 22: the cursor in run.json decides which rows a cycle reads; it is signed, and a forged one is passed over"
    cfg = _first_cycle(seeded, tmp_path)
    first = sorted((tmp_path / "runs").glob("*/run.json"))[-1]
    d = json.loads(first.read_text())
    assert d["cursor_signature"] and d["cursor"]["rows"] == 14 * 48
    d["cursor"] = {**d["cursor"], "rows": 10**6, "watermark": "2100-01-01T00:00:00"}   # far ahead: rows would be skipped
    first.write_text(json.dumps(d))
    _live(tmp_path, 15)
    rec = run_cycle(cfg, progress=False)
    assert rec.status in ("succeeded", "skipped"), rec.reason
    assert rec.cursor_from["passed_over"] == [[first.parent.name, "its signature does not check"]]
    assert "read those rows again" in rec.reason, rec.reason
    assert rec.cursor["rows"] == 15 * 48   # every row counted once: read again from the start, none skipped
    assert ModelRegistry(tmp_path / "registry").resolve("elec2", "champion") == 1
