"""Claims against a ledger: the trials the selected claims need at a budget (their suites under
bench/suites/claims/), and their verdicts from the records, written to DIR/claims.json.

claims.json (written atomically; a later run at the same budget replaces the claims it
judged and keeps the others):
    {"budget": "cpu", "git_rev": "...", "written": ISO date,
     "machine": {platform, cpus} (where it was judged),
     "claims": [{id, slug, source, statement, verdict, reason, statistic, statistic_name,
                 interval, threshold, trials, cases: [...], command}, ...]}   (registry order)
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import input_files
from bench.claims.base import Claim, ClaimVerdict
from bench.ledger.shared_files import write_text
from bench.trial import suite as suites
from bench.trial.config import Trial

SUITES_DIR = suites.SUITES_DIR / "claims"
RESULTS_FILE = "claims.json"
MAX_RESULTS_BYTES = 1 << 26  # a bound: a named pipe or /dev/zero is refused, not read


def suite_path(name: str) -> Path:
    return SUITES_DIR / f"{name}.yaml"


def claim_trials(claim: Claim, budget: str, overrides: Mapping[str, Any] | None = None
                 ) -> list[Trial]:
    """Every trial of the claim's suites at `budget` (the suite's settings, then the
    claim's, then the user's `--set`), in a stable order without duplicates."""
    out: dict[str, Trial] = {}
    for run in claim.runs_for(budget):
        suite = suites.load(suite_path(run.suite))
        for trial in suite.trials(run.budget, {**run.settings, **(overrides or {})}):
            out.setdefault(trial.id, trial)
    return list(out.values())


def all_trials(claims: Sequence[Claim], budget: str,
               overrides: Mapping[str, Any] | None = None) -> dict[str, list[Trial]]:
    """claim id -> its trials."""
    return {c.id: claim_trials(c, budget, overrides) for c in claims}


def judge(claims: Sequence[Claim], trials: Mapping[str, Sequence[Trial]],
          records: Sequence[Mapping[str, Any]]) -> list[tuple[Claim, ClaimVerdict]]:
    """Each claim judged on the records of its own trials (a pure function of the records)."""
    by_id = {str(r["id"]): r for r in records}
    out = []
    for claim in claims:
        mine = [by_id[t.id] for t in trials[claim.id] if t.id in by_id]
        out.append((claim, claim.judge(mine)))
    return out


def write_results(out: Path, budget: str, results: Sequence[tuple[Claim, ClaimVerdict]],
                  git_rev: str | None = None, command: str | None = None) -> Path:
    """DIR/claims.json, atomically; claims of the same budget judged before and not now
    are kept. `command`: the line that judged them (kept with each claim)."""
    from bench.claims.registry import claims as registered

    path = out / RESULTS_FILE
    kept: dict[str, dict[str, Any]] = {}
    if path.exists():
        try:
            old = json.loads(input_files.read_text(path, MAX_RESULTS_BYTES))
            if old.get("budget") == budget:
                kept = {str(c["id"]): c for c in old.get("claims", [])}
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            kept = {}  # a damaged file is replaced
    kept.update({claim.id: {**claim.result(verdict), "command": command}
                 for claim, verdict in results})
    order = [c.id for c in registered()]
    body = {"budget": budget, "git_rev": git_rev,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "claims": [kept[i] for i in order if i in kept]}
    out.mkdir(parents=True, exist_ok=True)
    return write_text(path, json.dumps(body, indent=1, allow_nan=False), prefix=".tmp-claims-")
