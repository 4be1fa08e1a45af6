"""Many writers on a shaky disk: a claim's heartbeat that fails to write (a full disk, a
read-only remount, an NFS hiccup) is retried, not ended; a holder whose claim was taken over
meanwhile notices, and writes no record: each trial's record is written once, by the sweep
that holds its claim. Failures are injected into the claim writes; nothing waits on the
clock."""

from __future__ import annotations

import errno
import threading

from bench.executors.claimed import WorkerSettings, run_claimed
from bench.executors.crashed import failed_record
from bench.executors.stacked_unit import run_group_claimed
from bench.ledger import trial_claims
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import ClaimStore, Heartbeat, Owner
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial
from tests.bench.engine.stacked.helpers import F64
from tests.bench.helpers import TOY

RIVAL = Owner(host="elsewhere", pid=4242)
TAKEN_OVER = "written by the sweep that took the trial over"


def failing_refreshes(monkeypatch, failures: float) -> threading.Event:
    """The next `failures` claim refreshes fail as on a full disk (creating claims still
    works); the event is set at the first refresh that succeeds after them."""
    write, left, recovered = trial_claims.write_text, [failures], threading.Event()

    def flaky(path, text, *args, **kwargs):
        if left[0] > 0:
            left[0] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        done = write(path, text, *args, **kwargs)
        recovered.set()
        return done

    monkeypatch.setattr(trial_claims, "write_text", flaky)  # refreshes; create_text creates
    return recovered


def take_over(out, trial_id: str) -> None:
    """Another sweep, `stale_after_s` later: the holder's heartbeat is old, it takes over."""
    assert ClaimStore(out, stale_after_s=-1).acquire(trial_id, RIVAL) is not None


def test_a_failed_heartbeat_write_is_retried_and_the_claim_kept(tmp_path, monkeypatch,
                                                                capsys):
    store = ClaimStore(tmp_path)
    claim = store.acquire("t1")
    recovered = failing_refreshes(monkeypatch, 3)
    with Heartbeat(store, claim, interval_s=0.001) as beat:
        beat.set_step(7)
        while not recovered.wait(0.05):
            assert beat._thread.is_alive(), "the heartbeat ended at a failed write"
    fresh = store.current("t1")
    assert fresh.step == 7 and fresh.heartbeat > claim.heartbeat and store.holds(fresh)
    assert not beat.lost
    assert capsys.readouterr().err.count("could not be refreshed (OSError") == 1


def test_a_claim_taken_over_while_writes_fail_is_noticed(tmp_path, monkeypatch):
    store = ClaimStore(tmp_path)
    claim = store.acquire("t2")
    failing_refreshes(monkeypatch, float("inf"))
    lost = threading.Event()
    beat = Heartbeat(store, claim, interval_s=3600, on_lost=lost.set)
    assert beat.beat() and not beat.lost  # the write failed, the claim is still ours
    take_over(tmp_path, "t2")
    assert not beat.beat() and beat.lost
    assert not beat.confirm()


def test_confirm_retries_a_failed_refresh(tmp_path, monkeypatch):
    store = ClaimStore(tmp_path)
    claim = store.acquire("t3")
    recovered = failing_refreshes(monkeypatch, 2)
    beat = Heartbeat(store, claim, interval_s=3600)
    assert beat.confirm(tries=3, pause_s=0.0) and recovered.is_set()
    assert store.current("t3").heartbeat > claim.heartbeat


def _toy() -> Trial:
    return Trial(task=TOY, optimizer="adamw", lr=1e-2, weight_decay=0.1, budget="smoke")


def test_a_holder_whose_claim_was_taken_over_writes_no_record(tmp_path, monkeypatch):
    import bench.engine.runner as runner

    trial = _toy()
    failing_refreshes(monkeypatch, float("inf"))  # the holder's heartbeats never land
    train = runner.train

    def trained_then_taken_over(ctx, ledger, *args, **kwargs):
        done = train(ctx, ledger, *args, **kwargs)
        # Meanwhile another sweep found the claim stale, took it over and finished.
        take_over(tmp_path, trial.id)
        Ledger(tmp_path).write(failed_record(trial, None, TAKEN_OVER))
        return done

    monkeypatch.setattr(runner, "train", trained_then_taken_over)
    settings = WorkerSettings(out=str(tmp_path), heartbeat_s=3600)
    result = run_claimed(trial, settings)
    assert result["status"] == "claimed"
    assert Ledger(tmp_path).read(trial.id)["error"] == TAKEN_OVER  # written once: theirs


def test_a_group_member_taken_over_is_left_to_the_taker(tmp_path, monkeypatch):
    import bench.engine.stacked.loop as loop

    group = TrialBatch(tuple(Trial(task=F64, optimizer="adamw", lr=lr, weight_decay=1.0,
                                   budget="smoke", steps=10) for lr in (0.01, 0.05)))
    taken = group.trials[0].id
    write = loop._write_records

    def taken_over_first(members, *args, **kwargs):
        take_over(tmp_path, taken)
        return write(members, *args, **kwargs)

    monkeypatch.setattr(loop, "_write_records", taken_over_first)
    settings = WorkerSettings(out=str(tmp_path), heartbeat_s=3600)
    results = {r["id"]: r for r in run_group_claimed(group, settings)}
    assert results[taken]["status"] == "claimed"
    assert results[group.trials[1].id]["status"] == "done"
    assert Ledger(tmp_path).ids() == {group.trials[1].id}
    assert ClaimStore(tmp_path).current(taken).host == RIVAL.host  # the taker's, untouched
