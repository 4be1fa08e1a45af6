"""One verdict per claim, whether read in claims.json or in the report: a claim that the results
directory's claims.json lists is judged by the report on the trials listed there (scope "claims
run"), any other on all records of its group ("all records"); a damaged claims.json is set
aside with one warning and every claim is judged on all records. Records built by hand
(tests/bench/claims/builders.py), no trial is run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.claims import registry, runner
from bench.report import claim_verdicts, data, render
from tests.bench.claims.builders import seeds
from tests.bench.report_ledgers import write

INSIDE = {"linf_ratio": 1.0, "linf_norm": 0.5, "kkt_residual": 1e-4}
LAMBDA0 = {"linf_norm": 1.3, "train_loss": 0.0}  # the unconstrained run leaves r = 0.5
CONTRAST = {"betas": [0.99, 0.9]}  # β1 > β2: outside Xie & Li's theorem (claim 3's suite)


def box_runs(**kw) -> list[dict]:
    """Three seeds at λ = 2 inside a binding box and their three λ = 0 twins."""
    return seeds(3, final=INSIDE, **kw) + seeds(3, weight_decay=0.0, final=LAMBDA0, **kw)


def claim(claim_id: str):
    [found] = registry.select([claim_id])
    return found


def _ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]


@pytest.fixture
def ledger(tmp_path) -> tuple[Path, list[dict], list[dict]]:
    """Claim 1's suite's records (AdamW inside the theorem) and claim 3's (the β1 > β2
    contrast) in one ledger: one task, budget and data, so one report group."""
    mine, theirs = box_runs(), box_runs(optimizer_options=CONTRAST)
    write(tmp_path, mine + theirs)
    return tmp_path, mine, theirs


def _claims_json(root: Path, claim_id: str, records: list[dict]) -> dict:
    """claims.json as `wdbench claims run` writes it: the claim judged on `records`."""
    c = claim(claim_id)
    runner.write_results(root, "cpu", [(c, c.judge(records))], command="test",
                         judged={c.id: _ids(records)})
    [entry] = json.loads((root / runner.RESULTS_FILE).read_text())["claims"]
    return entry


def _report(root: Path) -> dict[str, list[dict]]:
    """The report's verdicts.json claim entries, per claim."""
    render([root], root / "report", fmt="md")
    body = json.loads((root / "report" / claim_verdicts.FILE).read_text())
    out: dict[str, list[dict]] = {}
    for entry in body["claims"]:
        out.setdefault(entry["claim"], []).append(entry)
    return out


def test_a_listed_claim_is_judged_on_its_trials_and_the_others_on_all_records(ledger):
    root, mine, theirs = ledger
    listed = _claims_json(root, "1", mine)
    # Judged on every record of the group, claim 1 would also judge the contrast's runs.
    everything = claim("1").result(claim("1").judge(mine + theirs))
    assert set(everything["trials"]) - set(_ids(mine))

    entries = _report(root)
    [one] = entries["1"]  # one verdict for claim 1, claims.json's
    assert one["scope"] == "claims run"
    for key in ("verdict", "statistic", "interval", "trials"):
        assert one[key] == listed[key], key
    assert set(one["trials"]) <= set(_ids(mine))
    # Claim 3 is not in claims.json: judged on all records of the group, as before.
    [three] = entries["3"]
    assert three["scope"] == "all records"
    loaded = data.load([root])
    [group] = loaded.groups
    alone = claim("3").result(claim("3").judge(loaded.records_of(group)))
    assert (three["verdict"], three["statistic"], three["trials"]) == (
        alone["verdict"], alone["statistic"], alone["trials"])
    said = (root / "report" / "report.md").read_text()
    assert "Scope: claim 1 judged the trials claims.json lists" in said


@pytest.mark.parametrize("damaged", ['{"budget": "cpu", "claims": [{"id": "1"}]}',  # no trials
                                     '{"budget": "cpu", "claims": ['])  # cut short
def test_a_damaged_claims_json_warns_once_and_every_claim_judges_all_records(ledger, damaged,
                                                                             capsys):
    root, mine, theirs = ledger
    (root / runner.RESULTS_FILE).write_text(damaged)
    entries = _report(root)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "damaged file" in line]
    assert len(warnings) == 1 and runner.RESULTS_FILE in warnings[0]
    assert not (root / runner.RESULTS_FILE).exists()  # set aside, kept for inspection
    assert len(list((root / "damaged").glob(f"{runner.RESULTS_FILE}.*"))) == 1
    [one] = entries["1"]
    assert one["scope"] == "all records"
    assert set(one["trials"]) - set(_ids(mine))  # the contrast's runs judged too


def test_a_claims_run_over_two_tasks_is_one_verdict_shown_on_both(tmp_path):
    """Claim 2's suites run on the quadratic and on WikiText: claims.json has one verdict over
    both; so has the report, and each task's page shows that verdict with its own cases."""
    quadratic, wikitext = seeds(3, final=INSIDE), seeds(3, final=INSIDE, task="wikitext")
    write(tmp_path, quadratic + wikitext)
    listed = _claims_json(tmp_path, "2", quadratic + wikitext)
    [two] = _report(tmp_path)["2"]
    assert (two["verdict"], two["statistic"], two["interval"], two["trials"]) == (
        listed["verdict"], listed["statistic"], listed["interval"], listed["trials"])
    loaded = data.load([tmp_path])
    assert len(two["groups"]) == 2 == len(loaded.groups)
    judged = claim_verdicts.judge(loaded, [claim("2")], {"2": listed["judged_on"]})
    assert len(judged) == 1
    for group, own in zip(loaded.groups, (quadratic, wikitext)):
        [shown] = claim_verdicts.of_group(judged, group)
        assert shown.verdict.outcome == judged[0].verdict.outcome
        assert set(shown.verdict.trials) == set(_ids(own))
