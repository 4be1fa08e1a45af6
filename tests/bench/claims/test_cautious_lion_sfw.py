"""Claims 7 (cautious decay keeps the loss) and 12 (Lion as stochastic Frank-Wolfe): every
outcome from hand-built records (tests/bench/claims/builders.py)."""

from __future__ import annotations

from bench.claims import cautious, lion_sfw
from bench.claims.base import Outcome
from tests.bench.claims.builders import seeds

AT_C = {"dist_opt": 3e-4, "dist_box": 0.546, "linf_norm": 1.73, "linf_ratio": 3.46}
AT_BOX = {"dist_opt": 0.546, "dist_box": 3e-5, "linf_norm": 0.5, "linf_ratio": 1.0,
          "kkt_residual": 1e-5}
UNCONSTRAINED = {"dist_opt": 5e-6, "linf_norm": 1.73}  # λ = 0: c, outside the box 1/2


def cautious_runs(final=AT_C, partner=AT_BOX, lambda0=UNCONSTRAINED, **kw):
    out = []
    for name, end in (("adamw_cautious", final), ("adamw", partner)):
        if end is None:
            continue
        out += seeds(3, optimizer=name, final=end, **kw)
        out += seeds(3, optimizer=name, weight_decay=0.0, final=lambda0, **kw)
    return out


def test_cautious_holds_at_c_while_adamw_holds_the_box():
    v = cautious.judge(cautious_runs())
    assert v.outcome is Outcome.HOLDS, v.reason
    assert len(v.cases) == 1 and v.statistic == 3e-4 and v.interval == (3e-4, 3e-4)
    assert "at λ = 0 ‖x‖∞ reaches 1.73 > r = 0.5" in v.reason  # binds at 1/λ, no own radius
    assert "decoupled adamw: dist_box 3e-05" in v.reason
    assert len(v.trials) == 12  # both sides and both λ = 0 references


def test_cautious_at_the_box_optimum_is_violated():
    v = cautious.judge(cautious_runs(final={**AT_BOX, "kkt_residual": 0.5}))
    assert v.outcome is Outcome.VIOLATED and "dist_opt 0.546" in v.reason, v.reason


def test_a_decoupled_partner_off_its_box_violates_the_contrast():
    v = cautious.judge(cautious_runs(partner={**AT_BOX, "dist_box": 0.3}))
    assert v.outcome is Outcome.VIOLATED and "dist_box 0.3 " in v.reason, v.reason


def test_cautious_inconclusive_without_partner_binding_or_convergence():
    alone = cautious.judge(cautious_runs(partner=None))
    assert alone.outcome is Outcome.INCONCLUSIVE and "no decoupled run" in alone.reason
    inside = cautious.judge(cautious_runs(lambda0={"dist_opt": 0.0, "linf_norm": 0.3}))
    assert inside.outcome is Outcome.INCONCLUSIVE and "cannot bind" in inside.reason
    moving = cautious.judge(cautious_runs(final={**AT_C, "dist_opt": 0.2}, change=0.1))
    assert moving.outcome is Outcome.INCONCLUSIVE and "not converged" in moving.reason


def test_cautious_not_applicable_on_minibatches():
    v = cautious.judge(cautious_runs(steps_per_epoch=32))
    assert v.outcome is Outcome.NOT_APPLICABLE and "minibatch gradients" in v.reason
    assert cautious.judge([]).outcome is Outcome.INCONCLUSIVE  # nothing recorded


NOISY = {"steps_per_epoch": 32, "task_options": {"noise": 0.5}}
SOLVED = {"kkt_residual": 2.5e-3, "linf_ratio": 1.0, "linf_norm": 0.5}
LEAVES = {"linf_norm": 1.73}


def lion_runs(final=SOLVED, lambda0=LEAVES, **kw):
    kw = {**NOISY, **kw}
    return (seeds(3, optimizer="lion", final=final, **kw)
            + seeds(3, optimizer="lion", weight_decay=0.0, final=lambda0, **kw))


def test_lion_sfw_every_outcome():
    holds = lion_sfw.judge(lion_runs())
    assert holds.outcome is Outcome.HOLDS, holds.reason
    assert holds.statistic == 2.5e-3 and "linf_ratio 1" in holds.reason
    stuck = lion_sfw.judge(lion_runs(final={**SOLVED, "kkt_residual": 0.3}))
    assert stuck.outcome is Outcome.VIOLATED and "outside [-0.01, 0.01]" in stuck.reason
    moving = lion_sfw.judge(lion_runs(final={**SOLVED, "kkt_residual": 0.05}, change=0.2))
    assert moving.outcome is Outcome.INCONCLUSIVE and "not converged" in moving.reason
    full_batch = lion_sfw.judge(lion_runs(steps_per_epoch=1))
    assert full_batch.outcome is Outcome.NOT_APPLICABLE
    assert "full-batch gradients" in full_batch.reason and "claim 5" in full_batch.reason
    # Other directions are not this claim's cases.
    assert lion_sfw.judge(seeds(3, final=SOLVED, **NOISY)).cases == ()
