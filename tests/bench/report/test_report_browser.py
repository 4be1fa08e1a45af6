"""The generated report in a real browser (headless Chromium through Playwright): no console
errors, no script from the results runs, sorting reorders rows, every image loads, every link
resolves; a screenshot is saved (also to $WDBENCH_REPORT_SCREENSHOT when set).

Needs Debian's `chromium` and the `playwright` Python package (tests/bench/report/browser.py);
skipped, with the reason, where either is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.report import render
from tests.bench.report.browser import chromium, open_page, skip_without_browser
from tests.bench.report.synthetic import write_synthetic_ledger

EVIL = "<script>alert(1)</script>"

# One worker builds this module's fixtures once (make test: --dist loadgroup, tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("report-browser")]

skip_without_browser()



@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ledger")
    write_synthetic_ledger(root, tasks=("quadratic", "wikitext"),
                           optimizers=("adamw", "adam_l2", "signgd_wd", "lion"), grid=2,
                           evals=8, missing=0.05, names={"lion": EVIL}, rng_seed=2)
    return render([root], root / "report")


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _column(page, table: str, col: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].textContent.trim())")


def test_pages_load_clean_with_working_images_and_links(report, browser):
    pages = sorted(report.parent.glob("*.html"))
    for path in pages:
        page, problems = open_page(browser, path.as_uri())
        broken = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0)"
                   ".map(i => i.getAttribute('src'))")
        links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        for href in links:
            assert href.startswith("file://"), f"{path.name} links off-site: {href}"
            target = Path(href.removeprefix("file://").split("#")[0])
            assert target.is_file(), f"{path.name}: broken link {href}"
        assert not broken, f"{path.name}: images that did not load: {broken}"
        assert not problems, f"{path.name}: {problems}"
        # The hostile optimizer name is text, never markup.
        if EVIL in page.inner_text("body"):
            assert page.eval_on_selector_all("script", "s => s.length") == 1
        page.close()


def test_each_section_leads_with_its_headline_figure(report, browser):
    page, problems = open_page(browser, report.as_uri())
    sections = page.eval_on_selector_all("section[id]", """ss => ss.map(s => {
        const img = s.querySelector('figure img');
        const board = s.querySelector('h3');
        return {id: s.id, src: img && img.getAttribute('src'),
                loaded: !!img && img.complete && img.naturalWidth > 0,
                above: !!img && !!board &&
                       img.getBoundingClientRect().bottom <= board.getBoundingClientRect().top,
                top: s.getBoundingClientRect().top};
    })""")
    by_id = {s["id"]: s for s in sections if s["id"] not in ("provenance", "claims")}
    profile = by_id.pop("performance-profile")
    assert profile["loaded"] and profile["src"] == "plots/performance-profile.png"
    # Across tasks, after them: each task's own result comes first.
    assert profile["top"] > max(s["top"] for s in by_id.values())
    assert len(by_id) == 2
    for sid, s in by_id.items():
        assert s["loaded"] and s["above"], s
        kind = "plots/linf-" if sid.startswith("quadratic") else "plots/heatmap-"
        assert s["src"].startswith(kind), s
    assert not problems, problems
    page.close()


def test_sorting_reorders_rows_and_screenshot(report, browser, tmp_path):
    page, problems = open_page(browser, report.as_uri())
    table = page.eval_on_selector("table[id^=leaderboard-]", "t => t.id")
    headers = page.eval_on_selector_all(f"#{table} thead th",
                                        "hs => hs.map(h => h.textContent.trim())")
    col = headers.index("optimizer")
    before = _column(page, table, col)
    page.click(f"#{table} thead th:nth-child({col + 1})")
    ascending = _column(page, table, col)
    assert ascending == sorted(before, key=str.lower) or ascending == sorted(before)
    page.click(f"#{table} thead th:nth-child({col + 1})")
    assert _column(page, table, col) == ascending[::-1]
    # A numeric column sorts by value with gaps last.
    metric = next(i for i, h in enumerate(headers) if h.startswith("val_loss"))
    page.click(f"#{table} thead th:nth-child({metric + 1})")
    keys = page.eval_on_selector_all(
        f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{metric}].dataset.sort)")
    numbers = [float(k) for k in keys if k]
    assert numbers == sorted(numbers) and keys[len(numbers):] == [""] * (len(keys) - len(numbers))
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("WDBENCH_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["WDBENCH_REPORT_SCREENSHOT"])
    assert not problems, problems
    page.close()
