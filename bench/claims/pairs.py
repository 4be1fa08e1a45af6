"""Partners: the trials a claim contrasts with a case, e.g. cautious decay's case with decoupled
decay at the same lr and λ (claim 7), AdamW with Adam + ℓ2 at the same lr (claim 10), AdamC's
corrected decay with AdamW (claim 11).

Two trials are partners when their configs agree in everything but the fields named (always
the optimizer's name; λ too where the contrast has its own λ grid) and the seed, their
directions agree, and the partner's decay style is the one asked for. Seeds pair one to one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from bench.claims.base import CaseVerdict, Outcome
from bench.claims.records import Case, TrialView, cases

ALWAYS = ("optimizer", "seed")


def _key(trial: TrialView, differ: Iterable[str]) -> str:
    drop = {*ALWAYS, *differ}
    return json.dumps({k: v for k, v in trial.config.items() if k not in drop},
                      sort_keys=True, default=str)


def partner_trials(case: Case, trials: Sequence[TrialView], decay: str,
                   differ: Sequence[str] = ()) -> list[TrialView]:
    """The trials with decay style `decay`, the case's direction, and the config of the case's
    first trial but for the optimizer's name and `differ` (e.g. ("weight_decay", "tau")),
    restricted to the case's seeds."""
    first = case.first
    key, seeds, mine = _key(first, differ), {t.seed for t in case.trials}, set(case.ids)
    return [t for t in trials if t.row.get("decay") == decay
            and t.row.get("direction") == first.row.get("direction")
            and t.seed in seeds and t.id not in mine and _key(t, differ) == key]


def partner_cases(case: Case, trials: Sequence[TrialView], decay: str,
                  differ: Sequence[str] = ()) -> list[Case]:
    """`partner_trials` as configurations, ordered as records.cases orders them."""
    return cases(partner_trials(case, trials, decay, differ))


def judged_partner(case: Case, trials: Sequence[TrialView], decay: str,
                   judge: Callable[[Case], CaseVerdict], missing: str) -> CaseVerdict:
    """`judge` on the case's first partner of decay style `decay`, its reason headed by the
    partner's optimizer; inconclusive, saying `missing`, where the case has no partner."""
    partners = partner_cases(case, trials, decay)
    if not partners:
        first = case.first
        return CaseVerdict(first.optimizer, first.variant, first.lr, first.weight_decay,
                           Outcome.INCONCLUSIVE, missing)
    verdict = judge(partners[0])
    return replace(verdict, reason=f"{decay} {partners[0].first.optimizer}: {verdict.reason}")


@dataclass(frozen=True)
class Paired:
    """Per seed both sides' values (seeds where either side lacks one are dropped)."""

    seeds: tuple[int, ...]
    mine: tuple[float, ...]
    theirs: tuple[float, ...]

    @property
    def differences(self) -> list[float]:
        """theirs − mine, per seed."""
        return [b - a for a, b in zip(self.mine, self.theirs)]


def paired(mine: dict[int, float | None], theirs: dict[int, float | None]) -> Paired:
    seeds = tuple(s for s in sorted(mine) if mine[s] is not None
                  and theirs.get(s) is not None)
    return Paired(seeds, tuple(float(mine[s]) for s in seeds),
                  tuple(float(theirs[s]) for s in seeds))
