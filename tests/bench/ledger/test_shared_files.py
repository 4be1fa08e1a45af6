"""What wdbench writes into a results directory honours the umask (a group-writable shared
directory under umask 002 gets group-writable records, claims, plans, progress files, claim
verdicts and exports), where `tempfile.mkstemp` alone made every file 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bench import input_files
from bench.claims.runner import write_results
from bench.executors import submissions
from bench.ledger.export import export_dataset
from bench.ledger.progress import BatchProgress, ProgressFiles
from bench.ledger.shared_files import create_text, write_text
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import ClaimStore
from bench.report import claim_verdicts
from tests.bench.report.synthetic import synthetic_records


@pytest.fixture()
def umask_002():
    before = os.umask(0o002)
    yield
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_records_claims_plans_and_exports_are_group_writable_under_umask_002(tmp_path,
                                                                            umask_002):
    out = tmp_path / "out"
    [record] = synthetic_records(tasks=("quadratic",), optimizers=("adamw",), grid=1,
                                 seeds=(0,), evals=2, failed=0)
    path = Ledger(out).write(record)
    claims = ClaimStore(out)
    claim = claims.acquire("abc123")
    assert claim is not None
    claims.refresh(claim, step=3)
    submissions.write_plan(out, [record["id"]], "suite")
    submissions.write_submission(out, "42", {"42_0": [record["id"]]}, "logs")
    ProgressFiles(out).write("g1", BatchProgress([record["id"]], 1, 10))
    judged = write_results(out, "smoke", [])
    verdicts = claim_verdicts.write(out / "report", [])
    files = [path, *(out / "claims").iterdir(), *(out / "plans").iterdir(),
             *(out / "submissions").iterdir(), *(out / "progress").iterdir(), judged, verdicts]
    assert len(files) == 7
    for f in files:
        assert _mode(f) == 0o664, (f, oct(_mode(f)))
    exported = export_dataset([out], tmp_path / "ds")
    assert _mode(exported) == 0o775
    assert all(_mode(f) == 0o664 for f in exported.iterdir())


def test_a_strict_umask_is_honoured_too(tmp_path):
    before = os.umask(0o077)
    try:
        [record] = synthetic_records(tasks=("quadratic",), optimizers=("adamw",), grid=1,
                                     seeds=(0,), evals=2, failed=0)
        assert _mode(Ledger(tmp_path).write(record)) == 0o600
    finally:
        os.umask(before)


def test_create_text_makes_a_file_once_and_never_replaces_one(tmp_path):
    target = tmp_path / "t.000001.json"
    assert create_text(target, "first")
    assert not create_text(target, "second")
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


def test_write_text_replaces_whole_in_utf8_and_leaves_nothing_when_it_fails(tmp_path):
    target = tmp_path / "page.html"
    write_text(target, "Lion λ ≤ 1", sync=False)
    assert input_files.read_text(target, 1 << 10) == "Lion λ ≤ 1"
    with pytest.raises(UnicodeEncodeError):
        write_text(target, "a lone surrogate \udc80")
    assert input_files.read_text(target, 1 << 10) == "Lion λ ≤ 1"  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
