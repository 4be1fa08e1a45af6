"""The claims' shared judge shapes: `judging.decayed_cases` / `judge_cases` (the trials at λ > 0
a claim selects, pooled into cases, each judged with every trial in view) and
`pairs.judged_partner` (a contrast's partner judged, or inconclusive where there is none)."""

from __future__ import annotations

import pytest

from bench.claims import judging, pairs
from bench.claims.base import CaseVerdict, Outcome, Statistic
from bench.claims.conditions import Check
from tests.bench.claims.builders import record, seeds

BELOW = Statistic("linf_ratio", "a metric", (None, 1.0))
# adamw at λ = 2 (two seeds) and its λ = 0 twin, Adam + ℓ2 and Lion at λ = 2, cautious at λ = 5
RECORDS = [*seeds(2, optimizer="adamw", weight_decay=2.0), record("adamw", weight_decay=0.0),
           record("adam_l2", weight_decay=2.0), record("lion", weight_decay=2.0),
           record("adamw_cautious", weight_decay=5.0)]


@pytest.mark.parametrize("select, expected", [
    (lambda t: t.row.get("decay") != "coupled",
     [("adamw", 2.0, 2), ("adamw_cautious", 5.0, 1), ("lion", 2.0, 1)]),
    (lambda t: t.row.get("decay") == "coupled", [("adam_l2", 2.0, 1)]),
    (lambda t: t.row.get("direction") == "adam",
     [("adam_l2", 2.0, 1), ("adamw", 2.0, 2), ("adamw_cautious", 5.0, 1)]),
    (lambda t: t.row.get("direction") == "muon", []),
    (lambda t: t.weight_decay == 0, []),  # λ = 0 is never a case, whatever the claim selects
])
def test_decayed_cases_keep_the_selected_trials_at_positive_decay(select, expected):
    trials, cases = judging.decayed_cases(RECORDS, select)
    assert len(trials) == len(RECORDS)  # every trial stays in view (twins, partners)
    assert [(c.first.optimizer, c.first.weight_decay, len(c.trials)) for c in cases] == expected


def test_judge_cases_judges_each_case_with_every_trial_and_aggregates():
    seen = []

    def judge_case(case, trials):
        seen.append((case.first.optimizer, len(trials)))
        return judging.decide(case, BELOW, Check(True, "applies"))

    verdict = judging.judge_cases("X", BELOW, RECORDS, lambda t: t.row.get("direction") == "adam",
                                  judge_case)
    assert seen == [("adam_l2", 6), ("adamw", 6), ("adamw_cautious", 6)]
    assert [c.optimizer for c in verdict.cases] == ["adam_l2", "adamw", "adamw_cautious"]
    assert verdict.claim == "X"


def test_judge_cases_with_nothing_selected_is_inconclusive():
    verdict = judging.judge_cases("X", BELOW, RECORDS, lambda t: False,
                                  lambda case, trials: pytest.fail("no case to judge"))
    assert verdict.outcome is Outcome.INCONCLUSIVE and "no trial of this claim" in verdict.reason


@pytest.mark.parametrize("optimizer, decay, outcome, reason", [
    ("adamw_cautious", "decoupled", Outcome.HOLDS, "decoupled adamw: judged adamw λ=5"),
    ("adamw_cautious", "coupled", Outcome.INCONCLUSIVE, "no partner"),  # no Adam + ℓ2 at λ=5
    ("lion", "decoupled", Outcome.INCONCLUSIVE, "no partner"),  # another direction
])
def test_judged_partner(optimizer, decay, outcome, reason):
    recs = [*RECORDS, record("adamw", weight_decay=5.0)]
    trials, cases = judging.decayed_cases(recs, lambda t: t.optimizer == optimizer)

    def judge(partner):
        first = partner.first
        return CaseVerdict(first.optimizer, first.variant, first.lr, first.weight_decay,
                           Outcome.HOLDS, f"judged {first.optimizer} λ={first.weight_decay:g}")

    [case] = cases
    verdict = pairs.judged_partner(case, trials, decay, judge, "no partner")
    assert (verdict.outcome, verdict.reason) == (outcome, reason)
    if outcome is Outcome.INCONCLUSIVE:  # reported under the case's own configuration
        assert (verdict.optimizer, verdict.weight_decay) == (optimizer, case.first.weight_decay)
