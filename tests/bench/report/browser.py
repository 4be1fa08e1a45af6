"""Headless Chromium through Playwright for the report's browser tests: Debian's `chromium`
and the `playwright` Python package (never `playwright install`: the system browser is used).
`skip_without_browser()` skips the calling test module, with the reason, where either is
missing (and fails it under WDBENCH_REQUIRE_BROWSER=1, as CI sets)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.bench.helpers import skip_module_if

CHROMIUM = os.environ.get("WDBENCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; .ci/run does)"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    return None


def skip_without_browser() -> None:
    skip_module_if(missing(), "WDBENCH_REQUIRE_BROWSER")


@contextmanager
def chromium() -> Iterator[Any]:
    """The system's headless Chromium, closed (with Playwright) when the block ends."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str):
    """The page at `url`, loaded, and the list its console errors, failed requests and
    dialogs are collected into."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, problems
