"""What the foreign-data suite forced (issue 25, items 2, 5 and 6), checked the way a user meets it.

- A refusal is cheap: `ctml run` on a bad config exits 2 having imported none of the report writer's libraries
  (nbformat, nbconvert, jsonschema, papermill): the config is checked first, heavy modules come after.
- A pipeline folder is relocatable: two cycles, then the folder is copied (`cp -r`) and moved (`mv`), rows are
  appended in each place, and the next cycle in each counts exactly the appended rows (not the whole file), reading
  its own runs folder (run.json and index.jsonl store `run_dir` relative to it); `ctml runs`, `ctml show` and `ctml report --index` work in the new places.
"""
import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("nbformat", "nbconvert", "jsonschema", "papermill", "ctml_nb.reports.html", "matplotlib")


def test_a_refusal_imports_no_report_writer(tmp_path):
    "`ctml run` on a config with a misspelt column: exit 2, and none of the heavy modules was imported"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}).to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "pipeline.yaml").write_text("name: p\ndata: {source: data.csv, target: label}\n"
                                            "model: {factory: 'sklearn.tree:DecisionTreeClassifier'}\n")
    code = ("import sys\nfrom ctml_nb.cli import main\nrc = main(['run', '--config', sys.argv[1], '--no-progress'])\n"
            f"print(rc, [m for m in {HEAVY!r} if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "pipeline.yaml")], capture_output=True, text=True,
                       cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=600)
    assert r.stdout.strip() == "2 []", r.stdout + r.stderr
    assert "data.target: column 'label' is not in data.source" in r.stderr


def _ctml(*args) -> tuple:
    from ctml_nb.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


CONFIG = ("name: moving\ndata: {source: data/stream.csv, target: y, time_column: t}\n"
          "model: {factory: 'sklearn.tree:DecisionTreeClassifier', params: {max_depth: 3, random_state: 0}}\n"
          "triggers:\n  - {kind: interval, params: {rows: 100000}}\ntimeout: 300\n")


def _rows(n: int) -> pd.DataFrame:
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    x = (pd.Series(range(n)) % 24).astype(float)
    return pd.DataFrame({"t": t, "x": x, "y": (x > 11).astype(int)})


def _last(folder: Path):
    from ctml_nb.pipeline.runner import RunRecord, read_index
    idx = read_index(folder / "runs")
    return RunRecord.load(idx["run_dir"].iloc[-1]), idx


def test_a_copied_and_a_moved_pipeline_carry_on(tmp_path):
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "pipeline.yaml").write_text(CONFIG)
    _rows(200).to_csv(home / "data" / "stream.csv", index=False)
    rc, out, err = _ctml("run", "--config", home / "pipeline.yaml", "--no-progress")
    assert rc == 0, out + err
    _rows(260).to_csv(home / "data" / "stream.csv", index=False)
    rc, out, err = _ctml("run", "--config", home / "pipeline.yaml", "--no-progress")
    assert rc == 0, out + err
    rec, _ = _last(home)
    assert rec.cursor["rows"] == 260 and rec.values["check"]["data"]["batch_rows"] == 60

    copy, moved = tmp_path / "restored" / "copy", tmp_path / "elsewhere" / "moved"
    shutil.copytree(home, copy)              # cp -r: the original stays
    moved.parent.mkdir()
    shutil.move(str(home), str(moved))       # mv: the original path is gone
    for folder, n in ((copy, 300), (moved, 340)):
        _rows(n).to_csv(folder / "data" / "stream.csv", index=False)
        rc, out, err = _ctml("run", "--config", folder / "pipeline.yaml", "--no-progress")
        assert rc == 0, out + err
        rec, idx = _last(folder)
        assert rec.status in ("succeeded", "skipped"), rec.reason
        data = rec.values["check"]["data"]
        assert (data["batch_rows"], data["newly_labelled"], rec.cursor["rows"]) == (n - 260, n - 260, n), data
        assert Path(rec.run_dir).parent == folder / "runs"                   # its own runs folder
        assert all(Path(d).parent == folder / "runs" for d in idx["run_dir"])  # older runs found where they are now
        assert rec.cursor["source"]["source"] == "data/stream.csv"           # named as the config names it
        lines = [json.loads(x) for x in (folder / "runs" / "index.jsonl").read_text().splitlines()]
        stored = [json.loads((folder / "runs" / x["run_id"] / "run.json").read_text())["run_dir"] for x in lines]
        assert [x["run_dir"] for x in lines] == stored == [x["run_id"] for x in lines]   # relative: the folder's name
        for args in (("runs",), ("show", "last"), ("report", "--index")):
            rc, out, err = _ctml(*args, "--config", folder / "pipeline.yaml")
            assert rc == 0, (args, out, err)


def test_the_mixed_features_recipe_encodes_what_a_plain_model_refuses(tmp_path):
    """recipes/mixed_features.py beside a pipeline.yaml: preflight refuses the plain forest on a table with a category
    and a text column, and passes with the recipe, whose fitted model takes unseen and missing categories, missing
    numbers and text, and is loaded back (joblib) from a fresh process through the pipeline folder alone"""
    import numpy as np
    from ctml_nb.pipeline.builders import validate_config
    from ctml_nb.pipeline.config import load_config
    from ctml_nb.core import ConfigError
    from ctml_nb.pipeline.preflight import preflight
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"temp": rng.normal(size=n), "sky": rng.choice(["sun", "rain", "fog"], n),
                       "note": [f"{w} day number {i}" for i, w in enumerate(rng.choice(["clear", "grey"], n))]})
    df["y"] = ((df.sky == "rain") | df.note.str.startswith("grey")).astype(int)   # needs the category and the text
    df.to_csv(tmp_path / "data.csv", index=False)
    plain = "model: {factory: 'sklearn.ensemble:RandomForestClassifier', params: {n_estimators: 5}}\n"
    (tmp_path / "pipeline.yaml").write_text("name: mixed\ndata: {source: data.csv, target: y}\n" + plain)
    from ctml_nb.pipeline.config import pipeline_importable
    try:
        with pipeline_importable(tmp_path): preflight(validate_config(load_config(tmp_path / "pipeline.yaml")))
        raise AssertionError("preflight passed a forest on text and categories")
    except ConfigError as e:
        assert "'sky' (categories" in str(e) and "'note' (text" in str(e) and "recipes/mixed_features.py" in str(e)
    shutil.copy(ROOT / "recipes" / "mixed_features.py", tmp_path / "mixed_features.py")
    (tmp_path / "pipeline.yaml").write_text(
        "name: mixed\ndata: {source: data.csv, target: y}\n"
        "model: {factory: 'mixed_features:make', params: {text_columns: [note], estimator_params: {n_estimators: 20, random_state: 0}}}\n")
    with pipeline_importable(tmp_path):   # scoped: sys.path and mixed_features forgotten after the block
        cfg = load_config(tmp_path / "pipeline.yaml")
        preflight(validate_config(cfg))
        from ctml_nb.pipeline.policy_config import new_model
        X, y = df.drop(columns="y"), df["y"]
        model = new_model(cfg).fit(X[:200], y[:200])
        assert (model.predict(X[200:]) == y[200:]).mean() > 0.9
        odd = X[200:203].copy()
        odd.loc[odd.index[0], "sky"] = "hail"            # unseen category
        odd.loc[odd.index[1], "sky"] = None              # missing category
        odd.loc[odd.index[2], "temp"] = np.nan           # missing number
        assert len(model.predict(odd)) == 3
        import joblib
        joblib.dump(model, tmp_path / "model.joblib")
    assert "mixed_features" not in sys.modules and str(tmp_path.resolve()) not in sys.path
    code = ("import sys, joblib\nfrom ctml_nb.pipeline.config import load_config\nload_config(sys.argv[1])\n"
            "print(type(joblib.load(sys.argv[2])).__name__)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "pipeline.yaml"), str(tmp_path / "model.joblib")],
                       capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                       timeout=600)
    assert r.stdout.strip() == "Pipeline", r.stdout + r.stderr
