"""The claims framework's shared parts: the interval against a band, the aggregation of cases
into a claim's verdict, the convergence test, the registry, claims.json."""

from __future__ import annotations

import json
import math

import pytest

from bench.claims import conditions, judging, records, registry, runner
from bench.claims.base import CaseVerdict, Outcome, Statistic
from bench.errors import UsageError
from tests.bench.claims.builders import record, seeds

BELOW = Statistic("m", "a metric", (None, 1.0))


@pytest.mark.parametrize("interval, band, outcome", [
    ((0.5, 0.9), (None, 1.0), Outcome.HOLDS),
    ((0.9, 1.1), (None, 1.0), Outcome.INCONCLUSIVE),
    ((1.1, 1.2), (None, 1.0), Outcome.VIOLATED),
    ((0.995, 1.005), (0.99, 1.01), Outcome.HOLDS),
    ((0.98, 1.0), (0.99, 1.01), Outcome.INCONCLUSIVE),
    ((1.1, 1.2), (0.99, 1.01), Outcome.VIOLATED),
    ((0.5, 0.6), (0.99, 1.01), Outcome.VIOLATED),
])
def test_band_outcome(interval, band, outcome):
    assert judging.band_outcome(interval, band) is outcome


def test_interval_is_the_t_interval_over_seeds():
    mean, (low, high) = judging.interval_of([1.0, 2.0, 3.0])
    assert mean == 2.0 and math.isclose(high - mean, 4.302652729749464 / math.sqrt(3))
    assert judging.interval_of([1.0]) == (1.0, None)
    assert judging.interval_of([]) == (None, None)


def case(outcome, interval=(0.5, 0.6), optimizer="adamw"):
    return CaseVerdict(optimizer, "", 0.05, 2.0, outcome, f"{outcome.value} here",
                       statistic=sum(interval) / 2, interval=interval, trials=(optimizer,))


def test_aggregate_precedence_and_the_deciding_case():
    holds = [case(Outcome.HOLDS, (0.5, 0.6), "a"), case(Outcome.HOLDS, (0.8, 0.95), "b")]
    v = judging.aggregate("9", BELOW, holds)
    assert v.outcome is Outcome.HOLDS and v.interval == (0.8, 0.95)  # closest to 1.0
    assert v.trials == ("a", "b")
    mixed = holds + [case(Outcome.INCONCLUSIVE, (0.9, 1.1), "c")]
    assert judging.aggregate("9", BELOW, mixed).outcome is Outcome.INCONCLUSIVE
    worst = case(Outcome.VIOLATED, (1.5, 1.6), "e")
    v = judging.aggregate("9", BELOW, [*mixed, case(Outcome.VIOLATED, (1.1, 1.2), "d"), worst])
    assert v.outcome is Outcome.VIOLATED and v.interval == (1.5, 1.6)
    assert "2 of 5 case(s) violated; worst: e lr=0.05 λ=2" in v.reason
    na = [case(Outcome.NOT_APPLICABLE)]
    assert judging.aggregate("9", BELOW, na).outcome is Outcome.NOT_APPLICABLE
    v = judging.aggregate("9", BELOW, holds + na)
    assert v.outcome is Outcome.HOLDS and "1 case(s) not applicable" in v.reason
    assert judging.aggregate("9", BELOW, []).outcome is Outcome.INCONCLUSIVE


def test_combine_keeps_the_worse_outcome_and_every_reason():
    both = judging.combine(case(Outcome.HOLDS), case(Outcome.VIOLATED))
    assert both.outcome is Outcome.VIOLATED and "holds here | violated here" == both.reason
    assert judging.combine(case(Outcome.HOLDS), case(Outcome.HOLDS)).outcome is Outcome.HOLDS


def view(**kw):
    return records.views([record(**kw)])[0]


def test_converged_by_residual_or_by_a_settled_window():
    assert conditions.trial_converged(view(final={"kkt_residual": 1e-3}, change=0.5)).ok
    settled = conditions.trial_converged(view(final={"kkt_residual": 0.5}))
    assert settled.ok and "settled over steps 19000–20000" in settled.phrase
    moving = conditions.trial_converged(view(final={"kkt_residual": 0.5}, change=0.02))
    assert not moving.ok and "still moves 0.02 relative" in moving.phrase
    assert conditions.trial_converged(view(final={"kkt_residual": 0.5}, change=0.005)).ok
    one_point = view(points=[{"step": 10, "train_loss": 1.0}])
    assert conditions.trial_converged(one_point).phrase == "fewer than two evaluations"


def test_converged_watches_each_tensor_norm():
    points = [{"step": 0, "train_loss": 1.0, "rotation": {"weight_norm": {"w": 1.0}}},
              {"step": 100, "train_loss": 1.0, "rotation": {"weight_norm": {"w": 2.0}}}]
    check = conditions.trial_converged(view(points=points))
    assert not check.ok and "‖w‖ still moves 0.5" in check.phrase


def test_twins_pair_the_same_configuration_and_seed_at_lambda_0():
    trials = records.views(seeds(2) + seeds(2, weight_decay=0.0)
                           + seeds(2, weight_decay=0.0, lr=0.01))
    cases = records.cases([t for t in trials if t.weight_decay > 0])
    twins = records.twins(cases[0], trials)
    assert len(twins) == 2 and {t.lr for t in twins} == {0.05}


def test_registry_ids_follow_the_module_order_and_select_by_id_or_slug():
    everything = registry.claims()
    assert [c.id for c in everything] == [str(i) for i in range(1, 13)]
    assert [c.id for c in registry.select(["muon-spectral-ball", "1"])] == ["1", "6"]
    assert [c.id for c in registry.select(["12", "cautious-keeps-loss"])] == ["7", "12"]
    with pytest.raises(UsageError, match="unknown claim id"):
        registry.select(["13"])


def test_claims_json_is_replaced_atomically_and_keeps_other_claims(tmp_path):
    one, two = registry.select(["1", "2"])
    verdict = judging.aggregate("1", one.statistic, [])
    runner.write_results(tmp_path, "cpu", [(one, verdict), (two, verdict)])
    runner.write_results(tmp_path, "cpu", [(two, verdict)])
    body = json.loads((tmp_path / "claims.json").read_text())
    assert [c["id"] for c in body["claims"]] == ["1", "2"]
    runner.write_results(tmp_path, "smoke", [(two, verdict)])  # another budget: replaced
    body = json.loads((tmp_path / "claims.json").read_text())
    assert [c["id"] for c in body["claims"]] == ["2"] and body["budget"] == "smoke"
    assert [p.name for p in tmp_path.iterdir()] == ["claims.json"]  # no temporary left


def test_shared_records_give_every_claim_the_verdict_of_a_plain_list(monkeypatch, tmp_path):
    """The report judges every claim on one SharedRecords per group: the views are built
    once, and each claim's verdict equals its verdict on a plain list of the records."""
    from tests.bench.report.synthetic import synthetic_records

    recs = synthetic_records(tasks=("quadratic",), optimizers=("adamw", "adam_l2", "lion"),
                             grid=2, evals=3, failed=1, rng_seed=4)
    plain = {c.id: c.judge(list(recs)) for c in registry.claims()}
    built = []
    monkeypatch.setattr(records, "_views", lambda r, build=records._views: (
        built.append(1), build(r))[1])
    shared = records.SharedRecords(recs)
    assert {c.id: c.judge(shared) for c in registry.claims()} == plain
    assert len(built) == 1 and len(shared) == len(recs) and shared[0] is recs[0]
    assert any(v.cases for v in plain.values())
