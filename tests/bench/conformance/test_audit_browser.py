"""The audit page in a real browser (headless Chromium through Playwright): it loads without
console errors, a hostile optimizer name stays text, a header click sorts the rows (again:
reversed), and the disagreement filter shows exactly the disagreeing rows.

Needs Debian's `chromium` and the `playwright` Python package (the system browser is used,
as in tests/bench/report/test_report_browser.py); skipped, with the reason, where either is
missing."""

from __future__ import annotations

import pytest

from bench.conformance.audit import Audit, AuditRow
from bench.conformance.audit_page import write_outputs
from tests.bench.report.browser import chromium, open_page, skip_without_browser

pytestmark = pytest.mark.browser


EVIL = "<script>alert(1)</script>"

skip_without_browser()



def _row(name: str, measured: str | None, declared: str | None, agrees: bool | None,
         reason: str | None = None) -> AuditRow:
    return AuditRow(optimizer=f"lib:{name}", settings={}, decay_semantics=measured,
                    declared=declared, declared_from="docstring" if declared else None,
                    agrees=agrees, reason=reason, evidence=f"evidence for {name} {EVIL}",
                    deviations={})


ROWS = [_row("Zeta", "coupled", "coupled", True), _row("alpha", "decoupled", "coupled", False),
        _row(EVIL, "none", "decoupled", False), _row("Mid", None, None, None, "hangs"),
        _row("beta", "fixed", None, None)]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit-page")
    audit = Audit(package="lib", version="1.0", date="2026-01-01 00:00 UTC",
                  probe={"lr": 5e-3, "weight_decay": 0.1, "steps": 8, "seed": 0,
                         "timeout_s": 60.0}, rows=ROWS, seconds=1.0)
    write_outputs(audit, out)
    return (out / "index.html").as_uri()


@pytest.fixture(scope="module")
def page(page_url):
    with chromium() as browser:
        yield open_page(browser, page_url)


def _visible(tab, col: int) -> list[str]:
    return tab.eval_on_selector_all(
        "#audit tbody tr:not([hidden])", f"rs => rs.map(r => r.cells[{col}].textContent.trim())")


def test_page_loads_clean_and_hostile_text_stays_text(page):
    tab, problems = page
    assert not problems, problems
    assert tab.eval_on_selector_all("script", "s => s.length") == 2  # our own two only
    assert f"lib:{EVIL}" in _visible(tab, 0)
    assert "lib 1.0" in tab.inner_text("h1") and "2026-01-01" in tab.inner_text("#provenance")


def test_header_click_sorts_and_again_reverses(page):
    tab, _ = page
    names = [f"lib:{r.optimizer.split(':')[1]}" for r in ROWS]
    expected = sorted(names, key=str.lower)
    tab.click("#audit thead th:nth-child(1)")
    assert _visible(tab, 0) == expected
    tab.click("#audit thead th:nth-child(1)")
    assert _visible(tab, 0) == expected[::-1]
    tab.click("#audit thead th:nth-child(6)")  # agrees: no, yes, then the blanks last
    assert _visible(tab, 5) == ["no", "no", "yes", "—", "—"]


def test_disagreement_filter_shows_exactly_the_disagreements(page):
    tab, problems = page
    tab.check("#only-disagreements")
    assert sorted(_visible(tab, 0)) == sorted(["lib:alpha", f"lib:{EVIL}"])
    assert set(_visible(tab, 5)) == {"no"}
    assert tab.inner_text("#shown") == "(2 of 5 rows)"
    tab.uncheck("#only-disagreements")
    assert len(_visible(tab, 0)) == len(ROWS)
    assert not problems, problems
