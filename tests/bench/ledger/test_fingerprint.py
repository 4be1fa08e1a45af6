"""Stale results: the code fingerprint follows the source a trial's numbers come from (and
nothing else), and a sweep re-runs a trial whose record was made by other code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.executors.sweep import SweepOptions, run_sweep
from bench.ledger import fingerprint
from bench.ledger.store import Ledger
from bench.trial.config import Trial
from tests.bench.helpers import REPO


@pytest.fixture()
def tree(tmp_path):
    """A copy of the packages a fingerprint reads, plus README and report code."""
    for package in ("bench", "optimizers", "tasks"):
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    return tmp_path


def _fp(root: Path, task: str = "tasks/quadratic.py", opt: str = "optimizers/adam.py"):
    return fingerprint.of_files(root / task, root / opt, root)


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n# an edit\n")


def test_fingerprint_follows_the_trials_code_only(tree):
    before = _fp(tree)
    for unrelated in ("README.md", "bench/report/site.py", "bench/executors/sweep.py",
                      "bench/cli/sweep.py",
                      "optimizers/lion.py", "tasks/wikitext.py"):
        _edit(tree / unrelated)
        assert _fp(tree) == before, unrelated
    _edit(tree / "optimizers/decay.py")
    after_decay = _fp(tree)
    assert after_decay.harness == before.harness and after_decay.optimizer != before.optimizer
    for harness_file in ("tasks/box_qp.py", "tasks/base.py", "bench/measures/metrics.py",
                         "bench/engine/runner.py", "bench/trial/schedules.py"):
        previous = _fp(tree)
        _edit(tree / harness_file)
        now = _fp(tree)
        assert now.harness != previous.harness and now.optimizer == previous.optimizer, \
            harness_file


def test_closures_name_the_task_and_optimizer_helpers(tree):
    harness, opt = fingerprint.files_of(tree / "tasks/wikitext.py",
                                        tree / "optimizers/sign.py", tree)
    names = {p.relative_to(tree).as_posix() for p in harness + opt}
    assert {"tasks/wikitext.py", "tasks/base.py", "tasks/text_data.py", "tasks/data.py",
            "optimizers/sign.py", "optimizers/base.py", "optimizers/decay.py",
            "optimizers/sign_kernels.py", "bench/engine/runner.py"} <= names
    assert not any(n.startswith("bench/report") or n == "README.md" for n in names)


def test_fingerprint_parses_back():
    fp = fingerprint.Fingerprint("a" * 12, "b" * 12)
    assert fingerprint.Fingerprint.parse(str(fp)) == fp
    assert fingerprint.Fingerprint.parse(None) is None


def test_a_sweep_reruns_trials_whose_task_code_changed(tmp_path, monkeypatch):
    # A copy of the toy task in its own module, so that editing it is safe.
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(REPO / "tests/bench/toy_task.py", code / "edited_toy_task.py")
    monkeypatch.syspath_prepend(str(code))
    task = "edited_toy_task:ToyTask"
    trials = [Trial(task=task, optimizer="adamw", lr=1e-2, weight_decay=w, budget="smoke")
              for w in (0.1, 1.0)]
    opts = SweepOptions(out=tmp_path / "out", quiet=True)
    assert run_sweep(trials, opts)["done"] == 2
    ledger = Ledger(opts.out)
    old = {r["id"]: r["code_fingerprint"] for r in ledger.records()}
    assert len(old) == 2 and all(old.values())
    assert run_sweep(trials, opts) == {"skipped": 2, "elsewhere": 0, "done": 0,
                                       "diverged": 0, "failed": 0, "pending": 0}
    _edit(code / "edited_toy_task.py")
    assert ledger.finished_ids(trials) == set()
    assert ledger.finished_ids(trials, rerun_stale=False) == {t.id for t in trials}
    counts = run_sweep(trials, opts)
    assert (counts["skipped"], counts["done"]) == (0, 2)
    new = {r["id"]: r["code_fingerprint"] for r in ledger.records()}
    assert set(new) == set(old)  # the old records were replaced, not added to
    assert all(new[i] != old[i] for i in old)
    assert {fingerprint.Fingerprint.parse(v).optimizer for v in new.values()} == \
        {fingerprint.Fingerprint.parse(v).optimizer for v in old.values()}


def test_the_trial_id_does_not_follow_the_package_version(monkeypatch):
    import bench

    trial = Trial(task="quadratic", optimizer="adamw", lr=1e-3, weight_decay=0.1)
    before = trial.id
    monkeypatch.setattr(bench, "__version__", "9.9.9")
    assert trial.id == before
