"""A stacked group's records equal its members' lone runs: ids, schema, curves (float64: to
1e-10 relative over 100 steps; float32: a stated tolerance at the end of a run), a diverging
member among healthy ones, a submission stepped through per-trial views, and a group killed
mid-run that resumes to the uninterrupted result."""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys

import pytest

import optimizers
from bench.engine.runner import run_trial
from bench.engine.stacked.loop import run_group
from bench.ledger.store import Ledger
from bench.trial.batch import TrialBatch as Group
from bench.trial.config import Trial
from tests.bench.engine.stacked.helpers import F64, MATRIX_F64, largest_difference
from tests.bench.helpers import REPO

F64_RTOL = 1e-10  # issue #14: float64, first 100 steps
# float32 at the end of a smoke run (300 steps): the batched loss sums in another order
# than the lone one; measured here up to 3.5e-6 relative, in `gap` (val_loss - train_loss,
# a difference of near numbers), the rest below 1e-6 (docs/results/stacked.md).
F32_RTOL = 1e-5
# One step's angle ∠(W_{t-1}, W_t) is |ΔW|/|W| small: float32 rounding of W, relative 6e-8,
# is a far larger share of it (measured: 2.3e-5 on the smoke quadratic).
F32_ANGLE_RTOL = 1e-3
ANGLE_KEYS = ("angular_update_mean", "angular_update_cv")
KKT_KEYS = ("kkt_residual", "ball_kkt_residual")
VECTOR = [n for n in optimizers.available() if optimizers.spec(n).direction != "muon"]
# (lr, weight_decay, seed) of four members: every per-member field varies
MEMBERS = ((0.01, 1.0, 0), (0.05, 2.0, 1), (0.01, 2.0, 1), (0.05, 1.0, 0))


def grid(task: str, optimizer: str, members=MEMBERS, **kw) -> list[Trial]:
    base = dict(budget="smoke", steps=100, eval_every=25, schedule="inverse_sqrt")
    base.update(kw)
    return [Trial(task, optimizer, lr=lr, weight_decay=wd, seed=seed, **base)
            for lr, wd, seed in members]


def lone_and_stacked(trials: list[Trial], tmp_path) -> tuple[list[dict], list[dict]]:
    lone = [run_trial(t, tmp_path / "lone", show_progress=False) for t in trials]
    stacked = run_group(Group(tuple(trials)), str(tmp_path / "stacked"))
    return lone, stacked


def assert_equal_records(lone: list[dict], stacked: list[dict], rtol: float,
                         angle_rtol: float | None = None) -> None:
    """Equal records to `rtol`; with `angle_rtol`, the one-step angular updates (rotation)
    are compared on their own, to that tolerance."""
    for i, (a, b) in enumerate(zip(lone, stacked)):
        assert a["id"] == b["id"] and a["schema"] == b["schema"]
        assert len(a["curve"]) == len(b["curve"]) > 1
        assert any("rotation" in p for p in b["curve"])  # stacked members measure it too
        assert all("grad_weight" in p for p in b["curve"])  # and ‖g‖/‖x‖ per tensor
        assert_kkt_measured(a)
        assert_kkt_measured(b)
        if angle_rtol is not None:
            a, b = split_angles(a), split_angles(b)
            worst, where = largest_difference(a.pop("angles"), b.pop("angles"))
            assert worst <= angle_rtol, (a["id"], where, worst)
        worst, where = largest_difference(a, b)
        assert worst <= rtol, (a["id"], where, worst)
        assert "stacked" not in a
        assert b["stacked"]["size"] == len(stacked) and b["stacked"]["index"] == i


@pytest.mark.parametrize("optimizer", VECTOR)
def test_members_equal_lone_runs_in_float64(optimizer, tmp_path):
    trials = grid(F64, optimizer, steps=60, eval_every=20)
    lone, stacked = lone_and_stacked(trials, tmp_path)
    assert_equal_records(lone, stacked, F64_RTOL)
    assert {r["status"] for r in stacked} == {"done"}
    assert stacked[0]["final"]["val_loss"] != stacked[1]["final"]["val_loss"]
    ledger = Ledger(tmp_path / "stacked")
    assert ledger.ids() == {t.id for t in trials}
    assert not ledger.checkpoints_dir.exists() or not any(ledger.checkpoints_dir.iterdir())


@pytest.mark.parametrize("optimizer", optimizers.available())
def test_members_equal_lone_runs_on_the_matrix_quadratic(optimizer, tmp_path):
    # Every built-in, Muon's Newton-Schulz on [T, m, n] matrices too.
    trials = grid(MATRIX_F64, optimizer, members=MEMBERS[:2], steps=30, eval_every=10)
    lone, stacked = lone_and_stacked(trials, tmp_path)
    assert_equal_records(lone, stacked, F64_RTOL)


@pytest.mark.parametrize("gather", [True, False])
def test_each_member_trains_on_its_own_data_order(gather, tmp_path, monkeypatch):
    """With gradient noise the batches matter: members still equal their lone runs, through
    the task's one-op gather and through the generic per-member fetch + collate."""
    from tests.bench.engine.stacked.helpers import Float64

    if not gather:
        monkeypatch.delattr(Float64, "gather_train")
        monkeypatch.setattr("tasks.quadratic.QuadraticTask.gather_train", None)
    trials = [t.with_settings({"task.noise": 0.5}) for t in grid(F64, "adamw")]
    lone, stacked = lone_and_stacked(trials, tmp_path)
    assert_equal_records(lone, stacked, F64_RTOL)


def assert_kkt_measured(record: dict) -> None:
    """The KKT residuals are in every curve point, the final point and per tensor, from the
    step-0 probe's gap terms (1 at step 0), so that the comparison covers them."""
    assert set(record["kkt_start"]) == {"box", "ball"}
    assert record["kkt_start"]["box"] and record["kkt_start"]["ball"]
    points = [*record["curve"], record["final"], *record.get("per_tensor", {}).values()]
    for point in points:
        assert all(key in point for key in KKT_KEYS)
    for key in KKT_KEYS:
        assert record["curve"][0][key] == pytest.approx(1.0)
        assert all(math.isfinite(point[key]) for point in points if math.isfinite(
            point["fw_gap"]))


def split_angles(record: dict) -> dict:
    """A copy of the record with the angular updates (and their mean and spread) moved out of
    the curve and the final point into record["angles"]."""
    out = copy.deepcopy(record)
    out["angles"] = []
    for point in [*out["curve"], out["final"]]:
        rot = point.get("rotation", {})
        out["angles"].append({"angular_update": rot.pop("angular_update", None),
                              **{k: point.pop(k, None) for k in ANGLE_KEYS}})
    return out


def test_float32_members_end_within_the_stated_tolerance(tmp_path):
    trials = grid("quadratic", "adamw", steps=None, eval_every=None)  # the smoke budget
    lone, stacked = lone_and_stacked(trials, tmp_path)
    assert_equal_records(lone, stacked, F32_RTOL, angle_rtol=F32_ANGLE_RTOL)


def test_a_diverging_member_is_recorded_at_its_step_and_the_others_go_on(tmp_path):
    # Plain SGD at lr 0.4 on a Hessian with eigenvalues in [1, 10] (plus λ = 1) grows x
    # each step: the float32 train loss overflows after some 50 steps; lr 0.01
    # converges.
    trials = grid(F64, "sgdw", members=((0.01, 1.0, 0), (0.4, 1.0, 0), (0.01, 2.0, 1)),
                  schedule="constant")
    lone, stacked = lone_and_stacked(trials, tmp_path)
    assert [r["status"] for r in lone] == ["done", "diverged", "done"]
    assert 25 < lone[1]["diverged_at"] < 100  # between evaluation points: not trivial
    assert_equal_records(lone, stacked, F64_RTOL)
    assert stacked[1]["diverged_at"] == lone[1]["diverged_at"]


def test_a_submission_steps_through_views(tmp_path, monkeypatch):
    # `module:attr` registers on first use: keep it out of the other tests' registry.
    monkeypatch.setattr(optimizers.REGISTRY, "_specs", dict(optimizers.REGISTRY._specs))
    trials = grid(F64, "tests.bench.submitted_optimizer:SignDescentW")
    lone, stacked = lone_and_stacked(trials, tmp_path)
    assert_equal_records(lone, stacked, F64_RTOL)


KILL = """
import os, sys
from bench.trial.config import Trial
from bench.trial.batch import TrialBatch as Group
from bench.engine.stacked.loop import run_group
import bench.engine.stacked.models as models

original = models.StackedModel.backward  # once per training step
def crashing(self, batch):
    crashing.calls += 1
    if crashing.calls == int(sys.argv[3]):
        os._exit(9)  # a hard kill mid-group: no cleanup, no record
    return original(self, batch)
crashing.calls = 0
models.StackedModel.backward = crashing
trials = [Trial.from_dict(d) for d in eval(sys.argv[1])]
run_group(Group(tuple(trials)), sys.argv[2])
"""


@pytest.mark.e2e
def test_a_killed_group_resumes_to_the_uninterrupted_result(tmp_path):
    trials = grid(F64, "adamw", checkpoint_every=20)
    group = Group(tuple(trials))
    reference = run_group(group, str(tmp_path / "ref"))
    out = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILL, repr([t.to_dict() for t in trials]),
                           str(out), "55"], cwd=REPO, env={**os.environ},
                          capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    ledger = Ledger(out)
    assert not ledger.ids()
    latest = ledger.checkpoints_dir / group.id / "latest"
    assert (latest / "members.json").exists()
    resumed = run_group(group, str(out))
    assert [r["id"] for r in resumed] == [r["id"] for r in reference]
    for a, b in zip(reference, resumed):  # bit for bit (NaN where both have NaN)
        assert largest_difference(a, b)[0] == 0.0
    assert not (ledger.checkpoints_dir / group.id).exists()
