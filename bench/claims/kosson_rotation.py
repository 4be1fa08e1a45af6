"""Claim 10. Kosson, Messmer & Jaggi, "Rotational Equilibrium: How Weight Decay Balances
Learning Across Neural Networks" (ICML 2024, arXiv 2305.17212): with decoupled decay a
scale-invariant layer's weight norm and angular update reach an equilibrium, √(2ηλ) per step
for AdamW whatever the layer, so every normalized layer rotates alike; with an ℓ2 penalty
(Adam + ℓ2) the equilibrium depends on each layer's gradient size and the layers do not.

Measured per evaluation point: the spread (std/mean) of one step's angular update across the
scale-invariant decayed tensors (bench/claims/layers.py: the probe gradient orthogonal to the
tensor at every point), averaged over the equilibrium window: points after EQUILIBRIUM_TAUS
EMA timescales τ_iter = 1/(ηλ) of the decoupled run, while the lr is at least half its peak.

Cases: decoupled configurations with an EMA timescale at λ > 0, paired per seed with each
Adam + ℓ2 configuration at the same lr and settings (its own λ; bench/claims/pairs.py).
Statistic: cv(Adam + ℓ2) − cv(AdamW) per seed, mean with its 95% interval; holds when the
interval lies at or above CV_MARGIN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bench.claims import conditions, judging, layers, pairs, records
from bench.claims.base import Claim, ClaimVerdict, Statistic, SuiteRun

CLAIM_ID = "10"
CV_MARGIN = 0.1  # Adam + ℓ2's spread must exceed AdamW's by at least this much
EQUILIBRIUM_TAUS = 3.0  # the window starts after this many EMA timescales
MIN_POINTS = 3  # evaluation points the window needs
STATISTIC = Statistic("angular_update_cv_gap", "cv(Adam + ℓ2) − cv(AdamW) of one step's "
                      "angular update across scale-invariant layers, averaged over the "
                      "equilibrium window, per seed; mean over seeds", (CV_MARGIN, None))
SUITE = "kosson_rotation"


def window_cv(trial: records.TrialView, names: Sequence[str], start: float,
              lr_floor: float) -> tuple[float | None, int]:
    """(mean cv over the window, points used)."""
    values = [layers.angular_cv(p, names) for p in layers.points(trial, start,
                                                                  lr_floor=lr_floor)]
    values = [v for v in values if v is not None]
    return layers.mean_over(values), len(values)


def normalized_layers(case: records.Case) -> conditions.Check:
    names = layers.scale_invariant(case.first)
    if len(names) < 2:
        return conditions.Check(False, f"{len(names)} scale-invariant decayed tensor(s) (the "
                                       "claim compares normalized layers; it needs two)",
                                {"scale_invariant": names})
    return conditions.Check(True, f"{len(names)} scale-invariant layers",
                            {"scale_invariant": names})


def compare(case: records.Case, partner: records.Case) -> Any:
    """The verdict on one AdamW configuration against one Adam + ℓ2 configuration."""
    first = case.first
    tau = records.number(first.row.get("tau_iter"))
    applicable = normalized_layers(case)
    names = applicable.numbers.get("scale_invariant", [])
    start = EQUILIBRIUM_TAUS * tau if tau is not None else float("inf")
    lr_floor = 0.5 * first.lr if first.lr is not None else None
    mine, theirs, counts = {}, {}, []
    for t in case.done:
        mine[t.seed], n = window_cv(t, names, start, lr_floor)
        counts.append(n)
    for t in partner.done:
        theirs[t.seed], _ = window_cv(t, names, start, lr_floor)
    both = pairs.paired(mine, theirs)
    reach = conditions.Check(
        bool(counts) and min(counts) >= MIN_POINTS,
        f"{min(counts, default=0)} evaluation point(s) after {EQUILIBRIUM_TAUS:g} τ_iter = "
        f"{start:g} steps at lr ≥ η_max/2 (the window needs {MIN_POINTS})",
        {"tau_iter": tau, "window_start": start, "window_points": min(counts, default=0)})
    numbers = {"adamw_cv": layers.mean_over(list(both.mine)),
               "adam_l2_cv": layers.mean_over(list(both.theirs)),
               "adam_l2_weight_decay": partner.first.weight_decay,
               "seeds_paired": len(both.seeds)}
    verdict = judging.decide(records.Case(case.trials + partner.trials), STATISTIC,
                             applicable, [reach], numbers, values=both.differences)
    return replace(verdict, optimizer=first.optimizer, variant=first.variant,
                   reason=f"vs {partner.first.optimizer} λ={partner.first.weight_decay:g}: "
                          f"{verdict.reason}")


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    trials, cases = judging.decayed_cases(recs, lambda t: t.row.get("decay") == "decoupled")
    return judging.aggregate(CLAIM_ID, STATISTIC, [
        compare(case, partner) for case in cases
        for partner in pairs.partner_cases(case, trials, "coupled", differ=records.DECAY_FIELDS)
        if partner.first.weight_decay > 0])


CLAIM = Claim(
    id=CLAIM_ID, slug="kosson-rotation",
    title="AdamW balances angular updates across layers; Adam + ℓ2 does not",
    source="Kosson, Messmer & Jaggi, Rotational Equilibrium: How Weight Decay Balances "
           "Learning Across Neural Networks, ICML 2024 (arXiv 2305.17212)",
    statement="In rotational equilibrium AdamW rotates every scale-invariant layer by about "
              "the same angle per step (a low coefficient of variation across layers), while "
              "Adam + ℓ2 at the same lr does not: cv(Adam + ℓ2) − cv(AdamW) ≥ "
              f"{CV_MARGIN:g}.",
    preconditions=("decoupled decay with an EMA timescale, λ > 0, and Adam + ℓ2 (λ > 0) at "
                   "the same lr and setting, seeds paired",
                   "at least two scale-invariant decayed layers (probe gradient orthogonal "
                   "to the weights)",
                   f"equilibrium: {MIN_POINTS} evaluation points after {EQUILIBRIUM_TAUS:g} "
                   "τ_iter = 1/(ηλ), at lr ≥ η_max/2"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(SUITE, "smoke", {"steps": 30, "eval_every": 10,
                                              "task.train_size": 512}),),
          "cpu": (SuiteRun(SUITE, "smoke"),),
          "full": (SuiteRun(SUITE, "full", {"steps": 20000, "eval_every": 500,
                                            "task.model": "resnet20", "task.width": None,
                                            "task.train_size": None, "task.val_size": None,
                                            "task.test_size": None, "task.augment": True}),)},
    judge=judge)
