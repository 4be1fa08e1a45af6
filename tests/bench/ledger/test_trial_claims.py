"""Claims without SLURM: exclusive, taken over when their holder is gone (dead pid, expired
heartbeat), lost claims stop their trial, and two local sweeps on one ledger run each trial
exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace

import pytest

from bench.executors.claimed import WorkerSettings, run_claimed
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import ClaimStore, Heartbeat, Owner
from bench.trial.config import Trial
from tests.bench.helpers import REPO, wait_until
from tests.bench.traced_toy_task import TRACED, runs


def test_a_live_claim_is_exclusive_and_release_frees_it(tmp_path):
    store = ClaimStore(tmp_path)
    first = store.acquire("abc")
    assert first is not None and first.generation == 0 and first.pid == os.getpid()
    assert store.acquire("abc") is None  # held by a live process (this one)
    assert [c.trial_id for c in store.live()] == ["abc"]
    store.release(first)
    assert store.live() == []
    assert store.acquire("abc") is not None


def test_claim_of_a_killed_process_is_taken_over(tmp_path):
    store = ClaimStore(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = replace(Owner.current(), pid=proc.pid, pid_started=None)
        assert store.acquire("t1", holder) is not None
        assert store.acquire("t1") is None  # its holder still runs
    finally:
        proc.kill()
        proc.wait()
    taken = store.acquire("t1")
    assert taken is not None and taken.generation == 1 and taken.pid == os.getpid()
    assert len(list(store.dir.glob("t1.*.json"))) == 1  # the superseded claim is gone


def test_a_reused_pid_does_not_keep_a_dead_claim_alive(tmp_path):
    store = ClaimStore(tmp_path)
    # Our own pid, but "started" at another time: the holder was an earlier process.
    ghost = replace(Owner.current(), pid_started="1")
    assert store.acquire("t2", ghost) is not None
    assert store.acquire("t2") is not None


def test_expired_heartbeat_on_another_host_is_taken_over(tmp_path):
    store = ClaimStore(tmp_path, stale_after_s=5)
    elsewhere = Owner(host="node-17", pid=123, job_id=None)
    claim = store.acquire("t3", elsewhere)
    assert claim is not None
    assert store.acquire("t3") is None  # another host: only its heartbeat tells
    assert store.refresh(claim, step=4).step == 4
    fresh = store.current("t3")
    assert not store.is_stale(fresh) and store.is_stale(fresh, now=fresh.heartbeat + 6)
    # A holder that went silent: its last heartbeat is a minute old.
    path = store.dir / "t3.000000.json"
    path.write_text(path.read_text().replace(str(fresh.heartbeat), str(time.time() - 60)))
    taken = store.acquire("t3")
    assert taken is not None and taken.generation == 1
    assert store.refresh(claim, step=5) is None  # the silent holder finds it lost


def test_claim_of_a_job_slurm_no_longer_runs_is_stale(tmp_path):
    store = ClaimStore(tmp_path, live_jobs=lambda: {"41_0"})
    other = Owner(host="node-3", pid=1, job_id="41_1")
    assert store.acquire("t4", other) is not None
    assert store.acquire("t4") is not None  # job 41_1 is not in squeue any more
    running = Owner(host="node-3", pid=1, job_id="41_0")
    assert store.acquire("t5", running) is not None
    assert store.acquire("t5") is None


def test_concurrent_takeovers_have_exactly_one_winner(tmp_path):
    store = ClaimStore(tmp_path, stale_after_s=5)
    for round_ in range(20):  # races are rare: many rounds
        trial_id = f"t6-{round_}"
        stale = store.acquire(trial_id, Owner(host="gone", pid=1))
        path = store.dir / f"{trial_id}.000000.json"
        path.write_text(path.read_text().replace(str(stale.heartbeat), "0.0"))
        barrier, winners = threading.Barrier(8), []

        def take(trial_id=trial_id, barrier=barrier, winners=winners) -> None:
            barrier.wait()
            claim = store.acquire(trial_id)
            if claim is not None:
                winners.append(claim)

        threads = [threading.Thread(target=take) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1, winners
        assert winners[0].generation == 1 and store.holds(winners[0])


@pytest.fixture(params=["python handler", "ignored"])
def sigint(request):
    """SIGINT as Python installs it, or ignored: what a sweep started in the background
    (`wdbench sweep … &` in a script) inherits, where `_thread.interrupt_main` does nothing."""
    before = signal.getsignal(signal.SIGINT)
    if request.param == "ignored":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield request.param
    assert signal.getsignal(signal.SIGINT) == (
        signal.SIG_IGN if request.param == "ignored" else before)  # the heartbeat put it back
    signal.signal(signal.SIGINT, before)


def test_heartbeat_refreshes_and_a_lost_claim_interrupts_the_trial(tmp_path, sigint):
    store = ClaimStore(tmp_path)
    claim = store.acquire("t7")
    with Heartbeat(store, claim, interval_s=0.05) as beat:
        beat.set_step(12)
        current = wait_until(lambda: (c := store.current("t7")).step == 12 and c,
                             "a heartbeat carrying step 12")
        assert current.heartbeat > claim.heartbeat and current.generation == 0
        assert not beat.lost
        with pytest.raises(KeyboardInterrupt):
            # Someone decided we were gone and took over (the next generation). The
            # heartbeat may notice at any bytecode from the moment the rival's file exists
            # (even before _create_exclusive returns), so the rival is made inside the block.
            store._create_exclusive(replace(current, generation=1, pid=1, host="elsewhere"))
            wait_until(lambda: False, "the interrupt of the lost claim")
    assert beat.lost
    assert store.current("t7").host == "elsewhere"  # the rival's claim stands


def _toy(seed: int) -> Trial:
    return Trial(task=TRACED, optimizer="adamw", lr=1e-2, weight_decay=0.1, seed=seed,
                 budget="smoke")


def test_run_claimed_skips_a_trial_held_elsewhere_and_runs_a_free_one(tmp_path, monkeypatch):
    trace = tmp_path / "trace"
    monkeypatch.setenv("WDBENCH_TEST_TRACE", str(trace))
    settings = WorkerSettings(out=str(tmp_path))
    held = ClaimStore(tmp_path).acquire(_toy(0).id)
    assert run_claimed(_toy(0), settings)["status"] == "claimed"
    assert run_claimed(_toy(1), settings)["status"] == "done"
    assert [r[0] for r in runs(trace)] == [1]
    assert Ledger(tmp_path).ids() == {_toy(1).id}
    ClaimStore(tmp_path).release(held)
    assert run_claimed(_toy(1), settings)["status"] == "skipped"  # finished meanwhile
    assert ClaimStore(tmp_path).all_current() == []


SUITE = f"""
task: "{TRACED}"
budget: smoke
seeds: [0, 1, 2, 3, 4, 5]
optimizers:
  adamw: {{lr: 1.0e-2, weight_decay: 0.1}}
"""


@pytest.mark.e2e
def test_two_local_sweeps_on_one_ledger_run_each_trial_once(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out, trace = tmp_path / "out", tmp_path / "trace"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "WDBENCH_TEST_TRACE": str(trace), "WDBENCH_TEST_STEP_SLEEP": "0.02"}
    cmd = [sys.executable, "-m", "bench", "sweep", str(suite), "--out", str(out), "--quiet"]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for proc in procs:
        # 3: it skipped trials the other sweep held (and said to rerun later).
        assert proc.wait(timeout=120) in (0, 3), proc.stderr.read()
    seeds = Counter(r[0] for r in runs(trace))
    assert seeds == Counter(range(6)), seeds
    assert len({r[1] for r in runs(trace)}) == 2, "both sweeps should have run trials"
    assert len(Ledger(out).ids()) == 6 and ClaimStore(out).all_current() == []
    assert {r["config"]["seed"] for r in Ledger(out).records()} == set(range(6))
