"Integration tests of detectors and triggers: river stays optional, decisions round-trip through JSON files"
import subprocess
import sys
import textwrap

import pandas as pd

from ctml_nb.core import read_json, write_json
from ctml_nb.policy.triggers import IntervalTrigger, ModelState, OnDemandTrigger
from ctml_nb.policy.vetoes import Budget


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_importing_does_not_import_river():
    r = _run("""
        import sys
        import ctml_nb.drift.streaming, ctml_nb.policy.triggers, ctml_nb.policy.vetoes, ctml_nb.policy.drift_triggers
        print(sorted(m for m in sys.modules if m == "river" or m.startswith("river.")))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_without_river_names_the_extra_and_the_rest_works():
    r = _run("""
        import sys
        sys.modules["river"] = None          # as if river were not installed
        import numpy as np
        from ctml_nb.drift.streaming import MissingExtraError, ThresholdDetector, make_detector
        from ctml_nb.policy.drift_triggers import PerformanceTrigger
        from ctml_nb.policy.triggers import ModelState
        try:
            make_detector("adwin")
        except MissingExtraError as e:
            print("ERR", e)
        try:
            PerformanceTrigger(detector="ddm").check(ModelState(errors=[0, 1]))
        except ImportError as e:
            print("ERR2", type(e).__name__)
        errs = np.r_[np.zeros(100), np.ones(100)]
        d = PerformanceTrigger(detector=ThresholdDetector(0.5, window=50)).check(ModelState(errors=errs))
        print("FIRED", d.retrain)
    """)
    assert r.returncode == 0, r.stderr
    assert 'ERR make_detector(\'adwin\') needs river, an optional extra: pip install "ctml-nb[river]"' in r.stdout
    assert "ERR2 MissingExtraError" in r.stdout
    assert "FIRED True" in r.stdout


def test_decision_round_trips_through_a_json_file(tmp_path):
    now = pd.Timestamp("2024-06-30 12:00")
    hist = [pd.Timestamp("2024-06-%02d" % d) for d in (3, 10, 17, 24)]
    policy = Budget(IntervalTrigger(every="7D") | OnDemandTrigger(), max_retrains=4, per="30D")
    d = policy.check(ModelState(now=now, last_trained_at=hist[-1], retrain_history=hist,
                                requests=[{"reason": "audit", "by": "ops"}]))
    p = write_json(tmp_path / "decisions" / "d.json", d)
    back = read_json(p)
    assert back == d.to_dict()
    assert back["retrain"] is False and back["vetoed_by"] == ["budget(4 per 30 days)"]
    assert back["suppressed"] == ["on_demand"]   # 6.5 days since the last training: the interval has not fired
    assert back["evidence"]["budget(4 per 30 days)"]["next_allowed_after"] == "2024-07-03 00:00:00"
    assert back["now"] == "2024-06-30T12:00:00"
