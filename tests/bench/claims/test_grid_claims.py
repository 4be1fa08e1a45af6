"""Claims 8 (Loshchilov & Hutter's separability) and 9 (Wang & Aitchison's τ_epoch across
dataset sizes), judged on hyper-parameter grids: every outcome from hand-built records whose
validation loss is a bowl around a chosen best cell (tests/bench/claims/builders.py)."""

from __future__ import annotations

import math

import pytest

from bench.claims import grids, lh_separability, records, wa_timescale
from bench.claims.base import Outcome
from tests.bench.claims.builders import record

LRS = (1e-3, 1e-2)
TAUS = (3.0, 10.0, 30.0, 100.0, 300.0)  # AdamW's grid: η·λ = 1/τ
L2 = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # Adam + ℓ2's λ grid


def bowl(best: float, value: float, seed: int) -> float:
    """Validation loss: least at `best`, seeds differing by a little."""
    return 1.0 + (math.log10(value) - math.log10(best)) ** 2 + 0.001 * seed


def sep_grid(adamw_best, l2_best, lrs=LRS, status=None):
    """adamw on a τ grid, adam_l2 on a λ grid; *_best(lr) -> the best η·λ (AdamW) or λ."""
    out = []
    for lr in lrs:
        for tau in TAUS:
            for seed in range(3):
                out.append(record("adamw", lr=lr, weight_decay=1 / (lr * tau), tau=tau,
                                  seed=seed, schedule="cosine",
                                  final={"val_loss": bowl(adamw_best(lr), 1 / tau, seed)}))
        for wd in L2:
            for seed in range(3):
                out.append(record("adam_l2", lr=lr, weight_decay=wd, seed=seed,
                                  schedule="cosine",
                                  final={"val_loss": bowl(l2_best(lr), wd, seed)}))
    if status is not None:
        out[0] = record("adamw", lr=lrs[0], weight_decay=1 / (lrs[0] * TAUS[0]), tau=TAUS[0],
                        seed=0, schedule="cosine", status=status)
    return out


def test_separability_holds_when_only_the_coupled_best_moves():
    v = lh_separability.judge(sep_grid(lambda lr: 0.01, lambda lr: lr))
    assert v.outcome is Outcome.HOLDS, v.reason
    (case,) = v.cases
    assert case.lr is None and case.weight_decay is None and case.statistic == pytest.approx(1)
    assert case.numbers["decoupled_shift_decades"] == [0.0] * 3
    assert case.numbers["coupled_shift_decades"] == pytest.approx([1.0] * 3)
    assert "adamw: vs adam_l2:" in v.reason and "adamw best by lr 0.001→0.01" in v.reason
    assert len(v.trials) == 2 * 3 * (len(TAUS) + len(L2))


def test_separability_violated_when_the_decoupled_best_moves_instead():
    v = lh_separability.judge(sep_grid(lambda lr: 10 * lr, lambda lr: 0.01))
    assert v.outcome is Outcome.VIOLATED and v.statistic == pytest.approx(-1), v.reason


def test_separability_inconclusive_where_a_best_decay_is_at_the_grids_edge():
    nowhere = lh_separability.judge(sep_grid(lambda lr: 0.01, lambda lr: 1e-6))
    assert nowhere.outcome is Outcome.INCONCLUSIVE
    assert "adam_l2: at lr 0.001 the best decay 0.0001 is the grid's smallest" in nowhere.reason
    beyond = lh_separability.judge(sep_grid(lambda lr: 0.01 if lr < 0.005 else 3.0,
                                            lambda lr: lr))
    assert beyond.outcome is Outcome.INCONCLUSIVE
    assert "adamw: at lr 0.01 the best decay 0.333333 is the grid's largest" in beyond.reason


def test_separability_inconclusive_where_a_trial_failed():
    failed = lh_separability.judge(sep_grid(lambda lr: 0.01, lambda lr: lr, status="failed"))
    assert failed.outcome is Outcome.INCONCLUSIVE and "1 of 30 grid trials failed" in \
        failed.reason
    # A diverged cell only loses its argmax: the claim still decides.
    diverged = lh_separability.judge(sep_grid(lambda lr: 0.01, lambda lr: lr,
                                              status="diverged"))
    assert diverged.outcome is Outcome.HOLDS and "1 diverged: those cells lose" in \
        diverged.reason


def test_separability_not_applicable_on_one_lr():
    v = lh_separability.judge(sep_grid(lambda lr: 0.01, lambda lr: lr, lrs=(1e-3,)))
    assert v.outcome is Outcome.NOT_APPLICABLE and "1 lr(s) shared" in v.reason


SIZES = (4, 8, 16)  # steps per epoch: 1/4, 1/2 and all of a training set at a fixed batch
TAU_ITERS = (8.0, 16.0, 32.0, 64.0, 128.0, 256.0)


def size_grid(best_tau_epoch, epochs=16, sizes=SIZES, steps_per_epoch=None):
    """AdamW on a τ grid at each size; best_tau_epoch(size) -> the best τ_epoch there."""
    out = []
    for size in sizes:
        per_epoch = steps_per_epoch or size
        for tau in TAU_ITERS:
            for seed in range(3):
                epoch_tau = tau / per_epoch
                out.append(record(
                    "adamw", lr=1e-3, weight_decay=1 / (1e-3 * tau), tau=tau, seed=seed,
                    schedule="cosine", steps_per_epoch=per_epoch,
                    task_options={"train_size": 64 * size},
                    timescale={"tau_iter": tau, "tau_epoch": epoch_tau},
                    steps=epochs * per_epoch if epochs else 256,
                    final={"val_loss": bowl(best_tau_epoch(size), epoch_tau, seed)}))
    return out


def test_tau_epoch_claim_holds_when_the_best_tau_epoch_stays_put():
    v = wa_timescale.judge(size_grid(lambda size: 4.0))
    assert v.outcome is Outcome.HOLDS, v.reason
    (case,) = v.cases
    assert case.statistic == pytest.approx(0) and case.variant == "" and case.lr == 1e-3
    assert "best τ_epoch by steps per epoch: 4→4, 8→4, 16→4" in v.reason
    assert len(v.trials) == len(SIZES) * len(TAU_ITERS) * 3


def test_tau_epoch_claim_violated_when_the_best_tau_iter_stays_put():
    v = wa_timescale.judge(size_grid(lambda size: 64.0 / size))
    assert v.outcome is Outcome.VIOLATED and v.statistic == pytest.approx(-1), v.reason


def test_a_slope_on_the_bands_edge_is_inside_it():
    # best τ_epoch 16, 16, 8 at 4, 8, 16 steps per epoch: slope −1/2 exactly, the band's edge
    # (float sums alone land 1e-16 outside it).
    assert wa_timescale.slope({4.0: 16.0, 8.0: 16.0, 16.0: 8.0}) == -0.5
    v = wa_timescale.judge(size_grid(lambda size: 16.0 if size < 16 else 8.0))
    assert v.outcome is Outcome.HOLDS and v.interval == (-0.5, -0.5), v.reason


def test_tau_epoch_claim_inconclusive_at_the_grids_edge():
    v = wa_timescale.judge(size_grid(lambda size: 1000.0))
    assert v.outcome is Outcome.INCONCLUSIVE and "the grid's edge" in v.reason


@pytest.mark.parametrize("kw, phrase", [
    ({"epochs": None}, "epochs run differ across sizes"),
    ({"steps_per_epoch": 1, "sizes": (1, 2)}, "the claim needs minibatch training"),
])
def test_tau_epoch_claim_not_applicable(kw, phrase):
    v = wa_timescale.judge(size_grid(lambda size: 4.0, **kw))
    assert v.outcome is Outcome.NOT_APPLICABLE and phrase in v.reason, v.reason


def test_slope_and_grids_helpers():
    assert wa_timescale.slope({4: 1.0, 16: 4.0}) == pytest.approx(1.0)
    assert wa_timescale.slope({4: 1.0}) is None
    trials = records.views(sep_grid(lambda lr: 0.01, lambda lr: lr))
    cases = grids.grids(trials, lh_separability.AXES)
    assert [c.first.optimizer for c in cases] == ["adam_l2", "adamw"]
    best = grids.best_by_x(cases[1], grids.lr, grids.lr_wd, ("val_loss", "min"))
    assert best[0] == {1e-3: 0.01, 1e-2: 0.01}
