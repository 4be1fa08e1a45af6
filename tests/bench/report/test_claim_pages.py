"""`wdbench claims pages DIR --to PAGES`: one page per claim of DIR/claims.json, each with the
claim's verdict, its numbers and every configuration's, and the command, commit, data
fingerprint and machine; the index lists them all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.claims import registry, runner
from bench.cli import main
from bench.report.cells import md_escape
from bench.report.claim_pages import page_name
from tests.bench.claims.builders import seeds
from tests.bench.report_ledgers import write

INSIDE = {"linf_ratio": 1.0, "linf_norm": 0.5, "kkt_residual": 1e-4}
COMMAND = "wdbench claims run 1 2 3 --budget cpu --out DIR"
ENV = {"device": "cpu", "threads": 2, "num_processes": 1, "torch": "2.13.0+cpu", "cuda": None,
       "python": "3.11.2", "git_rev": "77e4cec0ffee", "date": "2026-11-28T12:00:00+00:00"}


def _records() -> list[dict]:
    """Claims 1-3 on hand-made records: AdamW inside a binding box at a KKT point, SignGD
    inside it but settled away from one (claim 2 violated), their λ = 0 twins, and the
    β1 > β2 contrast outside the box (not-applicable)."""
    out = (seeds(3, final=INSIDE) + seeds(3, weight_decay=0.0, final={"linf_norm": 1.3})
           + seeds(3, optimizer="signgd_wd", metric="kkt_residual", values=[0.3, 0.31, 0.29],
                   final=INSIDE)
           + seeds(3, optimizer="signgd_wd", weight_decay=0.0, final={"linf_norm": 1.3})
           + seeds(3, final={**INSIDE, "linf_ratio": 1.6, "kkt_residual": -0.3},
                   optimizer_options={"betas": [0.99, 0.9]})
           + seeds(3, weight_decay=0.0, final={"linf_norm": 1.3},
                   optimizer_options={"betas": [0.99, 0.9]}))
    for r in out:
        r["env"] = dict(ENV)
        r["task"].update(data_fingerprint="quad-5e1c0a", data_source="synthetic (d=20)")
    return out


@pytest.fixture()
def results(tmp_path) -> Path:
    out = write(tmp_path / "results", _records())
    chosen = registry.select(["1", "2", "3"])
    recs = _records()
    runner.write_results(out, "cpu", [(c, c.judge(recs)) for c in chosen],
                         git_rev="cd852e1abcde", command=COMMAND)
    return out


def test_a_page_per_claim_with_its_verdict_numbers_and_provenance(results, tmp_path, capsys):
    pages = tmp_path / "docs" / "results" / "claims"
    assert main(["claims", "pages", str(results), "--to", str(pages)]) == 0
    printed = capsys.readouterr().out.split()
    body = json.loads((results / "claims.json").read_text())
    assert sorted(printed) == sorted(str(pages / n) for n in
                                     [*(page_name(c) for c in body["claims"]), "index.md"])
    verdicts = {c["id"]: c["verdict"] for c in body["claims"]}
    assert verdicts == {"1": "holds", "2": "violated", "3": "not-applicable"}
    index = (pages / "index.md").read_text()
    for claim in body["claims"]:
        text = (pages / page_name(claim)).read_text()
        assert f"**Verdict: {claim['verdict']}** (budget cpu)" in text
        assert md_escape(claim["reason"]) in text
        assert f"| value | {claim['statistic']:.4g}" in text
        low, high = claim["interval"]
        assert f"95% interval [{low:.4g}, {high:.4g}]" in text
        band = claim["threshold"]
        assert md_escape(f"≤ {band['high']:g}" if band["low"] is None
                         else f"[{band['low']:g}, {band['high']:g}]") in text
        # Every configuration, with its verdict, statistic and reason.
        for case in claim["cases"]:
            assert (f"| quadratic | {case['optimizer']} | {md_escape(case['variant'] or '—')} "
                    f"| {case['lr']:.4g} | {case['weight_decay']:.4g} | {case['verdict']} "
                    f"| {case['statistic']:.4g} |") in text
            assert md_escape(case["reason"]) in text
        # Where it came from: command, commit, data fingerprint, machine.
        assert f"- **Command**: `{COMMAND}`" in text
        assert "`cd852e1abcde` when judged; the trials ran at 77e4cec0ffee" in text
        assert "- **Data**: quadratic: fingerprint quad-5e1c0a (synthetic (d=20))" in text
        assert "device cpu; threads 2; processes 1; torch 2.13.0+cpu; CUDA none" in text
        assert f"{len(claim['trials'])} of {len(claim['trials'])} named in claims.json" in text
        assert f"]({page_name(claim)}) | {claim['verdict']} |" in index
    # The β1 > β2 configuration is not-applicable on claim 1's page, with the reason.
    box = (pages / page_name(body["claims"][0])).read_text()
    assert "| not-applicable | 1.6 |" in box and md_escape("β1 = 0.99 > β2 = 0.9") in box


def test_pages_say_so_where_the_ledger_lacks_the_trials(results, tmp_path):
    for path in (results / "trials").glob("*.json"):
        path.unlink()
    pages = tmp_path / "pages"
    assert main(["claims", "pages", str(results), "--to", str(pages)]) == 0
    text = (pages / "claim-1-xie-li-box.md").read_text()
    assert "**Data** and **machine**: not recorded (none of the claim's trials" in text


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "no claims.json in"),
    (lambda d: (d / "claims.json").write_text("{not json"), "is not a claims file"),
])
def test_a_missing_or_damaged_claims_file_is_one_line_exit_2(tmp_path, capsys, setup, message):
    results = tmp_path / "results"
    results.mkdir()
    setup(results)
    assert main(["claims", "pages", str(results), "--to", str(tmp_path / "pages")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "pages").exists()
