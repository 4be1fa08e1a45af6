"""Every reason bench/verdicts.py can give, from evidence and from records."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.report.synthetic import synthetic_records
from bench.verdicts import (
    AGREEMENT,
    Agreement,
    Claim,
    Evidence,
    Reason,
    evidence,
    judge,
    judge_records,
)

BOX = Evidence(decay="decoupled", norm="linf", weight_decay=0.1, radius=10.0,
               schedule="inverse_sqrt", schedule_theorem=True, trials=4, finished=4,
               diverged=0, linf_ratios=(0.5, 0.9, 1.0005, 0.99),
               l2_stationarities=(0.3, 0.4, 0.5, 0.6))
COUPLED = replace(BOX, decay="coupled", radius=None, l2_stationarities=(0.01, 0.02, 0.03))


# One row per way to a reason: the evidence, and the (agreement, reason) judge must give.
CASES = [
    (BOX, Agreement.AGREES, Reason.INSIDE_BOX),
    (replace(BOX, linf_ratios=(0.5, 1.2, 0.9)), Agreement.DISAGREES, Reason.OUTSIDE_BOX),
    (COUPLED, Agreement.AGREES, Reason.L2_STATIONARY),
    (replace(COUPLED, l2_stationarities=(0.2, 0.3)), Agreement.DISAGREES,
     Reason.NOT_L2_STATIONARY),
    # No claim to check:
    (replace(BOX, weight_decay=0.0, radius=None), Agreement.NO_CLAIM, Reason.ZERO_DECAY),
    (replace(COUPLED, weight_decay=0.0), Agreement.NO_CLAIM, Reason.ZERO_DECAY),
    (replace(BOX, decay="none"), Agreement.NO_CLAIM, Reason.NO_DECAY),
    (replace(BOX, decay="fixed", radius=None), Agreement.NO_CLAIM, Reason.NO_RADIUS),
    (replace(BOX, norm="l2"), Agreement.NO_CLAIM, Reason.NON_LINF_DIRECTION),
    (replace(BOX, schedule="cosine", schedule_theorem=False), Agreement.NO_CLAIM,
     Reason.NON_THEOREM_SCHEDULE),
    (replace(BOX, schedule_theorem=None), Agreement.NO_CLAIM, Reason.UNKNOWN_SCHEDULE),
    # Any style that implies a radius (here a hypothetical one) gets the box claim.
    (replace(BOX, decay="independent"), Agreement.AGREES, Reason.INSIDE_BOX),
    (replace(BOX, decay="corrected", linf_ratios=(1.1,)), Agreement.DISAGREES,
     Reason.OUTSIDE_BOX),
    # Partial data:
    (replace(BOX, finished=0, diverged=4, linf_ratios=()), Agreement.NO_DATA,
     Reason.ALL_DIVERGED),
    (replace(BOX, finished=0, diverged=1, linf_ratios=()), Agreement.NO_DATA,
     Reason.NOT_FINISHED),
    (replace(BOX, linf_ratios=()), Agreement.NO_DATA, Reason.MISSING_METRICS),
    (replace(COUPLED, l2_stationarities=()), Agreement.NO_DATA, Reason.MISSING_METRICS),
]


@pytest.mark.parametrize("ev, agreement, reason", CASES)
def test_each_case_gives_its_agreement_and_reason(ev, agreement, reason):
    v = judge(ev)
    assert (v.agreement, v.reason) == (agreement, reason)


def test_every_reason_is_reached_and_has_one_agreement():
    """What judge gives over the cases, not what the table says: a reason judge no longer
    reaches (or a new one nobody tried) fails here, as does one reason given with two
    agreements or with another agreement than AGREEMENT's."""
    given: dict[Reason, set[Agreement]] = {}
    for ev, _, _ in CASES:
        v = judge(ev)
        given.setdefault(v.reason, set()).add(v.agreement)
    assert set(given) == set(Reason), set(Reason) - set(given)
    assert {r: len(a) for r, a in given.items() if len(a) != 1} == {}
    assert {r: given[r] for r in AGREEMENT} == {r: {a} for r, a in AGREEMENT.items()}


def test_inside_and_outside_the_box():
    v = judge(BOX)
    assert v.claim is Claim.BOX
    assert v.observed["inside"] == 4 and v.observed["max_linf_ratio"] == 1.0005
    v = judge(replace(BOX, linf_ratios=(0.5, 1.2, 0.9)))
    assert (v.observed["inside"], v.observed["inside_of"]) == (2, 3)


def test_no_claim_whatever_the_data():
    # The box is outside, but cosine is not a theorem schedule.
    v = judge(replace(BOX, schedule_theorem=False, linf_ratios=(1.5,)))
    assert v.agreement is Agreement.NO_CLAIM and v.observed["inside"] == 0


def test_coupled_decay_is_checked_for_l2_stationarity():
    v = judge(COUPLED)
    assert v.claim is Claim.L2
    assert v.observed["l2_stationarity"] == pytest.approx(0.02)


def test_evidence_from_records_of_both_schema_versions():
    records = [r for r in synthetic_records(tasks=("quadratic",), optimizers=("adamw",),
                                            grid=2, evals=3, failed=0)
               if r["config"]["weight_decay"] == 0.03]
    assert records
    v = judge_records(records)
    assert v.claim is Claim.BOX and v.observed["trials"] == len(records)
    old = []
    for r in records:  # the same records as version 1 wrote them
        o = {**r, "schema": 1, "optimizer": dict(r["optimizer"]), "schedule": {
            "name": r["schedule"]["name"],
            "theorem_conditions": r["schedule"]["schedule_theorem"]}}
        o["optimizer"]["decay_style"] = o["optimizer"].pop("decay")
        o.pop("code_fingerprint")
        old.append(o)
    assert judge_records(old) == v


def test_evidence_reads_flat_rows():
    rows = [{"status": "done", "decay": "decoupled", "norm": "linf", "weight_decay": 0.1,
             "radius": 10.0, "schedule": "constant", "schedule_theorem": False,
             "linf_ratio": 0.5},
            {"status": "diverged", "linf_ratio": float("nan")}]
    ev = evidence(rows)
    assert (ev.trials, ev.finished, ev.diverged, ev.linf_ratios) == (2, 1, 1, (0.5,))
    assert judge(ev).reason is Reason.NON_THEOREM_SCHEDULE
