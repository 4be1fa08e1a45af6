"""Claim 9. Wang & Aitchison, "How to set AdamW's weight decay as you scale model and dataset
size" (ICML 2025, arXiv 2405.13698): AdamW's weights are an EMA of its updates with timescale
τ_iter = 1/(ηλ) steps; the best timescale measured in epochs, τ_epoch = τ_iter/(steps per
epoch), is nearly constant as the dataset grows, so the best λ falls as 1/(dataset size).

Per seed and training-set size, the best τ_epoch on the validation loss (SCORE, as claim 8:
validation accuracy on a cpu budget's small validation sets is noisier than the differences
between neighbouring cells; bench/claims/grids.py, the report's best-by-x); the statistic
is the slope of log(best τ_epoch) against log(steps per epoch), which is ∝ the training-set
size at a fixed batch: 0 if the best τ_epoch is constant (the claim), −1 if instead the best
τ_iter (λ at a fixed lr) were constant. Holds when its 95% interval over seeds lies within
±SLOPE_TOL, the midpoint between the two.

Cases: EMA-timescale grids (decoupled decay, given by `tau` or λ) over at least two
training-set sizes, each size trained for the same number of epochs (so the guideline
1 ≤ τ_epoch ≤ the run's epochs is the same at every size). Gate: at every size the best
τ_epoch (mean over seeds) lies inside the grid, not at its edge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bench.claims import conditions, grids, judging, records
from bench.claims.base import Claim, ClaimVerdict, Statistic, SuiteRun

CLAIM_ID = "9"
SLOPE_TOL = 0.5  # |slope| at or below: constant τ_epoch (0) rather than constant τ_iter (−1)
EPOCHS_TOL = 0.1  # relative spread of the epochs run across sizes, at or below: the same
DIGITS = 9  # decimals the slope keeps (see `slope`)
AXES = ("weight_decay", "tau", "steps", "eval_every", "task.train_size", "task.noise_samples")
SCORE = ("val_loss", "min")
STATISTIC = Statistic("best_tau_epoch_slope", "slope of log(best τ_epoch) on log(steps per "
                      "epoch) across training-set sizes, per seed; mean over seeds",
                      (-SLOPE_TOL, SLOPE_TOL))
SUITE = "wa_timescale"


def steps_per_epoch(trial: records.TrialView) -> float | None:
    return records.number(trial.row.get("steps_per_epoch"))


def epochs(trial: records.TrialView) -> float | None:
    steps = records.number((trial.record.get("timing") or {}).get("steps_done"))
    steps = steps or records.number(trial.config.get("steps"))
    per = steps_per_epoch(trial)
    return steps / per if steps and per else None


def slope(best: Mapping[float, float]) -> float | None:
    """Least-squares slope of log(y) on log(x) over the sizes x (None below two sizes),
    rounded to DIGITS decimals: on grids of powers of 2 the slope is a multiple of 1/2 (−0.5
    for best τ_epoch 16, 16, 8 at 4, 8, 16 steps per epoch), which float sums miss by 1e-16;
    the band's edges are such multiples, so that rounding decides which side it falls."""
    pts = [(math.log(x), math.log(y)) for x, y in best.items() if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx, DIGITS)


def sizes_and_epochs(grid: records.Case) -> conditions.Check:
    """Preconditions: an EMA timescale, minibatches, ≥ 2 sizes, the same epochs at each."""
    first = grid.first
    if records.number(first.row.get("tau_epoch")) is None:
        return conditions.Check(False, f"{first.row.get('decay')} decay has no EMA timescale "
                                       "(the claim is about τ_epoch)")
    sizes = grids.axis_values(grid, steps_per_epoch)
    if len(sizes) < 2 or min(sizes) <= 1:
        return conditions.Check(False, f"steps per epoch {sizes}: the claim needs minibatch "
                                       "training at two training-set sizes at least",
                                {"steps_per_epoch": sizes})
    run = sorted({e for e in (epochs(t) for t in grid.trials) if e is not None})
    if not run or (run[-1] - run[0]) > EPOCHS_TOL * run[-1]:
        return conditions.Check(False, f"epochs run differ across sizes ({run}; the claim "
                                       "compares sizes at the same number of epochs)",
                                {"epochs": run})
    return conditions.Check(True, f"{len(sizes)} sizes ({', '.join(f'{s:g}' for s in sizes)} "
                                  f"steps per epoch), {run[0]:g} epochs each",
                            {"steps_per_epoch": sizes, "epochs": run[0]})


def interior(grid: records.Case) -> conditions.Check:
    """At every size the best τ_epoch (mean over seeds) is inside the τ grid of that size."""
    best = grids.pooled_best(grid, steps_per_epoch, grids.tau_epoch, SCORE)
    numbers = {"best_tau_epoch_by_steps_per_epoch": best}
    for size, tau in best.items():
        at_size = records.Case(tuple(t for t in grid.trials if steps_per_epoch(t) == size))
        values = grids.axis_values(at_size, grids.tau_epoch)
        if tau in (values[0], values[-1]):
            return conditions.Check(False, f"at {size:g} steps per epoch the best τ_epoch "
                                           f"{tau:g} is the grid's edge ({values[0]:g}–"
                                           f"{values[-1]:g}): the best lies beyond it",
                                    numbers)
    return conditions.Check(True, "best τ_epoch by steps per epoch: " + ", ".join(
        f"{s:g}→{t:g}" for s, t in best.items()), numbers)


def judge_grid(grid: records.Case) -> Any:
    per_seed = grids.best_by_x(grid, steps_per_epoch, grids.tau_epoch, SCORE)
    values = [v for v in (slope(best) for best in per_seed.values()) if v is not None]
    done = records.Case(tuple(t for t in grid.trials if t.status != "diverged"))
    verdict = judging.decide(done if done.trials else grid, STATISTIC, sizes_and_epochs(grid),
                             [grids.no_failures(grid), interior(grid)],
                             {"best_tau_epoch_per_seed": per_seed,
                              "metric": SCORE[0]}, values=values)
    # The grid spans the sizes (steps, task.train_size): its variant label would name them.
    return replace(verdict, variant="", lr=grid.first.lr, weight_decay=None, trials=grid.ids)


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    trials = records.views(recs)
    judged = [t for t in trials if t.weight_decay > 0 and t.row.get("decay") != "coupled"]
    return judging.aggregate(CLAIM_ID, STATISTIC,
                             [judge_grid(g) for g in grids.grids(judged, AXES)])


CLAIM = Claim(
    id=CLAIM_ID, slug="wa-tau-epoch",
    title="The best EMA timescale in epochs is the same at every dataset size",
    source="Wang & Aitchison, How to set AdamW's weight decay as you scale model and dataset "
           "size, ICML 2025 (arXiv 2405.13698)",
    statement="AdamW's best τ_epoch = 1/(ηλ·steps per epoch) is nearly constant across "
              "training-set sizes (here 1/4, 1/2 and all of a training set): the slope of "
              f"log best τ_epoch on log size lies within ±{SLOPE_TOL:g} (0: constant; −1: a "
              "constant λ instead).",
    preconditions=("decoupled decay with an EMA timescale, an lr × τ grid at ≥ 2 "
                   "training-set sizes, minibatches", "the same number of epochs at every "
                   "size", "the best τ_epoch inside the grid at every size"),
    statistic=STATISTIC,
    runs={"smoke": tuple(SuiteRun(SUITE, "smoke", {"task.train_size": n, "steps": s,
                                                   "eval_every": s})
                         for n, s in ((128, 4), (256, 8))),
          # 1/4, 1/2 and all of 1,024 images, 16 epochs each at batch 64
          "cpu": tuple(SuiteRun(SUITE, "smoke", {"task.train_size": n, "steps": s,
                                                 "eval_every": s // 2})
                       for n, s in ((256, 64), (512, 128), (1024, 256))),
          # 1/4, 1/2 and all of CIFAR-10's 45k training split, 100 epochs each at batch 128
          "full": tuple(SuiteRun(SUITE, "full", {"task.train_size": n, "steps": s,
                                                 "eval_every": s // 20,
                                                 "task.model": "resnet20",
                                                 "task.width": None, "task.norm": "batch",
                                                 "task.val_size": 5000,
                                                 "task.augment": True})
                        for n, s in ((11250, 8700), (22500, 17500), (45000, 35100)))},
    judge=judge)
