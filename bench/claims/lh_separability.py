"""Claim 8. Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019, arXiv
1711.05101): decoupling weight decay from the gradient makes the best weight decay nearly
independent of the learning rate (the lr × λ basin is aligned with the axes), where with an
ℓ2 penalty (Adam + ℓ2) the best λ moves with the lr.

Their AdamW decays by η_t·λ with η_t the schedule multiplier, not the lr: in torch's
parametrization (decay η·λ, `decoupled`) their λ is η·λ, so the decay axis is η·λ for
`decoupled` grids, λ for `independent` ones (their own form) and λ for coupled ones. A suite
that gives `tau` = 1/(ηλ) puts every lr on the same η·λ values.

Per seed, each grid's best decay at every lr on the validation loss (SCORE; the report's table
uses the task's selection metric, but validation accuracy on the small validation sets of a
cpu budget moves between neighbouring cells by less than its seed-to-seed noise), and how many
decades it moves across lrs: separability.numbers, the numbers of the report's separability
table (bench/claims/grids.py). Cases: decoupled (or independent) grids over at least two lrs, each
paired with the Adam + ℓ2 grid of the same direction and setting. Statistic: decades the
coupled best λ moves minus decades the decoupled best decay moves, per seed; holds when the
95% interval lies at or above SEPARATION_MIN. Gate: at every lr, each grid's best decay (mean
over seeds) lies inside the grid (at an edge it only bounds the best).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bench.claims import conditions, grids, judging, pairs, records
from bench.claims.base import Claim, ClaimVerdict, Statistic, SuiteRun

CLAIM_ID = "8"
SEPARATION_MIN = 0.25  # decades: the coupled best λ must move this much more (> a quarter)
AXES = ("lr", "weight_decay", "tau")
SCORE = ("val_loss", "min")
STATISTIC = Statistic("best_decay_shift_gap", "decades the best λ of Adam + ℓ2 moves across "
                      "lrs minus decades the best decoupled decay (η·λ; λ for `independent`) "
                      "moves, on the validation loss, per seed; mean over seeds",
                      (SEPARATION_MIN, None))
SUITE = "lh_separability"


def decay_axis(trial: records.TrialView) -> grids.Axis:
    """The decay axis Loshchilov & Hutter's λ is on (see the module doc)."""
    return grids.lr_wd if trial.row.get("decay") == "decoupled" else grids.weight_decay


def inside(grid: records.Case, y: grids.Axis) -> conditions.Check:
    """At every lr the best decay (mean over seeds) lies inside that lr's decay grid: one at
    the grid's edge only bounds where the best is, and a shift between bounds means nothing
    (the smallest decay best everywhere: decay helps nowhere on the grid)."""
    best = grids.pooled_best(grid, grids.lr, y, SCORE)
    name = grid.first.optimizer
    if not best:
        return conditions.Check(False, f"{name}: no finished cell")
    numbers = {f"{name}_best": best}
    for lr, value in best.items():
        at_lr = records.Case(tuple(t for t in grid.trials if t.lr == lr))
        values = grids.axis_values(at_lr, y)
        if value in (values[0], values[-1]):
            side = "smallest" if value == values[0] else "largest"
            return conditions.Check(False, f"{name}: at lr {lr:g} the best decay {value:g} is "
                                           f"the grid's {side}: the best lies beyond it",
                                    numbers)
    return conditions.Check(True, f"{name} best by lr {_pairs(best)}", numbers)


def _pairs(best: Mapping[float, float]) -> str:
    return ", ".join(f"{x:g}→{y:g}" for x, y in best.items())


def two_lrs(grid: records.Case, partner: records.Case) -> conditions.Check:
    shared = sorted(set(grids.axis_values(grid, grids.lr))
                    & set(grids.axis_values(partner, grids.lr)))
    if len(shared) < 2:
        return conditions.Check(False, f"{len(shared)} lr(s) shared by the two grids (the "
                                       "claim compares how the best decay moves across lrs)")
    return conditions.Check(True, f"{len(shared)} lrs", {"lrs": shared})


def compare(grid: records.Case, partner: records.Case) -> Any:
    y = decay_axis(grid.first)
    mine = grids.shift_decades(grid, grids.lr, y, SCORE)
    theirs = grids.shift_decades(partner, grids.lr, grids.weight_decay, SCORE)
    both = pairs.paired(mine, theirs)
    gates = [grids.no_failures(grid), grids.no_failures(partner),
             inside(grid, y), inside(partner, grids.weight_decay)]
    numbers = {"decoupled_shift_decades": list(both.mine),
               "coupled_shift_decades": list(both.theirs), "metric": SCORE[0]}
    both_grids = records.Case(grid.trials + partner.trials)
    done = records.Case(tuple(t for t in both_grids.trials if t.status != "diverged"))
    verdict = judging.decide(done if done.trials else both_grids, STATISTIC,
                             two_lrs(grid, partner), gates, numbers, values=both.differences)
    first = grid.first
    return replace(verdict, optimizer=first.optimizer, variant=first.variant, lr=None,
                   weight_decay=None, trials=tuple(dict.fromkeys(
                       (*verdict.trials, *both_grids.ids))),
                   reason=f"vs {partner.first.optimizer}: {verdict.reason}")


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    trials = records.views(recs)
    decoupled = [t for t in trials if t.row.get("decay") in ("decoupled", "independent")
                 and t.weight_decay > 0]
    verdicts = []
    for grid in grids.grids(decoupled, AXES):
        for partner in grids.grids(pairs.partner_trials(grid, trials, "coupled", AXES), AXES):
            verdicts.append(compare(grid, partner))
    return judging.aggregate(CLAIM_ID, STATISTIC, verdicts)


CLAIM = Claim(
    id=CLAIM_ID, slug="lh-separability",
    title="Decoupled decay makes the best (lr, λ) more separable than an ℓ2 penalty",
    source="Loshchilov & Hutter, Decoupled Weight Decay Regularization, ICLR 2019 (arXiv "
           "1711.05101)",
    statement="Across learning rates, the best decoupled weight decay (their λ: η·λ in torch's "
              "AdamW) moves less than the best ℓ2 penalty of Adam + ℓ2, by at least "
              f"{SEPARATION_MIN:g} decades.",
    preconditions=("a decoupled (or independent) decay grid and an Adam + ℓ2 grid over the "
                   "same ≥ 2 lrs, same direction and setting, seeds paired",
                   "at every lr each grid's best decay lies inside the grid, not at its edge",
                   "no failed trial (diverged cells count as losing)"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(SUITE, "smoke", {"steps": 8, "eval_every": 4,
                                              "task.train_size": 256}),),
          "cpu": (SuiteRun(SUITE, "smoke"),),
          "full": (SuiteRun(SUITE, "full", {"steps": 20000, "eval_every": 1000,
                                            "task.model": "resnet20", "task.width": None,
                                            "task.norm": "batch", "task.train_size": None,
                                            "task.val_size": 5000, "task.test_size": None,
                                            "task.augment": True}),)},
    judge=judge)
