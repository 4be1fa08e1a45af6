"""`runner.write_results` merges into claims.json: a later run at the same budget replaces the
results of the claims it judged again and keeps every other claim's, as they were written."""

from __future__ import annotations

import json

import pytest

from bench.claims import registry, runner
from bench.claims.base import CaseVerdict, ClaimVerdict, Outcome


def _read(out) -> dict:
    return json.loads((out / runner.RESULTS_FILE).read_text())


def _holds(claim_id: str) -> ClaimVerdict:
    case = CaseVerdict("adamw", "", 0.05, 2.0, Outcome.HOLDS, "inside", 0.5, (0.4, 0.6),
                       trials=("t1", "t2"))
    return ClaimVerdict(claim_id, Outcome.HOLDS, "all 1 case(s) hold", 0.5, (0.4, 0.6), (case,))


def test_a_rerun_replaces_its_claims_and_keeps_the_earlier_ones(tmp_path):
    one, two, three = registry.select(["1", "2", "3"])
    none_yet = ClaimVerdict("?", Outcome.INCONCLUSIVE, "no trial of this claim is recorded")
    runner.write_results(tmp_path, "cpu", [(three, none_yet)], command="run 3")
    runner.write_results(tmp_path, "cpu", [(one, none_yet), (two, none_yet)], command="run 1 2")
    before = {c["id"]: c for c in _read(tmp_path)["claims"]}

    runner.write_results(tmp_path, "cpu", [(two, _holds("2"))], command="rerun 2")
    body = _read(tmp_path)
    after = {c["id"]: c for c in body["claims"]}
    assert [c["id"] for c in body["claims"]] == ["1", "2", "3"]  # registry order
    assert after["1"] == before["1"] and after["3"] == before["3"]  # kept whole
    assert after["1"]["command"] == "run 1 2" and after["3"]["command"] == "run 3"
    rerun = after["2"]
    assert (rerun["verdict"], rerun["statistic"], rerun["interval"]) == ("holds", 0.5, [0.4, 0.6])
    assert rerun["trials"] == ["t1", "t2"] and rerun["command"] == "rerun 2"
    assert rerun != before["2"]


@pytest.mark.parametrize("damaged", [
    '{"budget": "cpu", "claims": [{"no id": 1}]}',  # a claim without its id
    '{"budget": "cpu", "claims": [{"no id": 1}]',  # cut short: no JSON
])
def test_a_damaged_results_file_is_replaced_by_the_claims_judged_now(tmp_path, damaged,
                                                                     capsys):
    (tmp_path / runner.RESULTS_FILE).write_text(damaged)
    [two] = registry.select(["2"])
    runner.write_results(tmp_path, "cpu", [(two, _holds("2"))])
    assert [c["id"] for c in _read(tmp_path)["claims"]] == ["2"]
    # Set aside with one warning (bench/ledger/damaged.py), kept for inspection.
    [kept] = (tmp_path / "damaged").glob(f"{runner.RESULTS_FILE}.*")
    assert kept.read_text() == damaged
    assert capsys.readouterr().err.count("damaged file") == 1


def test_the_records_each_claim_judged_are_kept_and_read_back(tmp_path):
    one, two = registry.select(["1", "2"])
    runner.write_results(tmp_path, "cpu", [(one, _holds("1")), (two, _holds("2"))],
                         judged={"2": ["t2", "t1", "t3"]})
    body = runner.read_results(tmp_path / runner.RESULTS_FILE)
    judged = {c["id"]: c.get("judged_on") for c in body["claims"]}
    assert judged == {"1": None, "2": ["t2", "t1", "t3"]}  # in the order it was given them
    assert runner.read_results(tmp_path / "nothing.json") is None
