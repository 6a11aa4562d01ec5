"""The in-process engine the tests use (`tests/inprocess_engine.py`) decides as a real Jupyter kernel does.

Every other test runs the packaged templates in-process to save a kernel start and the imports per step; this one
runs the same three Elec2 cycles (a first model; a cycle that finds nothing to do; a retrain on a changed stream whose
gate decides) with both engines, in two project folders, and compares the run records: statuses, reasons, steps, every
value a step recorded and the champion's predictions. Only what differs between any two runs is left out: times,
durations, latencies, run ids, file times, the project folder's own path and the cursor's signature (each
project signs with its own key).
"""
import re
import shutil

import numpy as np
import pytest

from ctml_nb.pipeline.config import config_path, load_config
from ctml_nb.demo import demo_data
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.pipeline.runner import run_cycle
from ctml_nb.pipeline.steps import ENGINE_ENV

from inprocess_engine import ENGINE
from pipelines import elec2_pipeline

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]+")
VOLATILE = re.compile(r"seconds|latency|mtime|duration|started|finished|_at$|^at$|^now_wall$|elapsed|^cursor_signature$")


def _normal(x, root:str):
    "`x` with what differs between any two runs of one cycle left out (see the module docstring)"
    if isinstance(x, dict): return {k: _normal(v, root) for k, v in x.items() if not VOLATILE.search(str(k))}
    if isinstance(x, list): return [_normal(v, root) for v in x]
    if isinstance(x, str): return RUN_ID.sub("<run>", x.replace(root, "<project>"))
    if isinstance(x, float): return round(x, 9)
    return x


def _cycles(folder, engine, monkeypatch):
    "Three cycles of the Elec2 pipeline with `engine` (None: a Jupyter kernel): their normalised records, predictions"
    if engine: monkeypatch.setenv(ENGINE_ENV, engine)
    else: monkeypatch.delenv(ENGINE_ENV, raising=False)
    folder.mkdir()
    cfg = folder / "pipeline.yaml"
    cfg.write_text(elec2_pipeline(floor=0.8, gate=""))
    data = demo_data()
    records = []
    for days in (14, 14, 21):
        data.iloc[:days * 48].to_csv(folder / "live.csv", index=False)
        rec = run_cycle(cfg, progress=False)
        d = rec.to_dict()
        d["steps"] = [{k: s[k] for k in ("step", "status", "error")} for s in d["steps"]]
        records.append(_normal(d, str(folder)))
    model = ModelRegistry(config_path(load_config(cfg), "registry")).load("elec2", "champion")
    X = data.iloc[21 * 48:23 * 48].drop(columns=["target", "timestamp"])
    return records, model.predict(X)


@pytest.mark.kernel
def test_both_engines_record_the_same_cycles(tmp_path, monkeypatch):
    kernel, kernel_pred = _cycles(tmp_path / "kernel", None, monkeypatch)
    inproc, inproc_pred = _cycles(tmp_path / "inprocess", ENGINE, monkeypatch)
    assert [r["status"] for r in kernel] == ["succeeded", "skipped", "succeeded"], [r["reason"] for r in kernel]
    for i, (k, p) in enumerate(zip(kernel, inproc)):
        for key in sorted(set(k) | set(p)):
            assert k.get(key) == p.get(key), f"cycle {i + 1}: {key!r} differs:\nkernel     {k.get(key)}\nin-process {p.get(key)}"
    np.testing.assert_array_equal(kernel_pred, inproc_pred)
