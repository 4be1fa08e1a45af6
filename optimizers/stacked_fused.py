"""Stacked Adam through torch's fused kernel, one call per member and decay group: the very
call a trial alone makes (optimizers/adam.py, impl "fused", every decay style but cautious),
on the member's slices of the stacked tensors, so each member steps bit for bit as alone.

Why not one op set over [T, ...] (optimizers/stacked_steps.py) for every size: on a model of
some size the stacked temporaries no longer fit in the core's cache, and the ten or so passes
over them run from memory, where the fused kernel makes one pass over a member's slices at a
time. Measured on this project's 2-core CPU (`stacked_perf.member_calls_benchmark`, one
thread, AdamW), a step as stacked ops against member by member, T = 16: 200,704 elements a
member 35.2 ms against 3.5 ms; 16,384: 1.71 ms against 0.36; 4,096: 0.14 against 0.18; 256:
31 µs against 148 µs (the calls' overhead). T = 64, 4,096 elements: 0.79 against 0.81 ms.
Members step one by one from `MEMBER_CALLS_MIN` elements a member (all its tensors), near where
the two cross: either costs about the same there, and member calls are bit for bit as alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from optimizers.decay import DecayStyle, decay_terms

MEMBER_CALLS_MIN = 4096  # elements a member (all its tensors) from which members step one by one


def applies(hyper: Mapping[str, Any], params: Mapping[str, Tensor]) -> bool:
    """Whether a stacked Adam group with these resolved options steps member by member: the
    lone trial runs torch's fused kernel (impl "fused", not cautious decay, floating tensors on
    CPU or CUDA, as `adam._fused_supported`) and a member is big enough for one call to pay."""
    tensors = list(params.values())
    return (hyper.get("impl") == "fused"
            and DecayStyle.parse(hyper["decay"]) is not DecayStyle.CAUTIOUS
            and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in tensors)
            and sum(p[0].numel() for p in tensors) >= MEMBER_CALLS_MIN)


def step_members(hyper: Mapping[str, Any], params: Mapping[str, Tensor],
                 state: dict[str, dict[str, Any]], decayed: Mapping[str, bool],
                 lrs: Sequence[float], lr_maxes: Sequence[float],
                 weight_decays: Sequence[float], frozen: set[int]) -> None:
    """One Adam step of every member not in `frozen`, in place, from the params' `.grad`
    (keys without one are skipped, as torch skips a parameter without a gradient).

    Member i: one fused call for its decayed tensors (decay terms at weight_decays[i]) and one
    for the others (at 0), each at lr lrs[i], as the runner's two param groups step alone.
    `state[key]`: {"step": int, "exp_avg": [T, ...], "exp_avg_sq": [T, ...]} (the layout of
    the stacked ops, so a checkpoint of either path resumes on the other)."""
    keys = [k for k, p in params.items() if p.grad is not None]
    if not keys:
        return
    rows: dict[str, tuple[tuple[Tensor, ...], ...]] = {}
    steps: dict[str, Tensor] = {}
    for key in keys:
        p, entry = params[key], state[key]
        for name in ("exp_avg", "exp_avg_sq"):
            if name not in entry:
                entry[name] = torch.zeros_like(p, memory_format=torch.preserve_format)
        entry["step"] += 1
        # torch keeps a float32 step beside each tensor; the kernel only reads it.
        steps[key] = torch.tensor(float(entry["step"]), dtype=torch.float32, device=p.device)
        rows[key] = (p.detach().unbind(0), p.grad.unbind(0), entry["exp_avg"].unbind(0),
                     entry["exp_avg_sq"].unbind(0))
    beta1, beta2 = hyper["betas"]
    for i, (lr, lr_max, wd) in enumerate(zip(lrs, lr_maxes, weight_decays)):
        if i in frozen:
            continue
        for decay in (True, False):
            group = [k for k in keys if bool(decayed[k]) is decay]
            if not group:
                continue
            terms = decay_terms(hyper["decay"], wd if decay else 0.0, lr, lr_max)
            coupled = terms.coupled != 0.0  # optimizers/adam.py::Adam._fused_update
            kernel = torch._fused_adam_ if coupled else torch._fused_adamw_
            kernel([rows[k][0][i] for k in group], [rows[k][1][i] for k in group],
                   [rows[k][2][i] for k in group], [rows[k][3][i] for k in group], [],
                   [steps[k] for k in group], lr=lr, beta1=beta1, beta2=beta2,
                   weight_decay=terms.coupled if coupled else terms.rate, eps=hyper["eps"],
                   amsgrad=False, maximize=False)
