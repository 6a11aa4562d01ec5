"""One definition of each concept (issue 21): task inference, the metric table, the holdout default, the run record's
field names, the component resolver and the shape of a plug-in table each live in one module, and the others import it.

Each test reads the package's source with `ast`, so that a second definition (a new module, a template) fails here
rather than drifting apart from the first one.
"""
import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/"ctml_nb"
TEMPLATES = sorted((PKG/"templates").glob("0*.ipynb"))


def _modules()->dict:
    "{dotted name: parsed module} of the library (the generated index and the old-path shims left out)"
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        if p.stem in ("_modidx", "_moved") or "__pycache__" in p.parts: continue
        rel = p.relative_to(PKG).with_suffix("")
        out[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = ast.parse(p.read_text(encoding="utf-8"))
    return out


def _template_sources()->dict:
    return {t.name: "\n".join("".join(c["source"]) for c in json.loads(t.read_text())["cells"] if c["cell_type"] == "code")
            for t in TEMPLATES}


def _metric_names()->set:
    from ctml_nb.metrics import METRICS
    return set(METRICS)


def test_one_task_inference():
    "Only `metrics.task_of` asks scikit-learn whether a model is a classifier or a regressor"
    asks = {"is_classifier", "is_regressor", "_estimator_type", "estimator_type"}
    bad = sorted({m for m, tree in _modules().items() if m != "metrics" for n in ast.walk(tree)
                  if (isinstance(n, ast.Name) and n.id in asks) or (isinstance(n, ast.Attribute) and n.attr in asks)})
    assert not bad, f"task inference outside ctml_nb.metrics.task_of (call task_of instead): {bad}"


def _str_consts(nodes)->list:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


# Modules that still table per-metric knowledge of their own, each with the reason; this list only shrinks.
KNOWN_METRIC_TABLES = set()   # none today: CBPE's expected values are `Metric.expected`, DLE's losses `Metric.row_loss`


def test_one_metric_table():
    "Per-metric knowledge (losses, directions, names of row means) is read from `metrics.METRICS`, never tabled again"
    names, bad = _metric_names(), []
    assert KNOWN_METRIC_TABLES <= set(_modules()), "an allowed module is gone: remove it from KNOWN_METRIC_TABLES"
    for m, tree in _modules().items():
        if m == "metrics" or m in KNOWN_METRIC_TABLES: continue
        for n in ast.walk(tree):
            if isinstance(n, ast.Dict) and len(set(_str_consts(n.keys)) & names) >= 2:
                bad.append(f"{m} line {n.lineno}: a dict keyed by metric names")
            if isinstance(n, ast.Compare) and any(isinstance(c, (ast.Tuple, ast.List, ast.Set))
                                                  and len(set(_str_consts(c.elts)) & names) >= 2 for c in n.comparators):
                bad.append(f"{m} line {n.lineno}: a test against a list of metric names")
        for f in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            eq = {c for n in ast.walk(f) if isinstance(n, ast.Compare) and all(isinstance(o, ast.Eq) for o in n.ops)
                  for c in _str_consts(n.comparators) if c in names}
            if len(eq) >= 2: bad.append(f"{m}.{f.name}: branches on metric names {sorted(eq)}")
    assert not bad, f"per-metric knowledge outside ctml_nb.metrics.METRICS (add a field to `Metric`): {bad}"


def test_the_metric_table_serves_gate_and_hindsight():
    from ctml_nb.metrics import METRICS
    from ctml_nb.gate.evaluation import METRICS as GATE
    assert all(GATE[k] is METRICS[k] for k in GATE), "the gate's metrics are entries of the one table"
    assert all(m.per_row or m.by_weights for m in GATE.values()), "every gate metric can be resampled"
    assert {k for k, m in METRICS.items() if m.row_mean} >= {"accuracy", "error_rate", "mae", "mse"}


def test_one_holdout_default():
    "`policy.loop.Holdout` holds the retrain step's holdout default; no module or template repeats its numbers"
    from ctml_nb.policy.loop import Holdout
    assert Holdout().test_fraction and Holdout().min_test_rows
    bad = []
    for m, tree in _modules().items():
        if m == "policy.loop": continue
        for n in ast.walk(tree):
            if isinstance(n, ast.keyword) and n.arg == "test_fraction" and isinstance(n.value, ast.Constant):
                bad.append(f"{m} line {n.value.lineno}")
            if isinstance(n, ast.arguments):
                args = n.posonlyargs + n.args
                pairs = list(zip(args[len(args) - len(n.defaults):], n.defaults)) + list(zip(n.kwonlyargs, n.kw_defaults))
                bad += [f"{m} line {a.lineno}" for a, d in pairs if a.arg == "test_fraction" and isinstance(d, ast.Constant)
                        and d.value is not None]
    for name, src in _template_sources().items():
        for k in ("test_fraction", "min_test_rows"):
            for v in re.findall(rf"^{k}\s*(?::[^=]*)?=\s*(\S+)", src, re.M):
                if v != "None": bad.append(f"template {name}: {k} = {v}")
    assert not bad, f"holdout defaults outside ctml_nb.policy.loop.Holdout (default to None and build_holdout): {bad}"


def test_one_set_of_record_names():
    "Templates record values by the names of `pipeline.run_record.Values`, and import nothing from the runner"
    from ctml_nb.pipeline.run_record import LIFTED, REQUIRED_VALUES, RunRecord, Values
    bad = []
    for name, src in _template_sources().items():
        if "ctml_nb.pipeline.runner" in src: bad.append(f"{name} imports ctml_nb.pipeline.runner")
        bad += [f"{name}: record({a}" for a in re.findall(r"\brecord\(\s*([^,\s)]+)", src) if not a.startswith("Values.")]
        bad += [f"{name}: values[...][{k}]" for k in re.findall(r"values\[\"\w+\"\]\[(\"\w+\")\]", src)]
    assert not bad, f"record names outside ctml_nb.pipeline.run_record.Values: {bad}"
    fields = {f for f in RunRecord.__dataclass_fields__}
    assert set(LIFTED) | {Values.PENDING, Values.SNAPSHOTS, Values.MODEL_BEFORE, Values.MODEL_AFTER} <= fields
    assert {v for vs in REQUIRED_VALUES.values() for v in vs} <= set(Values.names())


def test_reports_read_the_record_module_not_the_runner():
    "Views of runs (reports, context, demo) read the record format from `pipeline.run_record`, never from the runner"
    bad = [m for m, tree in _modules().items() if m.split(".")[0] in ("reports", "demo") or m == "pipeline.context"
           for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").endswith("pipeline.runner")
           and {a.name for a in n.names} & {"RunRecord", "read_index", "find_run", "append_index", "load_values",
                                             "load_run_config", "REQUIRED_VALUES"}]
    assert not bad, f"modules importing the run record's format from the runner: {sorted(set(bad))}"


def test_one_component_resolver():
    "Only `pipeline.builders.component_class` turns a component's kind into a class; section defaults in DEFAULT_COMPONENTS"
    from ctml_nb.pipeline.config import DEFAULT_COMPONENTS
    defaults = {s.kind for s in DEFAULT_COMPONENTS.values()}
    table = lambda n: isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == "COMPONENTS"
    bad = []
    for m, tree in _modules().items():
        if m in ("pipeline.config", "pipeline.builders"): continue
        for n in ast.walk(tree):
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("get", "resolve")
                    and table(n.func.value)):
                bad.append(f"{m} line {n.lineno}: COMPONENTS[...].{n.func.attr}(kind)")
            if isinstance(n, ast.Subscript) and table(n.value): bad.append(f"{m} line {n.lineno}: COMPONENTS[...][kind]")
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "ComponentSpec" and n.args
                    and isinstance(n.args[0], ast.Constant) and n.args[0].value in defaults):
                bad.append(f"{m} line {n.lineno}: a default ComponentSpec({n.args[0].value!r})")
    assert not bad, f"components resolved outside ctml_nb.pipeline.builders.component_class: {bad}"


def test_one_history_loader():
    "Only `data.history` reads a pipeline's whole history: the source read whole, its label feed joined, `--history` swapped in"
    def call_name(n): return getattr(n.func, "id", None) or getattr(n.func, "attr", None) if isinstance(n, ast.Call) else None
    bad = []
    for m, tree in _modules().items():
        if m == "data.history": continue
        for n in ast.walk(tree):
            if (call_name(n) == "read" and isinstance(n.func, ast.Attribute) and call_name(n.func.value) == "open_source"):
                bad.append(f"{m} line {n.lineno}: open_source(...).read()")
            if (isinstance(n, ast.Subscript) and call_name(n.value) == "join_history" and isinstance(n.slice, ast.Constant)
                    and n.slice.value == 0):
                bad.append(f"{m} line {n.lineno}: join_history(...)[0], the labels joined to a whole history")
            if call_name(n) == "replace" and any(k.arg == "source" for k in n.keywords):
                bad.append(f"{m} line {n.lineno}: replace(..., source=...), a history file in place of the source")
    assert not bad, f"history loading outside ctml_nb.data.history (call read_history or load_history): {bad}"
    from ctml_nb.data.history import load_history, read_history
    from ctml_nb.pipeline import load_source
    assert "read_history" in ast.unparse(ast.parse(__import__("inspect").getsource(load_source)))


def test_one_plugin_shape():
    "Every table of plug-ins is a `core.PluginTable` (names, `register`, `resolve` of a name or `module:Name`)"
    from ctml_nb.core import PluginTable
    from ctml_nb.data.source_kinds import SOURCES
    from ctml_nb.drift.columns import DRIFT_TESTS
    from ctml_nb.drift.engine_table import ENGINES
    from ctml_nb.drift.streaming import DETECTORS
    from ctml_nb.pipeline.alerts import NOTIFIERS
    from ctml_nb.pipeline.config import COMPONENTS
    from ctml_nb.registry.backends import REGISTRIES
    tables = {"SOURCES": SOURCES, "DRIFT_TESTS": DRIFT_TESTS, "ENGINES": ENGINES, "DETECTORS": DETECTORS, "NOTIFIERS": NOTIFIERS,
              "REGISTRIES": REGISTRIES, **{f"COMPONENTS[{k!r}]": v for k, v in COMPONENTS.items()}}
    assert not [n for n, t in tables.items() if not isinstance(t, PluginTable)], "plug-in tables of another shape"
    # a dict literal mapping names to "ctml_nb.x:Name" texts is a plug-in table too: it must be a PluginTable's entries
    ref = re.compile(r"^ctml_nb\.[\w.]+:[\w.]+$")
    bad = []
    for m, tree in _modules().items():
        inside = {id(a) for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "PluginTable"
                  for a in n.args}
        for n in ast.walk(tree):
            if (isinstance(n, ast.Dict) and id(n) not in inside and
                    any(isinstance(v, ast.Constant) and isinstance(v.value, str) and ref.match(v.value) for v in n.values)):
                bad.append(f"{m} line {n.lineno}")
    assert not bad, f"name tables of 'module:Name' texts that are not a PluginTable: {bad}"
