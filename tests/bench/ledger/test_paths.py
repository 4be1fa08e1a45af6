"""wdbench writes and deletes only inside the output directory: a symbolic link planted in a
shared results directory where wdbench keeps its folders is never followed (per-trial
checkpoint folders: the link is removed, the trial runs; top-level folders: one line, exit
2), and a suite's name cannot lead its default output directory elsewhere."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.engine.runner import run_trial
from bench.engine.stacked.loop import run_group
from bench.ledger.store import Ledger
from bench.trial.batch import TrialBatch
from tests.bench.engine.stacked.helpers import F64
from tests.bench.engine.stacked.test_loop import grid
from tests.bench.engine.test_runner import toy
from tests.bench.helpers import TOY


def outside_tree(tmp_path):
    """A folder outside --out that looks like a checkpoint folder, and a snapshot of it."""
    outside = tmp_path / "outside"
    for name in ("latest", "incoming", "old"):
        (outside / name).mkdir(parents=True)
        (outside / name / "keep.txt").write_text(name)
    return outside, snapshot(outside)


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def plant(base, link, outside):
    """`link` ('.', 'latest', ...) under `base` made a symbolic link into `outside`."""
    if link == ".":
        base.parent.mkdir(parents=True, exist_ok=True)
        base.symlink_to(outside, target_is_directory=True)
    else:
        base.mkdir(parents=True, exist_ok=True)
        (base / link).symlink_to(outside / link, target_is_directory=True)


@pytest.mark.parametrize("link", [".", "latest", "incoming", "old"])
def test_a_symlinked_checkpoint_folder_is_not_followed(link, tmp_path, capsys):
    outside, before = outside_tree(tmp_path)
    trial = toy(settings={"checkpoint_every": 10})
    out = tmp_path / "out"
    plant(Ledger(out).checkpoint_dir(trial.id), link, outside)

    record = run_trial(trial, out, show_progress=False)

    assert record["status"] == "done", record["error"]
    assert snapshot(outside) == before  # nothing written or deleted there
    assert "was a symbolic link" in capsys.readouterr().err
    assert not Ledger(out).checkpoint_dir(trial.id).exists()


def test_a_symlinked_group_checkpoint_folder_is_not_followed(tmp_path, capsys):
    outside, before = outside_tree(tmp_path)
    group = TrialBatch(tuple(grid(F64, "adamw", checkpoint_every=20)))
    out = tmp_path / "out"
    plant(Ledger(out).checkpoints_dir / group.id, ".", outside)

    records = run_group(group, str(out))

    assert {r["status"] for r in records} == {"done"}
    assert snapshot(outside) == before
    assert "was a symbolic link" in capsys.readouterr().err


@pytest.mark.parametrize("folder", ["trials", "checkpoints", "claims", "plans", "progress"])
def test_a_symlinked_top_level_folder_is_refused_before_any_work(folder, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / folder).symlink_to(outside, target_is_directory=True)
    code = main(["run", "--task", TOY, "--optimizer", "adamw", "--budget", "smoke",
                 "--out", str(out)])
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"{out / folder} is a symbolic link" in line and "--out" in line
    assert not any(outside.iterdir())
