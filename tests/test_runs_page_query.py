"""The runs page you can query (issue 23), in headless Chromium: filter by status, trigger and outcome, a date range,
sort by any column, the reason shortened with the whole text on demand, two runs side by side; hostile text from
run records (reasons, trigger labels, gate reasons) stays text. The page is opened from a file: no server, no network.

A synthetic runs folder written with the runner's own record type (`RunRecord`, `append_index`), so the test takes
seconds; `tests/test_runs_page.py` checks the same page on a real pipeline.
"""
import json
from pathlib import Path

import pytest

from test_browser import ARGS, CHROMIUM, _missing
from test_html_escaping import HOSTILE, PAYLOADS, assert_safe

pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]
HOOK = "window.__fired = []; window.alert = window.confirm = window.prompt = (m) => window.__fired.push(String(m));"
LONG = "champion kept: " + "the challenger was no better on the held-out rows, " * 4 + "see the gate."


def _gate(promote, champion, challenger, reason):
    return {"promote": promote, "metric": "accuracy", "greater_is_better": True, "baseline": champion,
            "candidate": challenger, "improvement": None if champion is None else challenger - champion, "n": 300,
            "p_value": 0.01 if promote else 0.4, "reason": reason,
            "scores": [{"metric": "accuracy", "champion": champion, "challenger": challenger,
                        "challenger_interval": [challenger - .03, challenger + .03]}]}


def _trigger(now, fired, reasons=None):
    return {"retrain": bool(fired), "fired": fired, "now": now, "reasons": reasons or [f"{f} fired" for f in fired]}


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    from ctml_nb.core import write_json
    from ctml_nb.pipeline.runner import RunRecord, append_index
    from ctml_nb.reports.runs_page import write_runs_page
    runs = tmp_path_factory.mktemp("query") / "runs"
    plan = [  # (day, status, reason, before, after, trigger, gate)
        ("2026-01-01", "succeeded", "version 1 promoted", None, 1, _trigger("1997-05-28", ["first_model"]),
         _gate(True, None, .74, "Promote: no champion yet")),
        ("2026-01-08", "skipped", "no trigger fired", 1, 1, _trigger("1997-06-04", []), None),
        ("2026-01-15", "succeeded", LONG, 1, 1, _trigger("1997-06-11", ["accuracy_floor"]), _gate(False, .71, .70, "Reject")),
        ("2026-01-22", "succeeded", "version 2 promoted: " + HOSTILE, 1, 2,
         _trigger("1997-06-18", [PAYLOADS[0]], [HOSTILE]), _gate(True, .71, .78, HOSTILE)),
        ("2026-01-29", "failed", "step check failed: ValueError: bad batch", 2, 2, None, None),
    ]
    for i, (day, status, reason, before, after, trig, gate) in enumerate(plan):
        rid = f"{day.replace('-', '')}T000000Z-abc12{i}"
        rec = RunRecord(rid, "elec2", status=status, reason=reason, started=f"{day}T00:00:00+00:00", seconds=10.0 + i,
                        trigger=trig, gate=gate, model_before=before, model_after=after, run_dir=str(runs / rid),
                        snapshots={"train": f"{i}" * 64} if gate else {})
        write_json(runs / rid / "run.json", rec.to_dict())
        append_index(runs, rec.summary())
    return write_runs_page(runs, reports=False)


@pytest.fixture
def page(page_file, tmp_path):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
                                                   args=ARGS, viewport={"width": 1400, "height": 1000})
        try:
            ctx.add_init_script(HOOK)
            requests = []
            ctx.on("request", lambda r: requests.append(r.url))
            pg = ctx.new_page()
            dialogs = []
            pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            pg.goto(page_file.as_uri())
            pg.wait_for_selector("#ctml-f-count:has-text('5 of 5 runs shown')")
            yield pg
            assert pg.evaluate("window.__fired") == [] and dialogs == [], "a payload ran"
            assert [u for u in requests if not u.startswith("file:")] == [], "the page fetched something"
        finally:
            ctx.close()


def _visible_runs(pg):
    return pg.eval_on_selector_all("table.ctml-runs tbody tr:not([hidden])", "rs => rs.map(r => r.dataset.run)")


def test_the_page_is_safe_as_html(page_file):
    s = assert_safe(page_file.read_text(), "runs page", strict=False, shows=(PAYLOADS[0], PAYLOADS[1]))
    assert not [c for c in s.code if any(p in c for p in PAYLOADS[:3])], "a payload sits raw in a script"


def test_filters(page):
    page.select_option("#ctml-f-status", "succeeded")
    page.wait_for_selector("#ctml-f-count:has-text('3 of 5')")
    assert len(_visible_runs(page)) == 3
    page.select_option("#ctml-f-outcome", "rejected")
    page.wait_for_selector("#ctml-f-count:has-text('1 of 5')")
    assert _visible_runs(page) == ["20260115T000000Z-abc122"]
    page.select_option("#ctml-f-status", "")
    page.select_option("#ctml-f-outcome", "")
    page.select_option("#ctml-f-trigger", PAYLOADS[0])          # a hostile trigger label is an option like any other
    page.wait_for_selector("#ctml-f-count:has-text('1 of 5')")
    assert _visible_runs(page) == ["20260122T000000Z-abc123"]
    page.select_option("#ctml-f-trigger", "first_model")
    page.wait_for_selector("#ctml-f-count:has-text('1 of 5')")
    assert _visible_runs(page) == ["20260101T000000Z-abc120"]
    page.select_option("#ctml-f-trigger", "")
    page.fill("#ctml-f-from", "2026-01-08")
    page.fill("#ctml-f-to", "2026-01-22")
    page.wait_for_selector("#ctml-f-count:has-text('3 of 5')")
    assert _visible_runs(page) == ["20260122T000000Z-abc123", "20260115T000000Z-abc122", "20260108T000000Z-abc121"]


def test_sort_by_any_column(page):
    newest_first = _visible_runs(page)
    assert newest_first == sorted(newest_first, reverse=True)
    header = page.locator("table.ctml-runs thead th")
    names = header.all_inner_texts()
    assert names[:3] == ["started (UTC)", "data up to", "status"] and names[-1] == "compare"
    header.nth(0).locator("button").click()                      # started: oldest first
    page.wait_for_selector("table.ctml-runs th[aria-sort=ascending]")
    assert _visible_runs(page) == sorted(newest_first)
    header.nth(0).locator("button").click()                      # again: the other way
    page.wait_for_selector("table.ctml-runs th[aria-sort=descending]")
    assert _visible_runs(page) == newest_first
    status = names.index("status")
    header.nth(status).locator("button").click()
    page.wait_for_selector(f"table.ctml-runs th:nth-child({status + 1})[aria-sort=ascending]")
    got = page.eval_on_selector_all("table.ctml-runs tbody tr", f"rs => rs.map(r => r.cells[{status}].textContent)")
    assert got == sorted(got) and got[0] == "failed"
    champion = names.index("champion")
    for _ in range(2): header.nth(champion).locator("button").click()
    page.wait_for_selector(f"table.ctml-runs th:nth-child({champion + 1})[aria-sort=descending]")
    got = page.eval_on_selector_all("table.ctml-runs tbody tr", f"rs => rs.map(r => r.cells[{champion}].textContent)")
    assert got == sorted(got, reverse=True)


def test_reason_is_short_with_the_whole_text_on_demand(page):
    row = page.locator("tr[data-run='20260115T000000Z-abc122']")
    cell = row.locator("td.reason")
    assert len(cell.inner_text()) < len(LONG) and cell.inner_text().endswith("\u2026")
    cell.locator("summary").click()
    page.wait_for_selector("tr[data-run='20260115T000000Z-abc122'] td.reason details[open]")
    assert LONG in cell.inner_text()


def test_compare_two_runs_side_by_side(page):
    page.check("input.ctml-pick[value='20260101T000000Z-abc120']")
    page.wait_for_selector("#ctml-compare:has-text('Tick one more run')")
    page.check("input.ctml-pick[value='20260122T000000Z-abc123']")
    table = page.wait_for_selector("#ctml-compare table.ctml-compare")
    cells = page.eval_on_selector_all("#ctml-compare tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))")
    head, rows = cells[0], {c[0]: c[1:] for c in cells[1:] if len(c) == 3}
    assert head[1:] == ["run 20260101T000000Z-abc120", "run 20260122T000000Z-abc123"]
    sections = [c[0] for c in cells[1:] if len(c) == 1]
    assert sections == ["data", "triggers", "gate", "champion"]
    assert rows["data up to"] == ["1997-05-28", "1997-06-18"]
    assert rows["fired"] == ["first_model", PAYLOADS[0]]         # the hostile label, as text
    assert rows["baseline"] == ["-", "0.71"] and rows["candidate"] == ["0.74", "0.78"]
    assert rows["reason"][1] == HOSTILE and rows["challenger interval"][1] == "0.75 to 0.81"
    assert rows["before"] == ["none", "1"] and rows["after"] == ["1", "2"]
    assert page.locator("#ctml-compare tr.diff").count() >= 5
    assert page.locator("#ctml-compare img, #ctml-compare svg, #ctml-compare script").count() == 0
    page.check("input.ctml-pick[value='20260115T000000Z-abc122']")  # a third: the first ticked makes way
    page.wait_for_selector("#ctml-compare th:has-text('run 20260115T000000Z-abc122')")
    assert not page.is_checked("input.ctml-pick[value='20260101T000000Z-abc120']")
    assert table is not None


def test_hostile_text_stays_text(page):
    assert page.locator("img[onerror], svg, img[src='x'], body script:not(:last-of-type)").count() == 0
    row = page.locator("tr[data-run='20260122T000000Z-abc123']")
    assert PAYLOADS[1] in row.locator("td.reason").inner_text() or PAYLOADS[1] in row.locator("td.reason").text_content()
    opts = page.eval_on_selector_all("#ctml-f-trigger option", "os => os.map(o => o.value)")
    assert PAYLOADS[0] in opts
    data = json.loads(row.get_attribute("data-compare"))
    assert data["gate"]["reason"] == HOSTILE
