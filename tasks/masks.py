"""Decay-mask policies: which parameters weight decay (and the constraint metrics) apply to."""

from __future__ import annotations

import torch

MASK_POLICIES = ("all", "matrices", "none")  # every task's (tasks.base.Task.mask_policies)
# Decayed: every weight matrix but no embedding (token, position, untied output projection);
# a policy of the language-model task only (tasks/wikitext.py).
NO_EMBEDDINGS = "matrices_no_embeddings"
# Every policy a built-in task accepts: what `--set mask=` may name before the trial's task
# is known; validation then checks the trial's own task's `mask_policies`.
ALL_POLICIES = (*MASK_POLICIES, NO_EMBEDDINGS)


def decay_mask(model: torch.nn.Module, policy: str) -> dict[str, bool]:
    """`all`: every parameter; `matrices`: ndim >= 2 (weights, embeddings; not biases or norm
    scales); `none`: nothing. Tied parameters appear once (named_parameters de-duplicates)."""
    if policy not in MASK_POLICIES:
        raise ValueError(f"unknown mask {policy!r}; use one of: {', '.join(MASK_POLICIES)}")
    return {
        name: policy == "all" or (policy == "matrices" and p.ndim >= 2)
        for name, p in model.named_parameters()
    }
