"""A newcomer's first day (issue 15): one test per broken item 2-6, each failing before its fix.

Item 1 (plots show as images in a fresh kernel) is tests/test_plots_display.py; the notebooks next to the
definitions test the details (nbs/03a_drift_columns, 04_drift, 04a_drift_report, 40_plots, 42_reports).
"""
import json

import numpy as np
import pandas as pd
import pytest

from ctml_nb.cli import EXIT_OK, EXIT_USAGE, main
from ctml_nb.core import write_json
from ctml_nb.pipeline.runner import RunRecord, append_index


@pytest.fixture
def weather(tmp_path):
    "weather.csv-like files: a 0/1 target (about 2/3 zeros), temperatures, an id"
    g = np.random.default_rng(0)
    def frame(n, warm):
        return pd.DataFrame({"id": np.arange(n) + (n if warm else 0), "temp": g.normal(12 + 6 * warm, 4, n),
                             "humidity": g.normal(70, 10, n), "target": (g.random(n) < (.5 if warm else .32)).astype(int)})
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    frame(800, False).to_csv(a, index=False); frame(800, True).to_csv(b, index=False)
    return a, b


# 2. the drift plot shows both values of a 0/1 column
def test_drift_plot_draws_every_value_of_a_01_column(weather):
    from ctml_nb.drift.detector import DriftDetector
    a, b = (pd.read_csv(p) for p in weather)
    fig = DriftDetector().fit(a).test(b).plot(columns=["target"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    heights = sorted(round(p.get_height(), 2) for p in ax.patches)
    assert len(heights) == 4 and heights[-1] == pytest.approx((a["target"] == 0).mean(), abs=.02)  # the zeros' bar


# 3. unknown columns are a usage error naming them; 13. column lists, exclusions, sorted output
def test_cli_drift_unknown_column_is_a_usage_error(weather, capsys):
    a, b = weather
    assert main(["drift", str(a), str(b), "--columns", "feat_1,temp"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "'feat_1' is not a column of" in err and "Traceback" not in err and "temp" in err
    assert main(["drift", str(a), str(b), "--exclude", "ID"]) == EXIT_USAGE
    assert "--exclude: 'ID' is not a column" in capsys.readouterr().err


def test_cli_drift_column_lists_exclude_and_severity_order(weather, capsys):
    a, b = weather
    assert main(["drift", str(a), str(b), "--columns", "temp, humidity,target"]) == EXIT_OK
    out = capsys.readouterr().out
    table = [l.split()[0] for l in out.splitlines()[1:4]]
    assert table[0] == "temp" and set(table) == {"temp", "humidity", "target"}   # most severe first
    assert main(["drift", str(a), str(b), "--exclude", "id,target", "--sort", "column"]) == EXIT_OK
    out = capsys.readouterr().out
    assert [l.split()[0] for l in out.splitlines()[1:3]] == ["humidity", "temp"] and "target" not in out and " id " not in out


def test_pipeline_check_leaves_the_target_and_time_out_of_the_drift_reference():
    from ctml_nb.pipeline.config import DataConfig, feature_columns
    from types import SimpleNamespace
    cfg = SimpleNamespace(data=DataConfig(source="x.csv", target="target", time_column="date"))
    df = pd.DataFrame({"date": ["2020-01-01"], "temp": [1.0], "target": [0]})
    assert feature_columns(cfg, df) == ["temp"]


def _run(runs, i, before, after, gate, decision):
    rid = f"2026010{i}T000000Z-00000{i}"
    rec = RunRecord(rid, "weather", status="succeeded", reason=decision, started=f"2026-01-0{i}T00:00:00+00:00",
                    trigger={"retrain": True, "fired": ["interval"], "reasons": [], "now": f"2020-01-0{i}",
                             "evidence": {"performance(accuracy)": {"metric": "accuracy", "value": .69}}},
                    gate=gate, model_before=before, model_after=after, steps=[], run_dir=str(runs / rid), seconds=1.0,
                    values={"evaluate": {"gate": gate}, "promote": {"decision": decision}})
    write_json(runs / rid / "run.json", rec.to_dict()); append_index(runs, rec.summary())
    return runs / rid


def _gate(promote, base=.45, cand=.47):
    return {"promote": promote, "metric": "accuracy", "greater_is_better": True, "baseline": base, "candidate": cand,
            "improvement": None if base is None else cand - base, "interval": None if base is None else [cand - base - .03, cand - base + .03], "n": 120, "thresholds": {"alpha": .05}, "checks": [],
            "reason": ("Promote: " if promote else "Reject: ") + "accuracy interval [-0.01, 0.05] includes 0",
            "blocked_by": [] if promote else ["accuracy"],
            "scores": [{"metric": "accuracy", "greater_is_better": True, "champion": base, "challenger": cand,
                        "champion_interval": None if base is None else [base - .03, base + .03], "challenger_interval": [cand - .03, cand + .03]}]}


# 4. a rejected challenger is not reported as a green success, and the history tells promoted from rejected
def test_rejected_cycle_banner_heading_and_markers(tmp_path):
    from ctml_nb.reports.plots import plot_history
    from ctml_nb.reports.html import run_summary_html
    from ctml_nb.pipeline.runner import read_index
    runs = tmp_path / "runs"
    _run(runs, 1, None, 1, _gate(True, None, .7), "version 1 promoted: Promote: first model")
    d = _run(runs, 2, 1, 1, _gate(False), "challenger rejected, champion 1 kept: Reject: ...")
    s = run_summary_html(d)
    banner = s.split("class='ctml-decision'")[1].split("</p>")[0]
    assert "challenger rejected, champion 1 kept" in banner and "includes 0" in banner
    assert "#1e7e34" not in banner and "#2ca02c" not in banner      # not green
    assert "Outcome (promote)" not in s and "<h3>Outcome: challenger rejected, champion 1 kept</h3>" in s
    ax = plot_history(read_index(runs)).axes[0]
    pts = {c.get_label(): tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert "challenger promoted" in pts and "challenger rejected, champion kept" in pts
    assert pts["challenger promoted"] != pts["challenger rejected, champion kept"]


# 5. the champion-vs-challenger figure appears once in a promoted run's report
def test_gate_figure_once_in_a_promoted_run_report(tmp_path):
    import nbformat
    from IPython.core.formatters import DisplayFormatter
    from ctml_nb.reports.plots import plot_gate
    from ctml_nb.reports.html import run_summary_html
    runs = tmp_path / "runs"
    gate = _gate(True, .45, .6)
    d = _run(runs, 1, None, 1, gate, "version 1 promoted")
    # the evaluate step's notebook as the shipped template writes it: the figure displayed with its tag
    from importlib.resources import files
    tpl = nbformat.read(str(files("ctml_nb") / "templates" / "03_evaluate.ipynb"), as_version=4)
    shown = [c for c in tpl.cells if "plot" in c.source and c.cell_type == "code"]
    assert len(shown) == 1 and '"figure": "gate"' in shown[0].source
    data, _ = DisplayFormatter().format(plot_gate(gate))
    out = nbformat.v4.new_output("display_data", data={"image/png": __import__("base64").b64encode(data["image/png"]).decode()},
                                 metadata={"ctml_nb": {"figure": "gate"}})
    nb = nbformat.v4.new_notebook(); nb.cells = [nbformat.v4.new_markdown_cell("## Champion against challenger"),
                                                 nbformat.v4.new_code_cell("display(...)", outputs=[out])]
    nbformat.write(nb, str(d / "03_evaluate.ipynb"))
    rec = json.loads((d / "run.json").read_text())
    rec["steps"] = [{"step": "evaluate", "notebook": str(d / "03_evaluate.ipynb"), "status": "succeeded", "seconds": 1.0}]
    write_json(d / "run.json", rec)
    s = run_summary_html(d, history=False)
    assert s.count("<img") == 1 and s.count("<figcaption>Champion against challenger") == 1


# 6. the history plot says what each point is measured on
def test_metric_history_separates_new_batch_from_held_out_rows(tmp_path):
    from ctml_nb.reports.plots import plot_metric_history
    runs = tmp_path / "runs"
    _run(runs, 1, None, 1, _gate(True, None, .7), "version 1 promoted")
    _run(runs, 2, 1, 1, _gate(False), "challenger rejected")
    fig = plot_metric_history(runs)
    titles = [a.get_title(loc="left") for a in fig.axes]
    assert len(fig.axes) == 2 and "new batch" in titles[0] and "held-out rows" in titles[1] and "120 rows" in titles[1]
    live = [l for l in fig.axes[0].get_lines() if l.get_label() == "champion"]
    held = [l for l in fig.axes[1].get_lines() if l.get_label() == "champion"]
    assert live[0].get_ydata().tolist() == [.69, .69] and held[0].get_ydata().tolist()[-1] == .45  # never on one axis
