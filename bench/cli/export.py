"""`wdbench export`: a results directory as a Hugging Face dataset (Parquet + dataset card)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a ledger as a Hugging Face dataset directory")
    p.add_argument("results", nargs="+", help="results directories (each holds trials/)")
    p.add_argument("--to", required=True,
                   help="dataset directory to write: new, empty or an earlier export "
                        "(replaced whole)")
    p.add_argument("--push-to-hub", default=None, metavar="REPO",
                   help="also upload it to the hub as dataset REPO (needs network and "
                        "`hf auth login`)")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: a private repo")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from bench import schema
    from bench.cli import common
    from bench.ledger.export import export_dataset, push_to_hub

    target = Path(args.to)
    common.ensure_writable(target.parent if str(target.parent) else Path("."))
    definitions = {c.key: c.tooltip for c in schema.COLUMNS}
    out = export_dataset(args.results, target, definitions=definitions)
    print(f"dataset written to {out}: load it with datasets.load_dataset({str(out)!r})")
    if args.push_to_hub:
        url = push_to_hub(out, args.push_to_hub, private=args.private)
        print(f"pushed to {url}")
    return 0
