"""`wdbench audit PACKAGE`: the measured decay semantics of every optimizer a package exports,
at its defaults and with each decay-related flag flipped, against what it declares
(`bench.conformance.audit`). Prints a summary (or --json / --markdown) and with --out writes
index.html, audit.csv, audit.json and audit.md. Exit 0 when the audit ran (disagreements are
findings, not failures), 2 when PACKAGE cannot be imported or exports no optimizer."""

from __future__ import annotations

import argparse
import sys

from bench.cli import common
from bench.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="measure the decay semantics of every optimizer in a "
                                     "package and compare them with its flags and docs")
    p.add_argument("package", metavar="PACKAGE",
                   help="an importable package or module, e.g. torch.optim, pytorch_optimizer")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true",
                     help="print the audit as JSON (one object per (optimizer, settings) row)")
    out.add_argument("--markdown", action="store_true",
                     help="print the counts, disagreements and rows as Markdown")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="also write DIR/index.html (sortable, with a disagreement filter), "
                        "audit.csv, audit.json and audit.md")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="probes run at once, each in a forked child (default: CPU count)")
    p.add_argument("--probe-timeout-s", type=float, default=None, metavar="SECONDS",
                   help="time limit of each probe; one that hangs gets a reason row "
                        "(default: 60)")
    p.set_defaults(handler=handle)


def _summary(audit) -> str:
    lines = [f"{audit.package} {audit.version}: {len({r.optimizer for r in audit.rows})} "
             f"optimizer classes, {len(audit.rows)} rows in {audit.seconds:.1f} s",
             "  " + ", ".join(f"{k}: {v}" for k, v in audit.counts().items())]
    disagreements = audit.disagreements()
    lines.append(f"  disagreements: {len(disagreements)}")
    lines += [f"    {r.optimizer} ({r.settings_label}): measured {r.decay_semantics}, declared "
              f"{r.declared} ({r.declared_from})" for r in disagreements]
    return "\n".join(lines)


def handle(args: argparse.Namespace) -> int:
    from bench.conformance.probe_limit import DEFAULT_TIMEOUT_S

    timeout = DEFAULT_TIMEOUT_S if args.probe_timeout_s is None else args.probe_timeout_s
    if not timeout > 0:
        raise UsageError(f"--probe-timeout-s must be > 0 (got {args.probe_timeout_s:g}); "
                         "e.g. --probe-timeout-s 60")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1 (got {args.workers}); e.g. --workers 2")
    out = common.check_out(args.out) if args.out is not None else None
    if out is not None:
        common.ensure_writable(out)  # before minutes of probing, not after
    common.importable_cwd()
    from bench.conformance.audit import run_audit
    from bench.conformance.audit_page import render_json, render_markdown, write_outputs

    audit = run_audit(args.package, workers=args.workers, timeout_s=timeout)
    if out is not None:
        write_outputs(audit, out)
        print(f"audit: {out / 'index.html'}", file=sys.stderr)
    if args.json:
        print(render_json(audit))
    elif args.markdown:
        print(render_markdown(audit))
    else:
        print(_summary(audit))
    return 0
