"""Fault tests of the model registry and the snapshot store: damaged files, concurrent writers, crashed writers, unsafe names.

Each test builds a tiny registry in `tmp_path`. Writers run as separate Python processes (subprocess), as they would
in production (two notebooks, a scheduler and a person).
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from ctml_nb.core import IntegrityError, RegistryError
from ctml_nb.registry.files import ModelRegistry
from ctml_nb.data.validation import infer_schema

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 2)), columns=["a", "b"])
    return X, (X["a"] > 0).astype(int)


def _registry_with_two_versions(root):
    X, y = _data()
    reg = ModelRegistry(root, lock_timeout=10)
    m1 = LogisticRegression().fit(X, y)
    reg.register(m1, "m", metrics={"acc": 0.8}, data_snapshot={"train": X.assign(y=y)}, run_id="r1")
    reg.register(LogisticRegression(C=0.1).fit(X, y), "m", metrics={"acc": 0.85}, parent=1, run_id="r2")
    reg.promote("m", 1, reason="first")
    return reg, X, m1


def _run(script, *args, wait=True):
    cmd = [sys.executable, "-c", textwrap.dedent(script), *map(str, args)]
    if wait:
        return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ---------------------------------------------------------------- damaged files
def test_truncated_model_file_is_refused(tmp_path):
    reg, X, m1 = _registry_with_two_versions(tmp_path / "reg")
    f = tmp_path / "reg" / reg.get_version("m", 1).file
    good = f.read_bytes()
    f.write_bytes(good[: len(good) // 2])
    with pytest.raises(IntegrityError, match=f"Model file {f} is truncated"):
        reg.load("m", "champion")
    f.write_bytes(b"")
    with pytest.raises(IntegrityError, match="truncated \\(0 of"):
        reg.load("m", 1)
    f.write_bytes(good)
    np.testing.assert_array_equal(reg.load("m", 1).predict(X), m1.predict(X))


@pytest.mark.parametrize("position", [0, 0.5, -1])
def test_flipped_byte_is_refused(tmp_path, position):
    reg, X, _ = _registry_with_two_versions(tmp_path / "reg")
    f = tmp_path / "reg" / reg.get_version("m", 2).file
    raw = bytearray(f.read_bytes())
    i = int(position * len(raw)) if isinstance(position, float) else position
    raw[i] ^= 0x01
    f.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match=f"Model file {f} does not match its recorded SHA-256"):
        reg.load("m", 2)
    report = reg.verify()
    assert list(report["ok"]) == [True, False]
    assert reg.load("m", 1) is not None  # the other version is untouched


def test_model_file_appended_or_deleted_is_refused(tmp_path):
    reg, _, _ = _registry_with_two_versions(tmp_path / "reg")
    f = tmp_path / "reg" / reg.get_version("m", 2).file
    f.write_bytes(f.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match="does not match its recorded SHA-256"):
        reg.load("m", 2)
    f.unlink()
    with pytest.raises(IntegrityError, match=f"Model file {f} is missing"):
        reg.load("m", 2)


def test_damaged_or_missing_artifact_is_refused_and_reported(tmp_path):
    reg, _, _ = _registry_with_two_versions(tmp_path / "reg")
    X, y = _data(1)
    mv = reg.register(LogisticRegression().fit(X, y), "m", artifacts={"drift_profile": '{"n": 1}', "card": b"ok"})
    assert sorted(mv.artifacts) == ["card", "drift_profile"] and reg.get_version("m", 1).artifacts == {}
    f = tmp_path / "reg" / mv.artifacts["drift_profile"]["file"]
    raw = bytearray(f.read_bytes()); raw[3] ^= 0x01; f.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match=f"Artifact 'drift_profile' file {f} does not match its recorded SHA-256"):
        reg.load_artifact("m", 3, "drift_profile")
    assert reg.load_artifact("m", "latest", "card") == b"ok" and reg.load("m", 3) is not None  # the rest is usable
    report = reg.verify("m").set_index(["version", "item"])["ok"]
    assert not report[(3, "artifact:drift_profile")] and report[(3, "artifact:card")] and report[(3, "model")]
    f.unlink()
    with pytest.raises(IntegrityError, match=f"Artifact 'drift_profile' file {f} is missing"):
        reg.load_artifact("m", 3, "drift_profile")
    with pytest.raises(RegistryError, match="m version 1 has no artifact 'drift_profile'"):
        reg.load_artifact("m", 1, "drift_profile")


def test_tampered_snapshot_is_refused(tmp_path):
    reg, X, _ = _registry_with_two_versions(tmp_path / "reg")
    sid = reg.get_version("m", 1).data_snapshots["train"]
    snap = reg.snapshots.info(sid)
    p = Path(snap.path)
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match=f"Snapshot file {p} is modified"):
        reg.load_snapshot(sid)
    p.write_bytes(bytes(raw[:100]))
    with pytest.raises(IntegrityError, match="is truncated"):
        reg.load_snapshot(sid)
    assert not reg.verify(snapshots=True)["ok"].all()


# ---------------------------------------------------------------- concurrent writers
WRITER = """
import sys, time
from pathlib import Path
from ctml_nb.registry.files import ModelRegistry
root, writer, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
reg = ModelRegistry(root, lock_timeout=120)
while not go.exists(): time.sleep(0.005)
for i in range(n):
    reg.register({"writer": writer, "i": i, "payload": list(range(i))}, "shared",
                 metrics={"i": i}, tags={"writer": writer, "i": i}, run_id=f"{writer}-{i}", compress=0)
print("done", writer)
"""

READER = """
import sys, time
from pathlib import Path
from ctml_nb.registry.files import ModelRegistry
root, go, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
reg = ModelRegistry(root)
while not go.exists(): time.sleep(0.005)
reads = 0
while not stop.exists():
    if "shared" in reg.names():
        v = reg.versions("shared")
        assert list(v.index) == list(range(1, len(v) + 1)), list(v.index)
        obj = reg.load("shared", "latest")
        assert set(obj) == {"writer", "i", "payload"}
        reads += 1
print("reads", reads)
"""


def test_two_processes_registering_at_once_get_distinct_versions(tmp_path):
    root, go, stop = tmp_path / "reg", tmp_path / "go", tmp_path / "stop"
    writers = [_run(WRITER, root, w, 50, go, wait=False) for w in ("A", "B")]
    reader = _run(READER, root, go, stop, wait=False)
    time.sleep(1.0)  # let the interpreters start so that the writers really overlap
    go.touch()
    outs = [p.communicate(timeout=300) for p in writers]
    stop.touch()
    rout, rerr = reader.communicate(timeout=60)
    for p, (out, err) in zip(writers, outs):
        assert p.returncode == 0, err
    assert reader.returncode == 0, rerr  # a concurrent reader never saw a partial state

    reg = ModelRegistry(root)
    table = reg.versions("shared")
    assert list(table.index) == list(range(1, 101))
    seen = set()
    for v in table.index:
        obj = reg.load("shared", int(v))  # every file verifies
        mv = reg.get_version("shared", int(v))
        assert mv.tags == {"writer": obj["writer"], "i": str(obj["i"])}
        assert mv.run_id == f"{obj['writer']}-{obj['i']}"
        seen.add((obj["writer"], obj["i"]))
    assert seen == {(w, i) for w in "AB" for i in range(50)}  # nothing lost, nothing duplicated
    # both writers interleaved (the test really exercised the lock)
    order = [w for w in table["tags"].map(lambda t: t["writer"])]
    assert sum(a != b for a, b in zip(order, order[1:])) >= 1
    assert reg.verify()["ok"].all()


# ---------------------------------------------------------------- writer killed mid-write
CRASHER = """
import os, re, sys, time
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
root, target, started, action = sys.argv[1], re.compile(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]

real_fdopen = os.fdopen
class HalfWrite:
    "A file whose first write stores half of the bytes, then hangs until the process is killed"
    def __init__(self, f): self.f = f
    def write(self, data):
        self.f.write(data[: len(data) // 2]); self.f.flush(); os.fsync(self.f.fileno())
        started.write_text("half written")
        time.sleep(600)
    def __getattr__(self, k): return getattr(self.f, k)
    def __enter__(self): return self
    def __exit__(self, *exc): return self.f.__exit__(*exc)

def fdopen(fd, *args, **kwargs):
    f = real_fdopen(fd, *args, **kwargs)
    name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
    return HalfWrite(f) if target.search(name) else f
os.fdopen = fdopen  # ctml_nb.core.atomic_write calls os.fdopen on its temporary file

from ctml_nb.registry.files import ModelRegistry
from ctml_nb.data.validation import infer_schema
reg = ModelRegistry(root)
rng = np.random.default_rng(1)
X = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"]); y = (X["b"] > 0).astype(int)
if action == "register":
    reg.register(LogisticRegression().fit(X, y), "m", metrics={"acc": 0.9}, schema=infer_schema(X),
                 data_snapshot={"train": X.assign(y=y)}, parent=2, run_id="r3",
                 artifacts={"drift_profile": '{"format": "test"}'})
else:
    reg.promote("m", 2, reason="crash test")
print("finished without being killed")
"""

KILL_POINTS = {  # where the writer is killed: (regex on the temporary file's name, action)
    "snapshot parquet": (r"^\.[0-9a-f]{64}\.parquet\.", "register"),
    "model file": (r"^\.model\.joblib\.", "register"),
    "schema": (r"^\.schema\.json\.", "register"),
    "artifact": (r"^\.drift_profile\.", "register"),
    "version metadata": (r"^\.version\.json\.", "register"),
    "alias file": (r"^\.aliases\.json\.", "promote"),
}


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="uses /proc to name the file being written")
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_writer_killed_mid_write_leaves_last_good_state(tmp_path, point):
    reg, X, m1 = _registry_with_two_versions(tmp_path / "reg")
    before = reg.versions("m").drop(columns=["aliases"])
    before_history = reg.history("m")
    before_snapshots = reg.snapshots.ids()
    started = tmp_path / "started"
    pattern, action = KILL_POINTS[point]
    p = _run(CRASHER, tmp_path / "reg", pattern, started, action, wait=False)
    deadline = time.time() + 120
    while not started.exists():
        assert p.poll() is None, p.communicate()[1]
        assert time.time() < deadline, "the writer never reached the kill point"
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL

    # the registry is readable and shows exactly the last good state
    reg = ModelRegistry(tmp_path / "reg", lock_timeout=10)
    assert reg.names() == ["m"]
    pd.testing.assert_frame_equal(reg.versions("m").drop(columns=["aliases"]), before)
    pd.testing.assert_frame_equal(reg.history("m"), before_history)
    assert reg.get_version("m", "champion").version == 1
    np.testing.assert_array_equal(reg.load("m", "champion").predict(X), m1.predict(X))
    # snapshots are saved before the model (a crash may leave a complete, unreferenced one): all verify
    assert set(before_snapshots) <= set(reg.snapshots.ids())
    assert [reg.snapshots.verify(s).id for s in reg.snapshots.ids()] == reg.snapshots.ids()
    report = reg.verify(snapshots=True)
    assert report["ok"].all(), report

    # the lock died with the writer, and the next write succeeds and reuses the number
    v3 = reg.register(LogisticRegression().fit(X, (X["a"] > 0).astype(int)), "m", parent=2,
                      schema=infer_schema(X), data_snapshot={"train": X})
    assert v3.version == 3 and reg.load("m", 3) is not None and reg.load_schema("m", 3).columns["a"].kind == "float"
    reg.promote("m", 2, reason="after the crash")
    assert reg.rollback("m", reason="check the stack survived").version == 1
    assert reg.verify(snapshots=True)["ok"].all()


# ---------------------------------------------------------------- unsafe names
@pytest.mark.parametrize("bad", ["../x", "../../etc/passwd", "/abs/path", "/tmp", "", ".", "..", "a/b", "a\\b",
                                 "x/../../y", "..hidden", "~user", "name\n", " lead"])
def test_unsafe_names_are_rejected(tmp_path, bad):
    root = tmp_path / "inside" / "reg"
    reg = ModelRegistry(root)
    X, y = _data()
    m = LogisticRegression().fit(X, y)
    with pytest.raises(RegistryError, match="`name`"):
        reg.register(m, bad)
    with pytest.raises(RegistryError, match="`name`"):
        reg.load(bad, 1)
    reg.register(m, "ok")
    with pytest.raises(RegistryError, match="`alias`"):
        reg.set_alias("ok", bad, 1)
    with pytest.raises(RegistryError, match="`parent`"):
        reg.register(m, "ok", parent=(bad, 1))
    # nothing was written outside the registry root, and nothing but the valid model inside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inside"]
    assert sorted(p.name for p in (tmp_path / "inside").iterdir()) == ["reg"]
    assert [p.name for p in (root / "models").iterdir()] == ["ok"]
    assert reg.versions("ok").shape[0] == 1


def test_unsafe_snapshot_ids_are_rejected(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    X, y = _data()
    with pytest.raises(RegistryError, match="not a snapshot id"):
        reg.register(LogisticRegression().fit(X, y), "m", data_snapshot="../../etc/passwd")
    assert not (tmp_path / "reg" / "models").exists()
