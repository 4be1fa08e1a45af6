"""Claims against a ledger: the trials the selected claims need at a budget (their suites under
bench/suites/claims/), and their verdicts from the records, written to DIR/claims.json.

claims.json (written atomically; a later run at the same budget replaces the claims it
judged and keeps the others):
    {"budget": "cpu", "git_rev": "...", "written": ISO date,
     "machine": {platform, cpus} (where it was judged),
     "claims": [{id, slug, source, statement, verdict, reason, statistic, statistic_name,
                 interval, threshold, trials, cases: [...], judged_on, command}, ...]}
                                                                         (registry order)
`trials`: the ids of the trials its cases used; `judged_on`: the ids of every record it was
given (its suites' trials the ledger held), in that order, so that the report can judge it on
exactly these again (bench/report/claim_scope.py). `read_results` reads the file back.
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
from bench.ledger import damaged
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


def judged_on(claims: Sequence[Claim], trials: Mapping[str, Sequence[Trial]],
              records: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """claim id -> the ids of the records it is judged on: those of its own trials that
    `records` hold, in its trials' order (the order is part of what it is given)."""
    held = {str(r["id"]) for r in records}
    return {c.id: [t.id for t in trials[c.id] if t.id in held] for c in claims}


def judge(claims: Sequence[Claim], trials: Mapping[str, Sequence[Trial]],
          records: Sequence[Mapping[str, Any]]) -> list[tuple[Claim, ClaimVerdict]]:
    """Each claim judged on the records of its own trials (a pure function of the records)."""
    by_id = {str(r["id"]): r for r in records}
    scope = judged_on(claims, trials, records)
    return [(claim, claim.judge([by_id[i] for i in scope[claim.id]])) for claim in claims]


def read_results(path: Path) -> dict[str, Any] | None:
    """A claims.json as `write_results` writes it, or None where there is none. A damaged one
    (not JSON, not a regular file, a claim without its id or trial ids) is set aside with one
    warning (bench/ledger/damaged.py) and reads as none."""
    try:
        return parse_results(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:  # not JSON or not UTF-8, not a regular file, too large
        damaged.set_aside(path, f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}")
        return None


def parse_results(path: Path) -> dict[str, Any]:
    """The claims.json at `path`; OSError (FileNotFoundError where there is none) or
    ValueError (what is wrong with it) otherwise. A shared results directory is input: the
    file is read with a size bound and never as a FIFO."""
    body = json.loads(input_files.read_text(path, MAX_RESULTS_BYTES))
    if not _is_results(body):
        raise ValueError("not a claims file of wdbench: a field is missing or of the wrong type")
    return body


def _ids(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, str) for i in value)


def _is_results(body: Any) -> bool:
    return (isinstance(body, dict) and isinstance(body.get("budget"), str)
            and isinstance(body.get("claims"), list)
            and all(isinstance(c, dict) and isinstance(c.get("id"), str) and _ids(c.get("trials"))
                    and _ids(c.get("judged_on", [])) for c in body["claims"]))


def write_results(out: Path, budget: str, results: Sequence[tuple[Claim, ClaimVerdict]],
                  git_rev: str | None = None, command: str | None = None,
                  judged: Mapping[str, Sequence[str]] | None = None) -> Path:
    """DIR/claims.json, atomically; claims of the same budget judged before and not now
    are kept (a damaged file is set aside and replaced). `command`: the line that judged
    them; `judged`: claim id -> the ids of the records it was judged on (`judged_on`); both
    kept with each claim."""
    from bench.claims.registry import claims as registered

    path = out / RESULTS_FILE
    old = read_results(path)
    kept = ({c["id"]: c for c in old["claims"]}
            if old is not None and old["budget"] == budget else {})
    for claim, verdict in results:
        entry = claim.result(verdict)
        if judged is not None and claim.id in judged:
            entry["judged_on"] = list(judged[claim.id])
        kept[claim.id] = {**entry, "command": command}
    order = [c.id for c in registered()]
    body = {"budget": budget, "git_rev": git_rev,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "claims": [kept[i] for i in order if i in kept]}
    out.mkdir(parents=True, exist_ok=True)
    return write_text(path, json.dumps(body, indent=1, allow_nan=False), prefix=".tmp-claims-")
