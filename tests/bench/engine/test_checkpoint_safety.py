"""A results directory is input, not code: a checkpoint whose files would run code when
unpickled (planted by anyone who can write to a shared --out) is never executed on resume;
the trial (or the stacked group) starts over, with one warning naming the file, and ends as
a fresh run does. What wdbench writes, it reads back without running code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from bench.engine.checkpoints import MANIFEST
from bench.engine.runner import run_trial
from bench.engine.stacked.loop import run_group
from bench.ledger.store import Ledger
from bench.trial.batch import TrialBatch
from tests.bench.engine.stacked.helpers import F64
from tests.bench.engine.stacked.test_loop import grid
from tests.bench.engine.test_runner import toy
from tests.bench.helpers import comparable

EVERY = {"checkpoint_every": 10}


class Planted:
    """Unpickling this runs code: it creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def plant(path: Path, marker: Path) -> None:
    torch.save(Planted(marker), path)


def interrupted_checkpoint(tmp_path: Path) -> tuple[Path, Ledger]:
    """The latest checkpoint of `toy(EVERY)` left by a run that failed at step 14 (a
    failed trial keeps its checkpoint), moved to the clean trial's id."""
    out = tmp_path / "out"
    failing = toy(settings={**EVERY, "task.fail_at": 18})
    assert run_trial(failing, out, show_progress=False)["status"] == "failed"
    ledger = Ledger(out)
    ledger.path(failing.id).unlink()
    target = ledger.checkpoint_dir(toy(settings=EVERY).id)
    shutil.move(ledger.checkpoint_dir(failing.id), target)
    return target / "latest", ledger


def test_every_checkpoint_file_reads_back_without_running_code(tmp_path):
    latest, _ = interrupted_checkpoint(tmp_path)
    names = sorted(p.name for p in latest.iterdir())
    assert "progress.json" in names and "model.pt" in names
    for path in latest.iterdir():
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            assert path.suffix == ".pt", path
            torch.load(path, weights_only=True)


@pytest.mark.parametrize("poisoned", ["model.pt", "optimizer.pt", "scheduler.pt",
                                      "rng_0.pt", "every pickle"])
def test_a_planted_pickle_is_never_run_and_the_trial_starts_over(poisoned, tmp_path, capsys):
    latest, ledger = interrupted_checkpoint(tmp_path)
    marker = tmp_path / "code-ran"
    # Where Accelerate (and earlier versions of wdbench) would have unpickled too.
    targets = [latest / "custom_checkpoint_0.pkl", latest / "custom_checkpoint_1.pkl"]
    targets += [p for p in latest.iterdir() if p.suffix in (".pt", ".pkl", ".bin")]
    if poisoned != "every pickle":
        targets = [latest / poisoned]
    for path in targets:
        plant(path, marker)
    capsys.readouterr()

    resumed = run_trial(toy(settings=EVERY), ledger.root, show_progress=False)

    assert not marker.exists()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "checkpoint" in line]
    assert len(warnings) == 1 and "does not load safely" in warnings[0]
    assert str(latest) in warnings[0] and "starts over" in warnings[0]
    fresh = run_trial(toy(settings=EVERY), tmp_path / "fresh", show_progress=False)
    assert resumed["status"] == "done"
    assert comparable(resumed) == comparable(fresh)  # nothing of the planted state applied


def test_a_damaged_progress_file_starts_the_trial_over(tmp_path, capsys):
    latest, ledger = interrupted_checkpoint(tmp_path)
    (latest / "progress.json").write_text('{"step": "many", "unknown": 1}')
    resumed = run_trial(toy(settings=EVERY), ledger.root, show_progress=False)
    assert "progress.json does not load safely" in capsys.readouterr().err
    fresh = run_trial(toy(settings=EVERY), tmp_path / "fresh", show_progress=False)
    assert comparable(resumed) == comparable(fresh)


def test_a_planted_group_checkpoint_is_never_run_and_the_group_starts_over(tmp_path, capsys):
    trials = grid(F64, "adamw", checkpoint_every=20)
    group = TrialBatch(tuple(trials))
    out = tmp_path / "out"
    latest = Ledger(out).checkpoints_dir / group.id / "latest"
    latest.mkdir(parents=True)
    marker = tmp_path / "code-ran"
    plant(latest / "state.pt", marker)
    (latest / "progress.json").write_text(json.dumps(
        {"step": 40, "progress": [{}] * len(trials), "statuses": [[None, None]] * len(trials)}))
    (latest / MANIFEST).write_text(json.dumps({"members": [t.id for t in trials], "step": 40}))

    records = run_group(group, str(out))

    assert not marker.exists()
    err = capsys.readouterr().err
    assert f"checkpoint file {latest / 'state.pt'} does not load safely" in err
    assert {r["status"] for r in records} == {"done"}
    assert [p["step"] for p in records[0]["curve"]][0] == 0  # started over, from step 0
