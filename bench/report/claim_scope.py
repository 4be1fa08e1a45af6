"""Which records the report judges each claim on (bench/report/claim_verdicts.py).

A results directory written by `wdbench claims run` holds claims.json, whose every claim was
judged on the records of its own suites' trials (its `judged_on`; in a file written before
that field, its `trials`: those its cases used). The report judges such a claim on exactly
those records again, in that order, so that its verdict, statistic and interval are
claims.json's: scope "claims run". A claim no claims.json lists is judged on all records of
each report group: scope "all records". Where several directories' claims.json list one claim,
it is judged once, on the trials they list together. A damaged claims.json is set aside with
one warning (bench/claims/runner.py:read_results) and its claims are judged on all records."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from bench.claims import runner

CLAIMS_RUN = "claims run"
ALL_RECORDS = "all records"


def listed(dirs: Iterable[str | os.PathLike]) -> dict[str, list[str]]:
    """claim id -> the trial ids the claims.json of `dirs` judged it on (in the order it was
    given them; the first directory's first, each id once)."""
    out: dict[str, dict[str, None]] = {}
    read: set[Path] = set()
    for d in dirs:
        path = Path(d) / runner.RESULTS_FILE
        if path.resolve() in read:  # one directory named twice is read (and warned of) once
            continue
        read.add(path.resolve())
        body = runner.read_results(path)
        for claim in body["claims"] if body is not None else ():
            ids = claim.get("judged_on", claim["trials"])
            out.setdefault(claim["id"], {}).update(dict.fromkeys(ids))
    return {claim: list(ids) for claim, ids in out.items()}
