"""The shared tests every claim runs before its statistic decides (SPEC §3b), with their
thresholds fixed here, before any run:

- `linf_theorem`: Xie & Li's preconditions (an ℓ∞-steepest direction, a decay style with a
  radius, a non-increasing schedule with divergent sum: bench/claims/theory.py:target_of;
  for Adam β1 ≤ β2; full-batch gradients). Failing one: not-applicable.
- `finished`: every seed finished (a diverged or failed seed: inconclusive).
- `enough_seeds`: at least MIN_SEEDS finished seeds recorded the statistic (else the interval
  means nothing: inconclusive).
- `converged`: the claims speak of limits. A trial has converged when its kkt_residual is at
  most KKT_TOL in size, or when over its last evaluation window (the last two curve points) neither
  the training loss, nor ‖x‖∞, nor any decayed tensor's norm ‖W‖ changed by more than
  CHANGE_TOL relative (the ledger keeps no copy of x, so its change is read from these).
- `binds_box` / `binds_spectral`: "inside" means something only where the constraint can bind:
  the same configuration at λ = 0 leaves the ball (its ‖x‖∞ at some evaluation exceeds 1/λ),
  or the unconstrained optimum lies outside it (the matrix quadratic's σ_max(C)).

Each returns a `Check`: ok True / False, the phrase a reason quotes, and the numbers used.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.claims import theory
from bench.claims.records import Case, TrialView, number, twins
from bench.claims.theory import INSIDE_TOL, STATIONARY_TOL

MIN_SEEDS = 3  # fewer finished seeds: no interval worth the name
KKT_TOL = 1e-2  # kkt_residual at or below: the Frank-Wolfe gap fell to 1% of its start
CHANGE_TOL = 1e-2  # relative change over the last evaluation window at or below: settled
BOX_THRESHOLD = 1.0 + INSIDE_TOL  # linf_ratio at or below: inside the box (float round-off)
__all__ = ["BOX_THRESHOLD", "CHANGE_TOL", "KKT_TOL", "MIN_SEEDS", "STATIONARY_TOL", "Check",
           "adam_betas", "binds_box", "binds_spectral", "converged", "enough_seeds",
           "finished", "linf_theorem"]


@dataclass(frozen=True)
class Check:
    ok: bool
    phrase: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    trials: tuple[str, ...] = ()  # ids of trials the check read besides the case's own


def finished(case: Case) -> Check:
    """Every seed of the case finished (diverged or failed seeds cannot speak of a limit)."""
    statuses = [t.status for t in case.trials]
    bad = {s: statuses.count(s) for s in ("diverged", "failed") if s in statuses}
    numbers = {"seeds": len(statuses), **bad}
    if not bad:
        return Check(True, f"all {len(statuses)} seeds finished", numbers)
    said = ", ".join(f"{n} {s}" for s, n in bad.items())
    return Check(False, f"{said} of {len(statuses)} seeds", numbers)


def enough_seeds(values: Sequence[float], metric: str) -> Check:
    n = len(values)
    if n >= MIN_SEEDS:
        return Check(True, f"{n} seeds", {"n": n})
    return Check(False, f"{n} finished seed(s) recorded {metric}, the interval needs "
                        f"{MIN_SEEDS}", {"n": n})


def adam_betas(trial: TrialView) -> tuple[float, float]:
    """(β1, β2) of an Adam-direction trial: the recorded option, else optimizers/adam.py's
    default."""
    betas = trial.optimizer_options.get("betas")
    if betas is None:
        from optimizers.adam import Adam

        betas = inspect.signature(Adam).parameters["betas"].default
    return float(betas[0]), float(betas[1])


def linf_theorem(case: Case) -> Check:
    """Xie & Li's preconditions for the box and KKT claims (SPEC §3b)."""
    first = case.first
    setting = theory.setting(first.row)
    target, outside = theory.target_of(setting)
    if target is theory.Target.L2:
        return Check(False, "coupled decay: its target is ℓ2 stationarity, not the box")
    if target is not theory.Target.BOX:
        return Check(False, theory.why_outside(outside, setting))
    if first.row.get("direction") == "adam":
        beta1, beta2 = adam_betas(first)
        if beta1 > beta2:
            return Check(False, f"β1 = {beta1:g} > β2 = {beta2:g} (the theorem takes "
                                "β1 ≤ β2)", {"beta1": beta1, "beta2": beta2})
    per_epoch = number(first.row.get("steps_per_epoch"))
    if per_epoch != 1:
        return Check(False, f"minibatch gradients ({per_epoch} steps per epoch; the theorem "
                            "is for full-batch gradients)", {"steps_per_epoch": per_epoch})
    return Check(True, "ℓ∞ direction, decoupled radius, theorem schedule, full batch")


def _relative_change(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(b - a) / scale if scale > 0 else 0.0


def _watched(point: Mapping[str, Any], metric: str | None) -> dict[str, float]:
    """The quantities whose change says whether x still moves, at one curve point."""
    out = {}
    for key in ("train_loss", "linf_norm", *((metric,) if metric else ())):
        value = number(point.get(key))
        if value is not None:
            out[key] = value
    norms = ((point.get("rotation") or {}).get("weight_norm") or {})
    out.update({f"‖{name}‖": v for name, v in ((n, number(v)) for n, v in norms.items())
                if v is not None})
    return out


def trial_converged(trial: TrialView, residual_key: str = "kkt_residual",
                    metric: str | None = None) -> Check:
    """One trial: its residual (kkt_residual, or the claim's own optimality residual such as
    l2_stationarity) ≤ KKT_TOL, or every watched quantity settled over the last evaluation
    window (see the module doc). `metric`: the claim's statistic, watched too."""
    kkt = trial.metric(residual_key)
    if kkt is not None and abs(kkt) <= KKT_TOL:
        return Check(True, f"|{residual_key}| {abs(kkt):.2g} ≤ {KKT_TOL:g}", {residual_key: kkt})
    curve = [p for p in trial.curve if number(p.get("step")) is not None]
    if len(curve) < 2:
        return Check(False, "fewer than two evaluations", {residual_key: kkt})
    before, after = _watched(curve[-2], metric), _watched(curve[-1], metric)
    changes = {k: _relative_change(before[k], after[k]) for k in after if k in before}
    if not changes:
        return Check(False, "no quantity recorded at the last two evaluations")
    worst = max(changes, key=changes.get)
    window = f"steps {int(curve[-2]['step'])}–{int(curve[-1]['step'])}"
    numbers = {residual_key: kkt, "max_relative_change": changes[worst], "changed_most": worst}
    if changes[worst] <= CHANGE_TOL:
        return Check(True, f"settled over {window} (largest relative change "
                           f"{changes[worst]:.2g}, {worst})", numbers)
    residual = f", {residual_key} {kkt:.2g} > {KKT_TOL:g}" if kkt is not None else ""
    return Check(False, f"{worst} still moves {changes[worst]:.2g} relative over {window}"
                        f"{residual}", numbers)


def converged(case: Case, residual_key: str = "kkt_residual",
              metric: str | None = None) -> Check:
    """Every finished seed of the case converged (the first that did not is quoted)."""
    checks = [trial_converged(t, residual_key, metric) for t in case.done]
    if not checks:
        return Check(False, "no finished seed")
    for t, check in zip(case.done, checks):
        if not check.ok:
            return Check(False, f"not converged (seed {t.seed}: {check.phrase})",
                         dict(check.numbers))
    worst = max((c.numbers.get("max_relative_change") or 0.0) for c in checks)
    return Check(True, f"converged ({checks[0].phrase})",
                 {"max_relative_change": worst, **{k: v for k, v in checks[0].numbers.items()
                                                   if k == residual_key}})


def _max_linf_norm(trial: TrialView) -> float | None:
    values = [number(p.get("linf_norm")) for p in trial.curve] + [trial.metric("linf_norm")]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def binds_box(case: Case, trials: Sequence[TrialView]) -> Check:
    """The same configuration at λ = 0 leaves the ℓ∞ ball of radius r (its largest ‖x‖∞ over
    the run, mean over the case's seeds, above r)."""
    radius = case.first.radius
    if radius is None:
        return Check(False, "no radius recorded")
    used = [t for t in twins(case, trials) if t.status == "done"
            and _max_linf_norm(t) is not None]
    if not used:
        return Check(False, "no λ = 0 run of this configuration to show that the box can "
                            "bind", {"radius": radius})
    reach = sum(_max_linf_norm(t) for t in used) / len(used)
    numbers = {"radius": radius, "lambda0_linf_norm": reach, "lambda0_seeds": len(used)}
    ids = tuple(t.id for t in used)
    if reach > radius:
        return Check(True, f"at λ = 0 ‖x‖∞ reaches {reach:.3g} > r = {radius:.3g}", numbers,
                     ids)
    return Check(False, f"the box cannot bind: at λ = 0 ‖x‖∞ reaches only {reach:.3g} ≤ "
                        f"r = {radius:.3g}", numbers, ids)


def binds_spectral(case: Case) -> Check:
    """The unconstrained optimum C lies outside the spectral ball: λ·σ_max(C)/s > 1 (the
    matrix quadratic records σ_max(C) as task.instance.c_sigma_max, s as spectral_scale)."""
    first = case.first
    sigma = number(first.instance.get("c_sigma_max"))
    scale = number(first.task_options.get("spectral_scale")) or 1.0
    if sigma is None or first.weight_decay <= 0:
        return Check(False, "the records do not state the unconstrained optimum's σ_max")
    reach = first.weight_decay * sigma / scale
    numbers = {"unconstrained_spectral_ratio": reach}
    if reach > 1:
        return Check(True, f"λσ_max(C)/s = {reach:.3g} > 1", numbers)
    return Check(False, f"the ball cannot bind: λσ_max(C)/s = {reach:.3g} ≤ 1", numbers)
