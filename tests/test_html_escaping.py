"""No user- or data-supplied text ever becomes markup (issue 14, item 1).

A retrain reason `<img src=x onerror=alert(1)>` was rendered through a Markdown repr in the check notebook, passed
through by nbconvert, and fired in the run's HTML report. Here hostile strings go into every Markdown and HTML view
of ctml-nb and the output is parsed with `html.parser.HTMLParser` (never a substring search):

(a) unit level: each result object's `_repr_markdown_` (rendered to HTML the way nbconvert does, with mistune) and
    `_repr_html_`, the registry and lineage views, the widgets' static HTML and the run report pieces: only
    structural elements, no `on*` attribute, no `javascript:` URL, images only as the project's own `data:` PNGs,
    and the payload shows as text;
(b) end to end: a real project whose data has a hostile column name and category values, a hostile
    `ctml retrain --reason` and requester, two `ctml run` cycles and `ctml report last --html`; every HTML file of
    the report is scanned (nbconvert's own template scripts allowed, none carrying the payload);
(c) with Chromium: `index.html` and `01_check.html` opened in a real browser with `alert`/`onerror` hooks.
"""
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

PAYLOADS = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", '"><svg onload=alert(1)>',
            "[x](javascript:alert(1))", "| a | b |"]
HOSTILE = " ".join(PAYLOADS)
STRUCTURAL = {"table", "thead", "tbody", "tr", "td", "th", "caption", "b", "i", "em", "strong", "code", "pre", "p",
              "div", "span", "ul", "ol", "li", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "figure",
              "figcaption", "header", "section", "details", "summary"}
VOID = {"br", "hr", "img", "meta", "link", "input"}


class Scan(HTMLParser):
    "Elements, attributes, text (outside script/style) and script/style content of an HTML document"
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements, self.text, self.code, self._raw = [], [], [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"): self._raw.append(tag)

    def handle_startendtag(self, tag, attrs): self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if self._raw and tag == self._raw[-1]: self._raw.pop()

    def handle_data(self, data): (self.code if self._raw else self.text).append(data)

    @property
    def data(self) -> str: return "".join(self.text)

    def problems(self, strict: bool = True) -> list:
        "What a payload could have turned into: handlers, javascript: URLs, foreign images, unexpected elements"
        out = []
        for tag, attrs in self.elements:
            for k, v in attrs.items():
                if k.startswith("on"): out.append(f"<{tag} {k}={v!r}>")
                if k in ("href", "src", "action", "formaction", "xlink:href") and v and \
                        re.sub(r"\s", "", v).lower().startswith(("javascript:", "vbscript:", "data:text")):
                    out.append(f"<{tag} {k}={v!r}>")
            if tag == "img" and not (attrs.get("src") or "").startswith("data:image/png;base64,"):
                out.append(f"<img src={attrs.get('src')!r}>")
            if tag == "a" and re.match(r"^[a-z][a-z0-9+.-]*:", (attrs.get("href") or "").strip(), re.I) \
                    and not re.match(r"^https?:", attrs["href"].strip(), re.I):
                out.append(f"<a href={attrs['href']!r}>")
            if tag in ("svg", "iframe", "object", "embed", "form", "base"): out.append(f"<{tag}>")
            if strict and tag not in STRUCTURAL: out.append(f"<{tag}> is not a structural element")
        out += [f"script/style carries the payload: {c[:80]!r}" for c in self.code if "alert(1)" in c]
        return out


def assert_safe(html: str, what: str, strict: bool = True, shows=(PAYLOADS[0], PAYLOADS[1])):
    "`html` has no element or attribute a payload made, and the payload texts in `shows` are there as text"
    s = Scan(html)
    assert not s.problems(strict), f"{what}: {s.problems(strict)}"
    for p in shows:
        assert p in s.data, f"{what}: payload {p!r} does not show as text (so this check proves nothing)"
    return s


def md_html(md: str) -> str:
    "Markdown rendered the way nbconvert renders a text/markdown output"
    return markdown2html_mistune(md)


def assert_md_safe(md: str, what: str, **kw):
    return assert_safe(md_html(md), what + " (markdown)", **kw)


# --- (a) unit level ---------------------------------------------------------------------------------------------

def test_md_escape_renders_as_the_text_itself():
    from ctml_nb.core import md_escape
    for p in PAYLOADS + [HOSTILE, "a_b*c* `d` $x$ # h ~~s~~ \\ & &amp;", "line\nbreak"]:
        got = Scan(md_html(md_escape(p))).data.strip()
        assert got == p.replace("\n", " "), (p, got)
        code = Scan(md_html(md_escape(p, code=True)))
        assert [t for t, _ in code.elements] == ["p", "code"] and code.data.strip() == p.replace("\n", " ")


def test_trigger_decision():
    from ctml_nb.policy.triggers import OnDemandTrigger, TriggerDecision
    d = TriggerDecision(retrain=True, fired=[HOSTILE], reasons=[HOSTILE], warnings=[HOSTILE], notes=[HOSTILE],
                        vetoed_by=[HOSTILE], suppressed=[HOSTILE], evidence={HOSTILE: {"reasons": [HOSTILE], "n": 1}},
                        now=pd.Timestamp("2024-01-01"), rows_seen=3)
    s = assert_md_safe(d._repr_markdown_(), "TriggerDecision")
    assert [t for t, _ in s.elements].count("table") == 1  # the evidence table stays one table, one row
    assert [t for t, _ in s.elements].count("tr") == 2


def test_on_demand_decision_from_a_hostile_request():
    from ctml_nb.policy.triggers import ModelState, OnDemandTrigger
    d = OnDemandTrigger().check(ModelState(rows_seen=10, requests=[{"reason": HOSTILE, "by": PAYLOADS[2]}]))
    assert d.retrain
    assert_md_safe(d._repr_markdown_(), "on-demand TriggerDecision")


def _decision():
    from ctml_nb.gate.promotion import PromotionDecision, _check
    checks = [_check(HOSTILE, "slice", False, HOSTILE, metric="accuracy", baseline=0.9, candidate=0.8, change=-0.1,
                     rule=HOSTILE), _check("primary", "primary", True, None, baseline=0.5, candidate=0.6, change=0.1)]
    return PromotionDecision(promote=False, reason="Reject: " + HOSTILE, metric="accuracy", greater_is_better=True,
                             baseline=0.5, candidate=0.6, delta=0.1, improvement=0.1, interval=(0.0, 0.2), p_value=0.04,
                             test="bootstrap", thresholds={}, checks=checks, blocked_by=[HOSTILE], scores=[], n=10)


def test_promotion_decision():
    d = _decision()
    s = assert_md_safe(d._repr_markdown_(), "PromotionDecision")
    assert [t for t, _ in s.elements].count("tr") == 3  # header and two checks: no cell split by `|`
    assert_safe(d._repr_html_(), "PromotionDecision")


def test_run_record_and_header():
    from ctml_nb.pipeline.runner import RunRecord
    from ctml_nb.pipeline.steps import RunHeader, record_bundle
    rec = RunRecord(run_id="r1", pipeline=HOSTILE, status="failed", reason=HOSTILE, model_before=HOSTILE,
                    steps=[{"step": HOSTILE, "status": "failed", "seconds": 1.0, "notebook": f"/x/{HOSTILE}.ipynb",
                            "error": HOSTILE}])
    assert_md_safe(rec._repr_markdown_(), "RunRecord")
    h = RunHeader("r1", HOSTILE, {"request_path": HOSTILE, "cursor": {"reason": HOSTILE}}, snapshot=HOSTILE,
                  champion=HOSTILE)
    assert_md_safe(h._repr_markdown_(), "RunHeader")
    for value in ({HOSTILE: HOSTILE}, [HOSTILE], HOSTILE, _decision()):
        assert_safe(record_bundle("x", value)["text/html"], f"record of {type(value).__name__}")


def test_failure_banner(tmp_path):
    from ctml_nb.pipeline.steps import mark_failed
    p = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), p)
    mark_failed(p, HOSTILE)
    assert_md_safe(nbformat.read(p, as_version=4).cells[0].source, "failure banner")


def test_small_results():
    from ctml_nb.drift.streaming import DetectorRun
    from ctml_nb.gate.evaluation import PairedTest
    from ctml_nb.gate.experiments import ShadowReport
    from ctml_nb.pipeline.preflight import PreflightReport
    from ctml_nb.drift.stats import StatResult
    from ctml_nb.policy.strategies import RetrainResult
    objs = {"RetrainResult": RetrainResult(object(), HOSTILE, 10, 0.1, HOSTILE, HOSTILE, {HOSTILE: HOSTILE},
                                           {"candidates": 2, "best_score": 0.5, "best_params": {HOSTILE: HOSTILE}}),
            "PairedTest": PairedTest(HOSTILE, None, 0.5, 10, note=HOSTILE),
            "StatResult": StatResult(HOSTILE, 0.1, 0.5, 10, 10),
            "DetectorRun": DetectorRun(HOSTILE, 0, 10),
            "ShadowReport": ShadowReport(10, {}, 0.9, 0, HOSTILE, None, None, None, None, None, None, None, [HOSTILE]),
            "PreflightReport": PreflightReport(HOSTILE, HOSTILE, [HOSTILE])}
    for name, o in objs.items():
        assert_md_safe(o._repr_markdown_(), name)


def _frames():
    "Reference and current frames with a hostile column name and hostile category values"
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({PAYLOADS[0]: rng.normal(size=400), "cat": rng.choice(["a", "b"], 400),
                        PAYLOADS[3]: rng.normal(size=400)})
    cur = pd.DataFrame({PAYLOADS[0]: rng.normal(2, size=300),
                        "cat": rng.choice(["a", PAYLOADS[1], PAYLOADS[2], PAYLOADS[4]], 300),
                        PAYLOADS[3]: rng.normal(size=300)})
    return ref, cur


def test_drift_report_and_explorer():
    from ctml_nb.drift.detector import DriftDetector
    from ctml_nb.drift.report import report_html
    from ctml_nb.reports.widgets import DriftExplorer
    ref, cur = _frames()
    rep = DriftDetector().fit(ref).test(cur)
    assert PAYLOADS[0] in rep.drifted
    shows = (PAYLOADS[0],)
    assert_safe(rep._repr_html_(), "DriftReport", shows=shows)
    assert_safe(report_html(rep), "drift report page", strict=False, shows=shows)
    assert_safe(DriftExplorer(rep, column=PAYLOADS[0]).static(), "DriftExplorer", shows=shows)
    assert_safe(DriftExplorer(rep, column="cat").static(), "DriftExplorer", shows=shows)


def test_profile_schema_validation_and_frames():
    from ctml_nb.drift.detector import DriftDetector
    from ctml_nb.data.validation import infer_schema, validate
    ref, cur = _frames()
    schema = infer_schema(ref)
    assert_safe(schema._repr_html_(), "DataSchema", shows=(PAYLOADS[0],))
    report = validate(cur.rename(columns={PAYLOADS[3]: "other"}), schema)
    assert report.violations
    assert_safe(report._repr_html_(), "ValidationReport")
    assert_safe(DriftDetector().fit(ref).profile_._repr_html_(), "ReferenceProfile", shows=(PAYLOADS[0],))
    assert_safe(cur.describe(include="all").T._repr_html_(), "DataFrame", strict=False, shows=(PAYLOADS[0],))  # + <style>
    assert_safe(cur.head(40).to_html(), "DataFrame.to_html")


def test_registry_and_lineage_views(tmp_path):
    from sklearn.dummy import DummyClassifier
    from ctml_nb.registry.lineage import lineage
    from ctml_nb.registry.files import ModelRegistry
    ref, _ = _frames()
    reg = ModelRegistry(tmp_path / "reg")
    model = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 0, 1])
    mv1 = reg.register(model, "m", metrics={"accuracy": 0.5}, params={HOSTILE: HOSTILE}, tags={HOSTILE: HOSTILE},
                       data_snapshot={"train": ref}, run_id=HOSTILE, description=HOSTILE)
    mv2 = reg.register(model, "m", params={"x": HOSTILE}, tags={"reason": HOSTILE}, parent=mv1.version)
    assert_safe(mv2._repr_html_(), "ModelVersion")
    assert_safe(reg._repr_html_(), "ModelRegistry", shows=())
    assert_safe(lineage(reg, "m", mv2.version)._repr_html_(), "Lineage")
    assert_safe(reg.versions("m").to_html(), "registry versions table")
    snap = reg.snapshots.save(ref.head(10), name=HOSTILE)  # new content: a new snapshot with this name
    assert_safe(snap._repr_html_(), "Snapshot")


def test_backtest_and_policy_views():
    from ctml_nb.policy.backtest import BacktestResult
    from ctml_nb.policy.policies import PolicyComparison
    totals = {"policy": HOSTILE, "metric_name": "accuracy", "metric": 0.8, "retrains": 1, "train_rows": 10,
              "fit_seconds": 0.1, "no_change": 0.7, "kappa_temporal": 0.3, "rejected": 0, "scored_rows": 10,
              "batches": 1, "run_seconds": 0.2}
    r = BacktestResult(HOSTILE, pd.DataFrame(), [], totals)
    assert_safe(r._repr_html_(), "BacktestResult")
    assert_safe(PolicyComparison({HOSTILE: r})._repr_html_(), "PolicyComparison")


# --- (b) end to end ---------------------------------------------------------------------------------------------

CONFIG = """\
name: elec2
data: {source: live.csv, target: target, time_column: timestamp}
model:
  factory: hostile_model:make
triggers:
  - {kind: performance, params: {metric: accuracy, floor: 0.0, min_rows: 20}}
  - {kind: drift}
strategy: {kind: full, params: {window: 14D}}
promotion: {kind: gate, params: {metric: accuracy, n_boot: 100, latency_repeats: 2, min_delta: -1.0, test: none}}
timeout: 300
"""
FACTORY = """\
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

def make():
    enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["kind"])], remainder="passthrough")
    return make_pipeline(enc, RandomForestClassifier(n_estimators=10, random_state=0, n_jobs=1))
"""


def _live(tmp_path, days, hostile_day=False):
    from ctml_nb.demo import demo_data
    df = demo_data().iloc[:days * 48].copy()
    df[PAYLOADS[0]] = df.pop("transfer")                      # a hostile column name
    df["kind"] = np.where(df["period"] < 0.5, "night", "day")
    if hostile_day:                                           # hostile category values in the new day
        df.loc[df.index[-48:], "kind"] = np.array([PAYLOADS[1], PAYLOADS[2], PAYLOADS[4]] * 16)
        df.loc[df.index[-48:], PAYLOADS[0]] = df.loc[df.index[-48:], PAYLOADS[0]] * 3
    df.to_csv(tmp_path / "live.csv", index=False)


def test_hostile_pipeline_name_is_refused(tmp_path):
    from ctml_nb.pipeline.config import ConfigError, load_config
    (tmp_path / "pipeline.yaml").write_text(CONFIG.replace("name: elec2", f"name: '{PAYLOADS[0]}'"))
    with pytest.raises(ConfigError, match="name: expected letters"):
        load_config(tmp_path / "pipeline.yaml")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    "A real project: a first cycle, then a hostile day of data, a hostile retrain request and a second cycle"
    from ctml_nb.cli import EXIT_OK, main
    tmp_path = tmp_path_factory.mktemp("hostile")
    (tmp_path / "hostile_model.py").write_text(FACTORY)
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(tmp_path))                        # the runner's preflight builds the model here
    mp.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))  # and the kernels
    try:
        cfg = tmp_path / "pipeline.yaml"
        cfg.write_text(CONFIG)
        _live(tmp_path, 13)
        assert main(["run", "--config", str(cfg)]) == EXIT_OK
        _live(tmp_path, 14, hostile_day=True)
        mp.setenv("USER", PAYLOADS[2])                        # the requester's name
        assert main(["retrain", "--reason", HOSTILE, "--config", str(cfg)]) == EXIT_OK
        assert main(["run", "--config", str(cfg)]) == EXIT_OK
        assert main(["report", "last", "--html", "--config", str(cfg)]) == EXIT_OK
    finally:
        mp.undo()
    from ctml_nb.pipeline.runner import read_index
    idx = read_index(tmp_path / "runs")
    run_dir = Path(idx["run_dir"].iloc[-1])
    return tmp_path, run_dir


def test_report_of_a_hostile_cycle(hostile_run):
    from ctml_nb.pipeline.runner import RunRecord
    tmp_path, run_dir = hostile_run
    rec = RunRecord.load(run_dir)
    assert rec.status == "succeeded", rec.reason
    assert any(HOSTILE in r for r in rec.trigger["reasons"])   # the hostile reason reached the decision
    pages = sorted((run_dir / "report").rglob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "01_check.html"}, pages
    for page in pages:
        s = assert_safe(page.read_text(), str(page.name), strict=False, shows=())
        assert not [c for c in s.code if any(p in c for p in PAYLOADS[:3])], page.name
    for name in ("index.html", "01_check.html"):               # where the hostile reason shows
        data = Scan((run_dir / "report" / name).read_text()).data
        for p in PAYLOADS: assert p in data, (name, p)
    check = Scan((run_dir / "report" / "01_check.html").read_text()).data
    assert PAYLOADS[2] in check                                # the requester and the category values, as text
    nb = nbformat.read(run_dir / "01_check.ipynb", as_version=4)
    md = [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
          if "text/markdown" in o.get("data", {})]
    assert md and any("onerror" in m for m in md)              # the trigger decision's Markdown, checked as nbconvert renders it
    for m in md: assert_safe(md_html(m), "check notebook markdown output", shows=())


def test_run_browser_of_the_hostile_runs(hostile_run):
    from ctml_nb.reports.widgets import RunBrowser
    tmp_path, _ = hostile_run
    assert_safe(RunBrowser(tmp_path / "runs").static(), "RunBrowser", shows=(PAYLOADS[0],))


# --- (c) in a real browser --------------------------------------------------------------------------------------

CHROMIUM = os.environ.get("CTML_CHROMIUM", "/usr/bin/chromium")


def _no_browser():
    if not Path(CHROMIUM).exists(): return f"no Chromium at {CHROMIUM} (make browser; or set CTML_CHROMIUM)"
    try: import playwright.sync_api  # noqa: F401
    except ImportError: return "Playwright for Python is not installed"
    return None


HOOK = """
window.__fired = [];
window.alert = (m) => window.__fired.push('alert:' + m);
window.confirm = window.prompt = window.alert;
"""


@pytest.mark.browser
@pytest.mark.skipif(_no_browser() is not None, reason=_no_browser() or "")
def test_hostile_report_in_chromium(hostile_run, tmp_path):
    from playwright.sync_api import sync_playwright
    _, run_dir = hostile_run
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
                                                   args=args)
        try:
            ctx.add_init_script(HOOK)
            for name in ("index.html", "01_check.html"):
                page = ctx.new_page()
                dialogs = []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                page.goto((run_dir / "report" / name).as_uri())
                page.wait_for_timeout(500)
                for d in page.locator("details").all(): d.evaluate("e => e.open = true")  # unfold every notebook
                page.wait_for_timeout(500)
                assert page.evaluate("window.__fired") == [] and dialogs == [], name
                assert page.locator("svg[onload], img[onerror], img[src='x']").count() == 0, name
                assert PAYLOADS[0] in page.locator("body").inner_text(), name
                page.close()
        finally:
            ctx.close()
