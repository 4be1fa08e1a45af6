"""A results directory as a Hugging Face dataset: Parquet tables plus a dataset card.

    DIR/trials.parquet       one row a trial (the ledger's flat table)
    DIR/curves.parquet       one row an evaluation point (id, step, metrics)
    DIR/per_tensor.parquet   final per-tensor constraint metrics (id, tensor, metrics)
    DIR/README.md            the dataset card: `configs` for `datasets.load_dataset(DIR, name)`,
                             provenance, and the definition of every column
    DIR/.wdbench-export      marks the folder as an export: only such a folder (or an empty
                             one) is replaced by the next export to it

`datasets.load_dataset(DIR)` reads the trials; `load_dataset(DIR, "curves")` the curves: always
the rows of this export (the card's configs carry a hash of its files, which `datasets`' cache
key includes).
The ledger stays the source of truth: an export is a snapshot, rebuilt at will.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from bench import __version__
from bench.errors import UsageError
from bench.ledger.shared_files import temp_dir
from bench.ledger.store import load_curves, load_per_tensor, load_trials
from bench.ledger.swap_dir import replace_dir
from bench.untrusted_text import md_escape

MARKER = ".wdbench-export"
TABLES: Mapping[str, Callable[..., pd.DataFrame]] = {
    "trials": load_trials, "curves": load_curves, "per_tensor": load_per_tensor}


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet wants one type per column: a column mixing numbers and text (an option that is
    a float in one trial and a list in another) is written as text."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype != object:
            continue
        kinds = {type(v) for v in out[col].dropna()}
        if len(kinds) > 1 or kinds & {list, tuple, dict}:
            out[col] = out[col].map(lambda v: None if v is None else str(v))
    return out


def describe_column(name: str, definitions: Mapping[str, str]) -> str:
    """A column's definition for the card; metrics at the best evaluation are `best_<name>`."""
    if name in definitions:
        return definitions[name]
    for prefix, what in (("best_", "best over evaluations of"), ("final_", "final value of"),
                         ("env_", "environment:")):
        if name.startswith(prefix) and name != prefix:
            base = name[len(prefix):]
            return f"{what} {base}" + (f" ({definitions[base]})" if base in definitions else "")
    return ""


def _column_name(name: str) -> str:
    """A column name as code, or, where it is not a plain name (a metric named in a record
    may be anything), as escaped text."""
    return f"`{name}`" if re.fullmatch(r"[A-Za-z0-9_.\-]+", name) else md_escape(name)


def dataset_card(frames: Mapping[str, pd.DataFrame], sources: list[str],
                 definitions: Mapping[str, str], content: str | None = None) -> str:
    """The README.md of an export. Everything that came from the ledger (paths, names,
    fingerprints, column names) is escaped: the card carries no raw HTML or links.

    `content` (a hash of the Parquet files) goes into every config's description: `datasets`
    keys its cache on the folder's name and the configs, not on the files, so without it
    `load_dataset(DIR)` served the rows of an earlier export to a folder of the same name."""
    trials = frames["trials"]
    lines = ["---", "configs:"]
    for i, name in enumerate(frames):
        lines += [f"- config_name: {name}", f"  data_files: {name}.parquet"]
        if i == 0:
            lines.append("  default: true")
        if content:
            lines.append(f"  description: 'wdbench export, content sha256 {content}'")
    lines += ["tags:", "- optimization", "- weight-decay", "- benchmark", "---", "",
              "# wdbench results", "",
              "Trials of [wdbench](https://github.com/) (decoupled vs coupled weight decay), "
              "exported from its ledger by `wdbench export`.", "",
              "## Provenance", "",
              f"- exported: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} "
              f"by wdbench {__version__}",
              f"- from: {', '.join(md_escape(s) for s in sources)}",
              f"- trials: {len(trials)}"]
    for col, label in (("task", "tasks"), ("optimizer", "optimizers"), ("status", "statuses"),
                       ("data_fingerprint", "data fingerprints"),
                       ("code_fingerprint", "code fingerprints")):
        if col in trials and not trials.empty:
            values = ", ".join(sorted(md_escape(v) for v in trials[col].dropna().unique()))
            lines.append(f"- {label}: {values}")
    lines += ["", "Load with `datasets.load_dataset(PATH)` (trials) or "
              "`datasets.load_dataset(PATH, \"curves\")`.", ""]
    for name, frame in frames.items():
        lines += [f"## Columns of `{name}`", "", "| column | definition |", "|---|---|"]
        for col in frame.columns:
            text = md_escape(describe_column(str(col), definitions))
            lines.append(f"| {_column_name(str(col))} | {text} |")
        lines.append("")
    return "\n".join(lines)


def content_hash(folder: Path, frames: Mapping[str, pd.DataFrame]) -> str:
    """sha256 over the export's Parquet files, in table order."""
    digest = hashlib.sha256()
    for name in frames:
        digest.update(name.encode() + b"\0")
        digest.update((folder / f"{name}.parquet").read_bytes())
    return digest.hexdigest()


def check_target(target: Path, sources: list[str]) -> None:
    """UsageError unless `target` is new, an empty folder or an earlier export (MARKER): an
    export replaces its folder whole, and must never take a ledger or anything else with it."""
    if target.is_symlink():
        raise UsageError(f"--to {target} is a symbolic link; pass a folder path")
    if target.exists() and not target.is_dir():
        raise UsageError(f"--to {target} is a file; pass a directory path")
    here = target.resolve()
    for source in sources:
        if here == Path(source).resolve() or here in Path(source).resolve().parents:
            raise UsageError(f"--to {target} holds the results directory {source} that it "
                             "exports; pass a new folder, e.g. --to exports/results")
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).is_file():
        raise UsageError(f"--to {target} is a folder that is not empty and not an earlier "
                         "wdbench export (an export replaces its folder whole); pass a new "
                         "or empty folder")


def export_dataset(results: list[str | os.PathLike], to: str | os.PathLike,
                   definitions: Mapping[str, str] | None = None) -> Path:
    """Write the ledger(s) as a dataset directory; returns it. Nothing is half-written: the
    files go to a temporary directory beside the target, which then replaces it in one step
    (bench/ledger/swap_dir.py). The target must be new, empty or an earlier export."""
    sources = [str(r) for r in results]
    frames = {name: load(*sources) for name, load in TABLES.items()}
    if frames["trials"].empty:
        raise UsageError(f"no trial records under {', '.join(sources)}; run a sweep first or "
                         "pass the results directory that holds trials/")
    target = Path(to)
    check_target(target, sources)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(target.parent, prefix=f".{target.name}-")
    try:
        for name, frame in frames.items():
            _parquet_safe(frame).to_parquet(tmp / f"{name}.parquet", index=False)
        content = content_hash(tmp, frames)
        (tmp / "README.md").write_text(dataset_card(frames, sources, definitions or {},
                                                    content))
        (tmp / MARKER).write_text(json.dumps({"wdbench_export": 1, "wdbench": __version__,
                                              "sources": sources, "sha256": content}))
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def push_to_hub(folder: str | os.PathLike, repo_id: str, private: bool = False) -> str:
    """Upload an exported dataset directory; fails in one line offline (as the data loaders)."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise UsageError(f"cannot push to {repo_id}: HF_HUB_OFFLINE is set; unset it (and log "
                         "in with `hf auth login`) to publish, or share the exported folder")
    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset")
    except Exception as err:  # network, auth: the hub's own message, on one line
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UsageError(f"cannot push to {repo_id}: {first}; check the network and "
                         "`hf auth login`") from None
    return str(getattr(info, "commit_url", repo_id))
