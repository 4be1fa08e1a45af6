"""Verdicts (bench/analysis/verdicts.py) in words: a short cell text and the full reading on hover.
Words only; what a verdict is was decided before."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.analysis.verdicts import STATIONARY_TOL, Claim, Reason, Verdict


def _ctx(context: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(context.get(k)) for k in ("schedule", "norm", "decay")}


def short(v: Verdict, context: Mapping[str, Any]) -> str:
    """'✓ inside the box', 'no claim (cosine schedule)', ..."""
    c = _ctx(context)
    return {
        Reason.INSIDE_BOX: "✓ inside the box",
        Reason.OUTSIDE_BOX: "✗ outside the box",
        Reason.L2_STATIONARY: "✓ ℓ2-stationary",
        Reason.NOT_L2_STATIONARY: "✗ not ℓ2-stationary",
        Reason.ZERO_DECAY: "no box (λ = 0)",
        Reason.NO_DECAY: "no claim (no decay)",
        Reason.NO_RADIUS: f"no claim ({c['decay']} implies no box)",
        Reason.NON_LINF_DIRECTION: f"no claim ({c['norm']}-norm direction)",
        Reason.NON_THEOREM_SCHEDULE: f"no claim ({c['schedule']} schedule)",
        Reason.UNKNOWN_SCHEDULE: "no claim (schedule not recorded)",
        Reason.ALL_DIVERGED: "no data (all diverged)",
        Reason.NOT_FINISHED: "no data (none finished)",
        Reason.MISSING_METRICS: "no data (metric not recorded)",
    }[v.reason]


def why_no_claim(v: Verdict, context: Mapping[str, Any]) -> str:
    """The reason of a no-claim verdict as a phrase: 'cosine is not a theorem schedule'."""
    c = _ctx(context)
    return {
        Reason.ZERO_DECAY: "λ = 0",
        Reason.NO_DECAY: "no weight decay",
        Reason.NO_RADIUS: f"{c['decay']} decay implies no box",
        Reason.NON_LINF_DIRECTION: f"{c['norm']}-norm direction",
        Reason.NON_THEOREM_SCHEDULE: f"{c['schedule']} is not a theorem schedule",
        Reason.UNKNOWN_SCHEDULE: "schedule not recorded",
    }.get(v.reason, v.reason.value)


def _box_observation(o: Mapping[str, Any]) -> str:
    n, inside = o["inside_of"], o["inside"]
    if not n:
        return "no linf_ratio recorded"
    if inside == n:
        return f"all {n} inside the box"
    return f"{n - inside} of {n} outside the box (max linf_ratio {o['max_linf_ratio']:.3g})"


def sentence(v: Verdict, context: Mapping[str, Any]) -> str:
    """The full reading: what theory claims here, what was observed."""
    c, o = _ctx(context), v.observed
    box = _box_observation(o)
    stat = o.get("l2_stationarity")
    text = {
        Reason.INSIDE_BOX: f"agrees with theory: {box} under {c['schedule']}, a schedule "
                           "meeting the theorem's conditions",
        Reason.OUTSIDE_BOX: f"disagrees with theory: {box} under {c['schedule']}, a schedule "
                            "meeting the theorem's conditions (not converged?)",
        Reason.L2_STATIONARY: "agrees with theory: near a stationary point of loss + "
                              f"λ/2‖x‖² (median l2_stationarity {stat:.3g})"
                              if stat is not None else "",
        Reason.NOT_L2_STATIONARY: "not (yet) at the coupled target: median l2_stationarity "
                                  f"{stat:.3g} ≥ {STATIONARY_TOL}" if stat is not None else "",
        Reason.ZERO_DECAY: "λ = 0: no box to check",
        Reason.NO_DECAY: "no weight decay: nothing to check",
        Reason.NO_RADIUS: f"{c['decay']} decay implies no box; observed: {box}",
        Reason.NON_LINF_DIRECTION: f"ℓ∞-box theory does not cover a {c['norm']} direction; "
                                   f"observed: {box}",
        Reason.NON_THEOREM_SCHEDULE: f"theory makes no claim: {c['schedule']} is not a "
                                     f"non-increasing schedule with divergent sum; observed: "
                                     f"{box}",
        Reason.UNKNOWN_SCHEDULE: f"the records do not say whether {c['schedule']} meets the "
                                 f"theorem's conditions; observed: {box}",
        Reason.ALL_DIVERGED: f"every one of {o['trials']} trials diverged",
        Reason.NOT_FINISHED: "no finished trial",
        Reason.MISSING_METRICS: "finished trials did not record "
                                + ("linf_ratio" if v.claim is Claim.BOX else "l2_stationarity"),
    }[v.reason]
    if v.claim is Claim.L2 and v.reason in (Reason.L2_STATIONARY, Reason.NOT_L2_STATIONARY):
        text += "; the box does not apply (coupled decay)"
    return text


def agreement_word(claim: Claim | None, agrees: bool) -> str:
    if claim is Claim.L2:
        return "✓ ℓ2-stationary" if agrees else "✗ not ℓ2-stationary"
    return "✓ inside the box" if agrees else "✗ outside the box"
