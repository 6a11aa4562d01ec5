"""Every plotting entry point shows as an image in a fresh kernel, without the user importing pyplot (issue 15, item 1).

Each plot is the last expression of its own cell in a notebook executed by nbclient in a new kernel, as JupyterLab,
VS Code, nbconvert and papermill would run it. Two kernel environments: no MPLBACKEND (a user's Jupyter, where
ipykernel picks the inline backend) and MPLBACKEND=Agg (what the Makefile, schedulers and CI set, where a figure that
relies on pyplot's inline hook shows as text). Each plot cell must give exactly one PNG (no text-only repr, and no
second copy from pyplot's own display at the end of the cell).
"""
import os
import textwrap
from pathlib import Path

import nbformat
import pytest

from ctml_nb.core import write_json
from ctml_nb.pipeline.runner import RunRecord, append_index

SETUP = """
import numpy as np, pandas as pd
from sklearn.tree import DecisionTreeClassifier
rng = np.random.default_rng(0)
def frame(n, shift):
    return pd.DataFrame({"x": rng.normal(shift, 1, n), "flag": (rng.random(n) < .3 + shift / 4).astype(int),
                         "c": rng.choice(list("abc"), n)})
ref, cur = frame(600, 0), frame(600, 1)
from ctml_nb.drift.detector import DriftDetector
report = DriftDetector().fit(ref).test(cur)
X = rng.normal(size=(900, 3)); y = (X[:, 0] + .3 * rng.normal(size=900) > 0).astype(int)
X = pd.DataFrame(X, columns=["a", "b", "c"])
champ = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X[:300], y[:300])
chall = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X[:600], y[:600])
from ctml_nb.gate.promotion import PromotionPolicy
gate = PromotionPolicy().decide(champ, chall, X[600:], y[600:])
from ctml_nb.policy.policies import baseline_policies, compare_policies
data = X.assign(y=y)
comparison = compare_policies(data, "y", DecisionTreeClassifier(max_depth=2, random_state=0),
                              baseline_policies(300, detectors=(), every_batch=False), batch_size=100, progress=False)
"""

PLOTS = {
    "DriftReport.plot": "report.plot()",
    "plot_report": "from ctml_nb.drift.report import plot_report\nplot_report(report, ['x', 'flag', 'c'])",
    "PromotionDecision.plot": "gate.plot()",
    "plot_gate": "from ctml_nb.reports.plots import plot_gate\nplot_gate(gate)",
    "BacktestResult.plot": "comparison.results['never'].plot()",
    "PolicyComparison.plot": "comparison.plot()",
    "PolicyExplorer.plot_frontier": "from ctml_nb.reports.widgets import PolicyExplorer\nPolicyExplorer(comparison).plot_frontier()",
    "PolicyExplorer.plot_timeline": "PolicyExplorer(comparison).plot_timeline('never')",
    "plot_metric_history": "from ctml_nb.reports.plots import plot_metric_history\nplot_metric_history(RUNS)",
    "plot_history": "from ctml_nb.reports.plots import plot_history\nfrom ctml_nb.pipeline.runner import read_index\nplot_history(read_index(RUNS))",
    "plot_drift_heatmap": "from ctml_nb.reports.plots import plot_drift_heatmap\nplot_drift_heatmap(RUNS)",
}


def _gate(base, cand, promote):
    return {"promote": promote, "reason": ("Promote: " if promote else "Reject: ") + "test", "metric": "accuracy",
            "greater_is_better": True, "baseline": base, "candidate": cand, "improvement": None if base is None else cand - base,
            "interval": None if base is None else [cand - base - .02, cand - base + .02], "thresholds": {"alpha": .05},
            "checks": [], "blocked_by": [] if promote else ["accuracy"], "n": 200,
            "scores": [{"metric": "accuracy", "greater_is_better": True, "champion": base, "challenger": cand,
                        "champion_interval": None, "challenger_interval": [cand - .03, cand + .03]}]}


def _runs(root: Path) -> Path:
    runs = root / "runs"
    story = [("succeeded", None, 1, _gate(None, .74, True)), ("succeeded", 1, 1, _gate(.72, .71, False)),
             ("succeeded", 1, 2, _gate(.69, .76, True))]
    for i, (status, before, after, gate) in enumerate(story):
        rid = f"2026010{i + 1}T000000Z-00000{i}"
        drift = {"dataset_drift": False, "share": 0, "drifted": [], "alpha": .05, "correction": "bh",
                 "dataset_drift_share": .5, "n_ref_rows": 100, "n_cur_rows": 100,
                 "columns": [{"column": c, "kind": "numeric", "test": "wasserstein", "statistic": .05 * (i + 1) * (j + 1),
                              "threshold": .1, "drift": .05 * (i + 1) * (j + 1) >= .1, "reason": None}
                             for j, c in enumerate(["u", "v"])]}
        trig = {"retrain": True, "fired": ["interval"], "reasons": [], "now": f"1997-06-0{i + 1}",
                "evidence": {"performance(accuracy)": {"metric": "accuracy", "value": .7, "greater_is_better": True}}}
        rec = RunRecord(rid, "demo", status=status, reason=status, started=f"2026-01-0{i + 1}T00:00:00+00:00",
                        trigger=trig, gate=gate, model_before=before, model_after=after, steps=[],
                        values={"check": {"trigger": trig, "drift": drift}, "evaluate": {"gate": gate}},
                        run_dir=str(runs / rid), seconds=1.0)
        write_json(runs / rid / "run.json", rec.to_dict())
        append_index(runs, rec.summary())
    return runs


@pytest.mark.parametrize("backend", [None, "Agg"], ids=["jupyter-default-backend", "MPLBACKEND=Agg"])
def test_every_plot_displays_as_an_image_in_a_fresh_kernel(tmp_path, monkeypatch, backend):
    from nbclient import NotebookClient
    runs = _runs(tmp_path)
    if backend is None: monkeypatch.delenv("MPLBACKEND", raising=False)
    else: monkeypatch.setenv("MPLBACKEND", backend)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "python3"}})
    nb.cells = [nbformat.v4.new_code_cell(f"RUNS = {str(runs)!r}\n" + textwrap.dedent(SETUP))]
    nb.cells += [nbformat.v4.new_code_cell(code, metadata={"name": name}) for name, code in PLOTS.items()]
    nb.cells.append(nbformat.v4.new_code_cell("import sys; 'matplotlib.pyplot' in sys.modules"))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    problems = {}
    for cell in nb.cells[1:-1]:
        outs = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        pngs = [o for o in outs if "image/png" in o.get("data", {})]
        if len(pngs) != 1:
            problems[cell.metadata["name"]] = [o.get("data", {}).get("text/plain", o.output_type) for o in outs] or "no output"
    assert not problems, f"plots that did not show as exactly one image ({os.environ.get('MPLBACKEND')}): {problems}"
