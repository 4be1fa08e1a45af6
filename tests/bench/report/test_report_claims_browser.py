"""The claims in the report, in a real browser: verdicts.json beside index.html matches the
claims table the index opens with; the headline counts verdicts of all four kinds; on the
default quadratic suite (really run, smoke budget) the β1 > β2 rows are not-applicable; a
100-step WikiText box verdict is inconclusive; each row's figure link reaches its figure.
A screenshot of the index is saved (also to $WDBENCH_CLAIMS_SCREENSHOT when set)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from bench.cli import main
from bench.report import render
from tests.bench.claims.builders import record
from tests.bench.report.browser import chromium, open_page, skip_without_browser
from tests.bench.report_ledgers import write

skip_without_browser()


# One worker builds this module's fixtures once (make test: --dist loadgroup, tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("claims-browser")]


KINDS = ("holds", "violated", "inconclusive", "not-applicable")
CONTRAST = "betas=[0.99, 0.9]"


def wikitext_100_steps(weight_decay: float, seed: int, linf_norm: float) -> dict:
    """A 100-step full-batch WikiText run (as tests/bench/claims/test_xie_li.py): the weights
    barely moved from their initialization and still grow."""
    points = [{"step": 0, "linf_norm": 0.093, "linf_ratio": 0.093 * weight_decay,
               "val_loss": 6.2},
              {"step": 100, "linf_norm": linf_norm, "linf_ratio": linf_norm * weight_decay,
               "train_loss": 3.5, "val_loss": 5.9, "kkt_residual": 0.88}]
    return record(weight_decay=weight_decay, seed=seed, task="wikitext", schedule="constant",
                  lr=1e-3, final=points[-1], points=points)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("claims-ledger")
    # The task's default suite, as `python -m bench sweep --task quadratic --budget smoke`
    # runs it (AdamW at both of its (β1, β2): inside the theorem and the contrast outside).
    assert main(["sweep", "--task", "quadratic", "--budget", "smoke", "--optimizers", "adamw",
                 "--out", str(root), "--quiet"]) == 0
    write(root, [wikitext_100_steps(wd, seed, linf) for wd, linf in ((1.0, 0.16), (0.0, 0.17))
                 for seed in range(3)])
    return render([root], root / "report")


@pytest.fixture(scope="module")
def verdicts(report) -> dict:
    return json.loads((report.parent / "verdicts.json").read_text())


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def index(report, browser):
    page, problems = open_page(browser, report.as_uri())
    yield page, problems
    page.close()


def _claims_rows(page) -> list[dict[str, str]]:
    """The claims table's rows as {header: cell text, 'href:<header>': link}."""
    headers = page.eval_on_selector_all("#claims-table thead th",
                                        "hs => hs.map(h => h.textContent.trim())")
    cells = page.eval_on_selector_all("#claims-table tbody tr", """rows => rows.map(r =>
        Array.from(r.cells).map(c => [c.textContent.trim(),
                                      c.querySelector('a') ? c.querySelector('a').href : null]))""")
    rows = []
    for row in cells:
        out = {}
        for header, (text, href) in zip(headers, row):
            out[header] = text
            if href:
                out[f"href:{header}"] = href
        rows.append(out)
    return rows


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def test_verdicts_json_matches_the_claims_table(index, verdicts):
    page, problems = index
    rows = _claims_rows(page)
    claims = verdicts["claims"]
    assert len(rows) == len(claims) >= 4
    for row, claim in zip(rows, claims):
        assert row["claim"].startswith(f"{claim['claim']}. {claim['title']}")
        assert row["task"] == f"{claim['task']} · {claim['budget']}"
        assert row["verdict"] == claim["verdict"]
        assert row["evidence"] == claim["reason"]
        # The statistic and its interval, as printed (4 significant digits).
        shown = _numbers(row["statistic"].removeprefix(claim["statistic_name"]))
        expected = [x for x in (claim["statistic"], *(claim["interval"] or [])) if x is not None]
        assert shown == pytest.approx(expected, rel=1e-3), (row, claim)
        # The per-kind case counts are the per-configuration verdicts' own.
        mine = [v for v in verdicts["verdicts"]
                if (v["claim"], v["group"]) == (claim["claim"], claim["group"])]
        assert sum(claim["cases"].values()) == len(mine)
        assert claim["cases"] == {k: sum(v["verdict"] == k for v in mine) for k in KINDS}
        assert row["cases"].startswith(f"{len(mine)}:")
        # Each per-configuration object names what it judged and why.
        for v in mine:
            assert {"optimizer", "variant", "lr", "weight_decay", "verdict", "reason",
                    "numbers", "trials"} <= set(v) and v["verdict"] in KINDS and v["reason"]
    assert not problems, problems


def test_the_headline_counts_all_four_kinds(index, verdicts):
    page, _ = index
    text = page.inner_text("#claims-headline")
    m = re.fullmatch(r"Claim verdicts: (\d+) hold, (\d+) violated, (\d+) inconclusive, "
                     r"(\d+) not-applicable\.", text)
    assert m, text
    shown = dict(zip(KINDS, map(int, m.groups())))
    table = [r["verdict"] for r in _claims_rows(page)]
    assert shown == {k: table.count(k) for k in KINDS} == verdicts["counts"]["claims"]
    assert shown["not-applicable"] >= 1 and shown["inconclusive"] >= 1
    detail = page.inner_text("#claims .coverage")
    per_config = ", ".join(f"{verdicts['counts']['verdicts'][k]} "
                           f"{'hold' if k == 'holds' else k}" for k in KINDS)
    assert f"Per configuration (claim × optimizer × settings × lr × λ): {per_config}." in detail


def test_beta1_above_beta2_rows_are_not_applicable(report, browser, verdicts):
    contrast = [v for v in verdicts["verdicts"] if CONTRAST in v["variant"]]
    # Claims 1, 2 and 3 each judge the four (lr, λ) configurations of the contrast.
    assert sorted({v["claim"] for v in contrast}) == ["1", "2", "3"] and len(contrast) == 12
    assert {v["verdict"] for v in contrast} == {"not-applicable"}
    assert all("β1 = 0.99 > β2 = 0.9" in v["reason"] for v in contrast)
    # ... and the group page's constraint table shows them so, row by row.
    quadratic = next(c for c in verdicts["claims"] if c["task"] == "quadratic")
    page_file = report.parent / quadratic["page"].partition("#")[0]
    page, problems = open_page(browser, page_file.as_uri())
    table = page.eval_on_selector("table[id^=constraints-]", "t => t.id")
    headers = page.eval_on_selector_all(f"#{table} thead th",
                                        "hs => hs.map(h => h.textContent.trim())")
    cells = page.eval_on_selector_all(f"#{table} tbody tr", """rows => rows.map(r =>
        Array.from(r.cells).map(c => c.textContent.trim()))""")
    rows = [dict(zip(headers, c)) for c in cells]
    outside = [r for r in rows if CONTRAST in r["variant"]]
    assert len(outside) == 4
    for r in outside:
        assert r["verdict"] == "1 – not-applicable · 2 – not-applicable · 3 – not-applicable"
    inside = [r for r in rows if "betas=[0.9, 0.999]" in r["variant"]]
    assert inside and all("not-applicable" not in r["verdict"] for r in inside)
    assert not problems, problems
    page.close()


def test_a_100_step_wikitext_box_verdict_is_inconclusive(index, verdicts):
    page, _ = index
    row = next(r for r in _claims_rows(page)
               if r["claim"].startswith("1.") and r["task"].startswith("wikitext"))
    assert row["verdict"] == "inconclusive"
    assert "the box cannot bind" in row["evidence"] and "not converged" in row["evidence"]
    wikitext = [v for v in verdicts["verdicts"] if v["task"] == "wikitext" and v["claim"] == "1"]
    assert [v["verdict"] for v in wikitext] == ["inconclusive"]


def test_each_claim_links_to_the_figure_that_shows_it(index, browser, report, tmp_path):
    page, _ = index
    rows = _claims_rows(page)
    assert any("href:figure" in row for row in rows)
    for row in rows:
        if "href:figure" not in row:  # judged no configuration here: nothing to draw
            assert row["verdict"] == "not-applicable" and row["figure"] == "—", row
            continue
        href = row["href:figure"]
        path, _, anchor = href.removeprefix("file://").partition("#")
        assert Path(path).is_file() and anchor == f"claim-{row['claim'].split('.')[0]}"
        target, problems = open_page(browser, href)
        found = target.eval_on_selector(f"#{anchor}", """d => {
            const img = d.querySelector('figure img');
            return {loaded: !!img && img.complete && img.naturalWidth > 0,
                    src: img && img.getAttribute('src'),
                    verdict: d.querySelector('.claim-verdict').textContent};
        }""")
        assert found["loaded"] and found["src"].startswith(f"plots/{anchor}-"), found
        assert row["verdict"] in found["verdict"]
        assert not problems, problems
        target.close()
    shot = tmp_path / "claims-index.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("WDBENCH_CLAIMS_SCREENSHOT"):
        shutil.copy(shot, os.environ["WDBENCH_CLAIMS_SCREENSHOT"])
