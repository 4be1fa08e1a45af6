"""Claim 11. Defazio, "Why Gradients Rapidly Increase Near the End of Training" (2025, arXiv
2506.02285), AdamC: in a layer followed by a normalization, AdamW's steady state has
‖g‖/‖x‖ ≈ √(2λ/η_t), so under a schedule that takes η_t to 0 (cosine) the ratio rises at the
end of training; corrected decay λ_t = λη_t/η_max keeps it at √(2λ/η_max), flat.

Measured per trial from its curve (bench/claims/layers.py): at each evaluation point the mean
log ‖g‖/‖x‖ over the scale-invariant decayed tensors; `rise` = exp(mean over the last quarter
of the run − mean over the second quarter) (the second quarter: past the start-up, the lr
still at least half its peak under cosine), once the first quarter has spanned
EQUILIBRIUM_TAUS EMA timescales (the steady state the argument is about).

Cases: corrected-decay configurations at λ > 0, each with its decoupled partner (same
direction, lr, λ, schedule and setting; bench/claims/pairs.py). Statistic: the corrected
run's rise, mean over seeds; holds when its 95% interval lies within [1/RISE, RISE] and the
decoupled partner's rise lies at or above RISE (judging.combine: both must hold).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims import conditions, judging, layers, pairs, records
from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Statistic, SuiteRun

CLAIM_ID = "11"
RISE = 1.5  # a 50% change of ‖g‖/‖x‖ between the quarters: risen (AdamW) or not flat
MIN_POINTS = 2  # evaluation points each quarter needs
EQUILIBRIUM_TAUS = 3.0  # the second quarter starts after this many τ_iter at the peak lr
DECAYED_TO = 0.1  # the schedule's last lr at or below this share of its peak: it decays to ~0
STATISTIC = Statistic("grad_ratio_rise", "‖g‖/‖x‖ of the scale-invariant layers, last quarter "
                      "of the run over its second quarter (geometric means), under corrected "
                      "decay; mean over seeds (and AdamW's rise ≥ RISE)", (1 / RISE, RISE))
ADAMW = Statistic("grad_ratio_rise", "the same rise under decoupled decay (AdamW)", (RISE, None))
SUITE = "adamc_cosine"


def rise(trial: records.TrialView, names: Sequence[str]) -> tuple[float | None, int]:
    """(rise of ‖g‖/‖x‖, points in the smaller quarter) of one trial."""
    steps = records.number((trial.record.get("timing") or {}).get("steps_done"))
    last = max((records.number(p.get("step")) or 0.0 for p in trial.curve), default=0.0)
    total = steps or last
    if not total:
        return None, 0
    second = [layers.log_ratio(p, names) for p in layers.points(trial, total / 4, total / 2)]
    end = [layers.log_ratio(p, names) for p in layers.points(trial, 3 * total / 4, total)]
    second, end = [v for v in second if v is not None], [v for v in end if v is not None]
    if not second or not end:
        return None, min(len(second), len(end))
    return math.exp(sum(end) / len(end) - sum(second) / len(second)), min(len(second),
                                                                          len(end))


def decays_to_zero(case: records.Case) -> conditions.Check:
    """The schedule takes η_t (nearly) to 0 by the end, and a normalized layer is decayed."""
    first = case.first
    last = next((records.number(p.get("scheduled_lr")) for p in reversed(first.curve)
                 if records.number(p.get("scheduled_lr")) is not None), None)
    if first.lr is None or last is None or last > DECAYED_TO * first.lr:
        return conditions.Check(False, f"schedule {first.row.get('schedule')} ends at lr "
                                       f"{last} (the claim is about η_t → 0: cosine)",
                                {"last_lr": last})
    names = layers.scale_invariant(first)
    if not names:
        return conditions.Check(False, "no scale-invariant decayed tensor (the claim is about "
                                       "layers followed by a normalization)")
    return conditions.Check(True, f"{first.row.get('schedule')} to lr {last:g}, "
                                  f"{len(names)} scale-invariant layers",
                            {"scale_invariant": names, "last_lr": last})


def steady(case: records.Case) -> conditions.Check:
    """The weight norms could reach their equilibrium before the quarters compared: the run's
    first quarter spans EQUILIBRIUM_TAUS EMA timescales τ_iter = 1/(η_max λ) (the steady-state
    argument is about that equilibrium)."""
    first = case.first
    tau = records.number(first.row.get("tau_iter"))
    steps = records.number((first.record.get("timing") or {}).get("steps_done"))
    steps = steps or records.number(first.config.get("steps"))
    if tau is None or not steps:
        return conditions.Check(False, "no EMA timescale or step count recorded")
    numbers = {"tau_iter": tau, "steps": steps}
    if steps / 4 < EQUILIBRIUM_TAUS * tau:
        return conditions.Check(False, f"{steps:g} steps: the first quarter is shorter than "
                                       f"{EQUILIBRIUM_TAUS:g} τ_iter = "
                                       f"{EQUILIBRIUM_TAUS * tau:g} steps (no equilibrium "
                                       "before the quarters compared)", numbers)
    return conditions.Check(True, f"first quarter ≥ {EQUILIBRIUM_TAUS:g} τ_iter", numbers)


def judge_side(case: records.Case, statistic: Statistic) -> CaseVerdict:
    applicable = decays_to_zero(case)
    names = applicable.numbers.get("scale_invariant", [])
    measured = [rise(t, names) for t in case.done]
    values = [r for r, _ in measured if r is not None]
    fewest = min((n for _, n in measured), default=0)
    window = conditions.Check(fewest >= MIN_POINTS, f"{fewest} evaluation point(s) in a "
                                                    f"quarter of the run (needs {MIN_POINTS})",
                              {"points_per_quarter": fewest})
    return judging.decide(case, statistic, applicable, [steady(case), window],
                          {f"{case.first.optimizer}_rise_per_seed": values}, values=values)


def stays_flat(case: records.Case, trials: Sequence[records.TrialView]) -> CaseVerdict:
    """Corrected decay's ratio stays flat, and its decoupled partner's rises."""
    theirs = pairs.judged_partner(case, trials, "decoupled", lambda p: judge_side(p, ADAMW),
                                  "no decoupled run at this lr, λ and schedule to show the "
                                  "rise corrected decay removes")
    return judging.combine(judge_side(case, STATISTIC), theirs)


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    return judging.judge_cases(CLAIM_ID, STATISTIC, recs,
                               lambda t: t.row.get("decay") == "corrected", stays_flat)


CLAIM = Claim(
    id=CLAIM_ID, slug="adamc-flat-ratio",
    title="Under cosine, AdamW's ‖g‖/‖x‖ rises at the end; corrected decay keeps it flat",
    source="Defazio, Why Gradients Rapidly Increase Near the End of Training, 2025 (arXiv "
           "2506.02285), AdamC",
    statement="In layers followed by a normalization, AdamW's gradient-to-weight ratio "
              f"‖g‖/‖x‖ rises by at least {RISE:g}× from the second to the last quarter of a "
              "cosine schedule, while AdamC's corrected decay λ_t = λη_t/η_max keeps it "
              f"within a factor {RISE:g}.",
    preconditions=("corrected decay, λ > 0, with a decoupled run at the same lr, λ and "
                   "schedule", "a schedule that takes η_t to ~0 (last lr ≤ "
                   f"{DECAYED_TO:g} η_max)", "at least one scale-invariant decayed layer",
                   f"equilibrium: the first quarter spans {EQUILIBRIUM_TAUS:g} τ_iter = "
                   "1/(η_max λ)", f"{MIN_POINTS} evaluation points in each quarter compared"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(SUITE, "smoke", {"steps": 40, "eval_every": 5,
                                              "task.train_size": 512}),),
          "cpu": (SuiteRun(SUITE, "smoke"),),
          "full": (SuiteRun(SUITE, "full", {"steps": 20000, "eval_every": 500,
                                            "task.model": "resnet20", "task.width": None,
                                            "task.train_size": None,
                                            "task.val_size": None, "task.test_size": None,
                                            "task.augment": True}),)},
    judge=judge)
