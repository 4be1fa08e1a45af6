"""Claims 4-6 (Adam + ℓ2 stationarity, Lion-𝒦's box, Muon's spectral ball): every outcome from
hand-built records (tests/bench/claims/builders.py)."""

from __future__ import annotations

from bench.claims import adam_l2, lion_k, muon_ball
from bench.claims.base import Outcome
from tests.bench.claims.builders import seeds

STATIONARY = {"l2_stationarity": 1e-4, "linf_ratio": 2.0}
SOLVED = {"linf_ratio": 1.0, "linf_norm": 0.5, "kkt_residual": 1e-4}
UNCONSTRAINED = {"linf_norm": 1.3}
MATRIX = {"task": "matrix_quadratic", "instance": {"c_sigma_max": 2.0}}
ON_BALL = {"spectral_ratio": 1.0, "ball_kkt_residual": 1e-4}


def test_adam_l2_every_outcome():
    holds = adam_l2.judge(seeds(3, optimizer="adam_l2", final=STATIONARY))
    assert holds.outcome is Outcome.HOLDS, holds.reason
    assert "|l2_stationarity| 0.0001 ≤ 0.01" in holds.reason  # converged by its own residual
    far = {"l2_stationarity": 0.3, "linf_ratio": 2.0}
    violated = adam_l2.judge(seeds(3, optimizer="adam_l2", final=far))
    assert violated.outcome is Outcome.VIOLATED and "outside ≤ 0.05" in violated.reason
    moving = adam_l2.judge(seeds(3, optimizer="adam_l2", final=far, change=0.1))
    assert moving.outcome is Outcome.INCONCLUSIVE and "not converged" in moving.reason
    sign = adam_l2.judge(seeds(3, optimizer="signgd_l2", final=STATIONARY))
    assert sign.outcome is Outcome.NOT_APPLICABLE and "sign direction" in sign.reason
    # Decoupled trials are not this claim's cases at all.
    assert adam_l2.judge(seeds(3, final=STATIONARY)).cases == ()


def lion_runs(final=SOLVED, lambda0=UNCONSTRAINED, **kw):
    return (seeds(3, optimizer="lion", final=final, **kw)
            + seeds(3, optimizer="lion", weight_decay=0.0, final=lambda0, **kw))


def test_lion_k_every_outcome():
    holds = lion_k.judge(lion_runs())
    assert holds.outcome is Outcome.HOLDS, holds.reason
    assert "kkt_residual" in holds.reason and "linf_ratio" in holds.reason
    outside = lion_k.judge(lion_runs(final={**SOLVED, "linf_ratio": 1.3}))
    assert outside.outcome is Outcome.VIOLATED and "linf_ratio 1.3" in outside.reason
    unbound = lion_k.judge(lion_runs(lambda0={"linf_norm": 0.2}))
    assert unbound.outcome is Outcome.INCONCLUSIVE and "cannot bind" in unbound.reason
    minibatch = lion_k.judge(lion_runs(steps_per_epoch=32))
    assert minibatch.outcome is Outcome.NOT_APPLICABLE
    assert "minibatch gradients" in minibatch.reason
    # AdamW and SignGD are claim 1's and 2's: Lion's claim reads Lion only.
    assert lion_k.judge(seeds(3, final=SOLVED)).outcome is Outcome.INCONCLUSIVE


def muon(orthogonalize="svd", final=ON_BALL, **kw):
    options = {"orthogonalize": orthogonalize}
    return seeds(3, optimizer="muon", final=final, optimizer_options=options,
                 **{**MATRIX, **kw})


def test_muon_ball_every_outcome():
    holds = muon_ball.judge(muon())
    assert holds.outcome is Outcome.HOLDS, holds.reason
    assert "λσ_max(C)/s = 4 > 1" in holds.reason
    past = {"spectral_ratio": 1.133, "ball_kkt_residual": 0.2}
    violated = muon_ball.judge(muon(final=past))
    assert violated.outcome is Outcome.VIOLATED and "outside [0.99, 1.01]" in violated.reason
    small = muon_ball.judge(muon(instance={"c_sigma_max": 0.3}))
    assert small.outcome is Outcome.INCONCLUSIVE and "the ball cannot bind" in small.reason
    newton = muon_ball.judge(muon("newton_schulz", final=past))
    assert newton.outcome is Outcome.NOT_APPLICABLE
    assert "orthogonalize=newton_schulz approximates" in newton.reason
    assert abs(newton.statistic - 1.133) < 1e-12 and newton.interval is not None
    both = muon_ball.judge(muon() + muon("newton_schulz", final=past))
    assert both.outcome is Outcome.HOLDS and "1 case(s) not applicable" in both.reason
