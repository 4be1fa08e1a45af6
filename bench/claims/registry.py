"""The claims in their fixed order (the order is their ids: claim 1 first), and the CLI's
selection of them by id or slug."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from bench.claims.base import Claim
from bench.errors import UsageError

# bench/claims/<module>.py, each defining CLAIM; append new claims at the end.
MODULES = ("xie_li_box", "xie_li_kkt", "beta_contrast", "adam_l2", "lion_k", "muon_ball")


def claims() -> tuple[Claim, ...]:
    out = tuple(importlib.import_module(f"bench.claims.{m}").CLAIM for m in MODULES)
    ids = [c.id for c in out]
    if ids != [str(i) for i in range(1, len(out) + 1)]:
        raise RuntimeError(f"claim ids {ids} do not follow registry.MODULES' order")
    return out


def select(wanted: Sequence[str], everything: bool = False) -> tuple[Claim, ...]:
    """The claims named by id ('1') or slug ('xie-li-box'), in registry order; all with
    `everything`. Unknown names: one UsageError listing the known ones."""
    known = claims()
    if everything:
        if wanted:
            raise UsageError("give claim ids or --all, not both")
        return known
    if not wanted:
        raise UsageError("name the claims to run (e.g. `wdbench claims run 1 2`) or pass --all")
    by_name = {c.id: c for c in known} | {c.slug: c for c in known}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise UsageError(f"unknown claim id(s) {', '.join(map(repr, unknown))}; known: "
                         + ", ".join(f"{c.id} ({c.slug})" for c in known)
                         + " (wdbench claims list)")
    chosen = {by_name[w].id for w in wanted}
    return tuple(c for c in known if c.id in chosen)
