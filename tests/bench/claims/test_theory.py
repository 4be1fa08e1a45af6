"""Every target and every reason for none that bench/claims/theory.py can give, from settings,
flat rows and records of both schema versions."""

from __future__ import annotations

from dataclasses import replace

from bench.claims.theory import Outside, Setting, Target, as_flag, setting, target_of, why_outside
from bench.ledger.store import flatten
from tests.bench.report.synthetic import synthetic_records

BOX = Setting(decay="decoupled", norm="linf", weight_decay=0.1, radius=10.0,
              schedule="inverse_sqrt", schedule_theorem=True)
COUPLED = replace(BOX, decay="coupled", radius=None)


def test_the_box_and_the_l2_targets():
    assert target_of(BOX) == (Target.BOX, None)
    assert target_of(COUPLED) == (Target.L2, None)
    # Any style that implies a radius gets the box, whatever its name.
    assert target_of(replace(BOX, decay="independent")) == (Target.BOX, None)


def test_every_reason_for_no_target_with_its_phrase():
    cases = {
        Outside.ZERO_DECAY: (replace(BOX, weight_decay=0.0, radius=None), "λ = 0"),
        Outside.NO_DECAY: (replace(BOX, decay="none"), "no weight decay"),
        Outside.NO_RADIUS: (replace(BOX, decay="fixed", radius=None),
                            "fixed decay implies no box"),
        Outside.NON_LINF_DIRECTION: (replace(BOX, norm="l2"), "l2-norm direction"),
        Outside.NON_THEOREM_SCHEDULE: (replace(BOX, schedule="cosine", schedule_theorem=False),
                                       "cosine is not a theorem schedule"),
        Outside.UNKNOWN_SCHEDULE: (replace(BOX, schedule_theorem=None),
                                   "schedule not recorded"),
    }
    assert set(cases) == set(Outside)
    for reason, (s, phrase) in cases.items():
        assert target_of(s) == (None, reason), reason
        assert why_outside(reason, s) == phrase
    # Coupled decay at λ = 0 has no target either.
    assert target_of(replace(COUPLED, weight_decay=0.0)) == (None, Outside.ZERO_DECAY)


def test_setting_from_records_of_both_schema_versions():
    record = next(r for r in synthetic_records(tasks=("quadratic",), optimizers=("adamw",),
                                               grid=2, evals=3, failed=0)
                  if r["config"]["weight_decay"] == 0.03)
    new = setting(flatten(record))
    assert new == replace(BOX, weight_decay=0.03, radius=1 / 0.03)
    old = {**record, "schema": 1, "optimizer": dict(record["optimizer"]), "schedule": {
        "name": record["schedule"]["name"],
        "theorem_conditions": record["schedule"]["schedule_theorem"]}}
    old["optimizer"]["decay_style"] = old["optimizer"].pop("decay")
    old.pop("code_fingerprint")
    assert setting(flatten(old)) == new


def test_setting_reads_flat_rows_with_pandas_values():
    import numpy as np

    row = {"decay": "decoupled", "norm": "linf", "weight_decay": np.float64(0.1),
           "radius": np.float64("nan"), "schedule": "constant", "schedule_theorem": 1.0}
    s = setting(row)
    assert (s.radius, s.schedule_theorem, s.weight_decay) == (None, True, 0.1)
    assert target_of(s) == (None, Outside.NO_RADIUS)
    assert as_flag(np.bool_(False)) is False and as_flag("yes") is None
