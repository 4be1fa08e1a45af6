"""claims.json -> one Markdown page per claim and an index (`wdbench claims pages DIR --to
docs/results/claims/`): the verdict, its statistic, interval and threshold, every configuration
judged, and where it came from: the command, the commit, the data fingerprint and the machine.

Everything on a page is read from DIR/claims.json (written by `wdbench claims run`) and from the
ledger records of the trials it names (DIR/trials/<id>.json: data fingerprints, devices,
library versions, run dates); nothing is typed in. A claim whose trials are not in DIR's ledger
says so where the ledger's facts would stand. Pages are written whole (each atomically); pages
of claims no longer in claims.json are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.claims.runner import RESULTS_FILE, parse_results
from bench.errors import UsageError
from bench.ledger.shared_files import write_text
from bench.untrusted_text import md_escape

NOT_RECORDED = "not recorded"


def load(results: Path) -> dict[str, Any]:
    """DIR/claims.json; a UsageError naming the fix where it is missing or unreadable."""
    path = results / RESULTS_FILE
    if not path.is_file():
        raise UsageError(f"no {RESULTS_FILE} in {results}; run `wdbench claims run ... --out "
                         f"{results}` first")
    try:
        return parse_results(path)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path} is not a claims file ({e}); rerun `wdbench claims run ... "
                         f"--out {results}` to rewrite it") from None


def page_name(claim: Mapping[str, Any]) -> str:
    return f"claim-{claim['id']}-{claim.get('slug') or 'claim'}.md"


def write_pages(results: Path, to: Path, command: str | None = None) -> list[Path]:
    """One page per claim of DIR/claims.json and an index.md, under `to`; returns the paths."""
    body = load(results)
    records = _records(results, {t for c in body["claims"] for t in c.get("trials") or []})
    to.mkdir(parents=True, exist_ok=True)
    written = []
    for claim in body["claims"]:
        used = [records[t] for t in claim.get("trials") or [] if t in records]
        written.append(_write(to / page_name(claim),
                              claim_page(claim, body, used, results, command)))
    written.append(_write(to / "index.md", index_page(body, results, command)))
    return written


def _records(results: Path, ids: set[str]) -> dict[str, dict[str, Any]]:
    from bench.ledger.store import Ledger

    ledger = Ledger(results)
    out = {}
    for record in ledger.records():
        if record.get("id") in ids:
            out[str(record["id"])] = record
    return out


# --- one claim ------------------------------------------------------------------------------

def claim_page(claim: Mapping[str, Any], body: Mapping[str, Any],
               records: Sequence[Mapping[str, Any]], results: Path,
               command: str | None = None) -> str:
    e = md_escape
    title = _registered(str(claim["id"]))
    lines = [f"# Claim {e(claim['id'])}: {e(title or claim.get('slug') or '')}", "",
             _generated(results, body, command), "",
             f"**Verdict: {e(claim['verdict'])}** (budget {e(body.get('budget'))}).", "",
             f"{e(claim.get('reason') or '')}", "",
             "| | |", "|---|---|",
             f"| source | {e(claim.get('source') or NOT_RECORDED)} |",
             f"| statement | {e(claim.get('statement') or NOT_RECORDED)} |",
             f"| statistic | `{e(claim.get('statistic_name'))}` |",
             f"| value | {_value(claim)} |",
             f"| threshold | {e(_band(claim.get('threshold')))} |",
             f"| configurations | {_counts(claim.get('cases') or [])} |",
             f"| trials used | {len(claim.get('trials') or [])} |", ""]
    cases = claim.get("cases") or []
    tasks = {str(r["id"]): str((r.get("config") or {}).get("task")) for r in records}
    lines += ["## Configurations", ""]
    if cases:
        lines += ["| task | optimizer | settings | lr | λ | verdict | statistic | 95% interval "
                  "| seeds | reason |", "|---|---|---|---:|---:|---|---:|---|---:|---|"]
        for c in cases:
            seeds = len((c.get("numbers") or {}).get("values") or [])
            task = _set(tasks.get(t) for t in c.get("trials") or [])
            lines.append(
                f"| {e(task)} | {e(c.get('optimizer'))} | {e(c.get('variant') or '—')} "
                f"| {_num(c.get('lr'))} | {_num(c.get('weight_decay'))} "
                f"| {e(c.get('verdict'))} | {_num(c.get('statistic'))} "
                f"| {_interval(c.get('interval'))} | {seeds} | {e(c.get('reason') or '')} |")
    else:
        lines.append("No configuration was judged: the ledger held none of the claim's trials.")
    lines += ["", "## Provenance", "", *_provenance(claim, body, records, results), ""]
    return "\n".join(lines)


def _registered(claim_id: str) -> str | None:
    """The claim's title from the registry (claims.json keeps id, slug and statement)."""
    from bench.claims.registry import claims

    return next((c.title for c in claims() if c.id == claim_id), None)


def _generated(results: Path, body: Mapping[str, Any], command: str | None) -> str:
    made = command or f"wdbench claims pages {results}"
    return (f"Generated by `{made}` from `{results / RESULTS_FILE}` (written "
            f"{body.get('written') or NOT_RECORDED}); do not edit by hand: rerun the command.")


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (int, float)):
        return f"{value:.4g}"
    return md_escape(str(value))


def _interval(interval: Any) -> str:
    if not interval or any(v is None for v in interval):
        return "—"
    return f"[{interval[0]:.4g}, {interval[1]:.4g}]"


def _value(claim: Mapping[str, Any]) -> str:
    text = f"{_num(claim.get('statistic'))}"
    if claim.get("interval"):
        text += f", 95% interval {_interval(claim['interval'])}"
    return text + " (mean over seeds at the configuration that decides the verdict)"


def _band(threshold: Any) -> str:
    if not isinstance(threshold, Mapping):
        return NOT_RECORDED
    from bench.claims.judging import describe_band

    low, high = threshold.get("low"), threshold.get("high")
    if low is None and high is None:
        return NOT_RECORDED
    return describe_band((low, high))


def _counts(cases: Sequence[Mapping[str, Any]]) -> str:
    kinds = ("holds", "violated", "inconclusive", "not-applicable")
    found = [c.get("verdict") for c in cases]
    return f"{len(cases)}: " + ", ".join(f"{found.count(k)} {k}" for k in kinds)


def _provenance(claim: Mapping[str, Any], body: Mapping[str, Any],
                records: Sequence[Mapping[str, Any]], results: Path) -> list[str]:
    """Command, commit, data and machine, each read from claims.json or the records."""
    e = md_escape
    command = claim.get("command")
    rerun = (f"`{command}`" if command else
             f"`wdbench claims run {claim['id']} --budget {body.get('budget')} --out "
             f"{results}` (claims.json does not record the command that wrote it; this one "
             "reruns what is missing and judges the claim again)")
    envs = [r.get("env") or {} for r in records]
    lines = [f"- **Command**: {rerun}",
             f"- **Commit**: `{e(body.get('git_rev') or NOT_RECORDED)}` when judged; the "
             f"trials ran at {_set(e(str(x)) for x in (v.get('git_rev') for v in envs) if x)}"]
    if not records:
        lines.append(f"- **Data** and **machine**: {NOT_RECORDED} (none of the claim's trials "
                     f"is in the ledger {results}/trials)")
        return lines
    data = {}
    for r in records:
        task = (r.get("config") or {}).get("task")
        facts = r.get("task") or {}
        data.setdefault(str(task), set()).add(
            f"fingerprint {facts.get('data_fingerprint') or NOT_RECORDED}"
            + (f" ({facts['data_source']})" if facts.get("data_source") else ""))
    lines.append("- **Data**: " + "; ".join(f"{e(task)}: {e(', '.join(sorted(found)))}"
                                            for task, found in sorted(data.items())))
    machine = {
        "device": _set(v.get("device") for v in envs),
        "threads": _set(v.get("threads") for v in envs),
        "processes": _set(v.get("num_processes") for v in envs),
        "torch": _set(v.get("torch") for v in envs),
        "CUDA": _set(v.get("cuda") for v in envs) if any(v.get("cuda") for v in envs)
        else "none" if envs and all("cuda" in v for v in envs) else NOT_RECORDED,
        "python": _set(v.get("python") for v in envs),
    }
    lines.append("- **Machine**: " + "; ".join(f"{k} {e(v)}" for k, v in machine.items()))
    judged_on = body.get("machine")
    if isinstance(judged_on, Mapping):
        lines.append("- **Judged on**: " + "; ".join(f"{e(k)} {e(v)}"
                                                     for k, v in judged_on.items()))
    dates = sorted(str(v["date"]) for v in envs if v.get("date"))
    if dates:
        lines.append(f"- **Run dates**: {e(dates[0])} … {e(dates[-1])}")
    lines.append(f"- **Trials**: {len(records)} of {len(claim.get('trials') or [])} named in "
                 "claims.json are in the ledger (their ids are listed there)")
    return lines


def _set(values) -> str:
    found = sorted({str(v) for v in values if v not in (None, "")})
    return ", ".join(found) if found else NOT_RECORDED


# --- the index ------------------------------------------------------------------------------

def index_page(body: Mapping[str, Any], results: Path, command: str | None = None) -> str:
    e = md_escape
    lines = ["# Claims", "", _generated(results, body, command), "",
             f"The literature's claims as code (SPEC §3b), judged at budget "
             f"{e(body.get('budget'))} at commit `{e(body.get('git_rev') or NOT_RECORDED)}`. "
             "Each page states the command, the commit, the data and the machine.", "",
             "| claim | verdict | statistic | value | 95% interval | threshold |",
             "|---|---|---|---:|---|---|"]
    for c in body["claims"]:
        lines.append(f"| [{e(c['id'])}. {e(_registered(str(c['id'])) or c.get('slug'))}]"
                     f"({page_name(c)}) | {e(c['verdict'])} | `{e(c.get('statistic_name'))}` "
                     f"| {_num(c.get('statistic'))} | {_interval(c.get('interval'))} "
                     f"| {e(_band(c.get('threshold')))} |")
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> Path:
    return write_text(path, text)
