"""`wdbench status OUT`: counts from the ledger, claims and plans; who runs what; and, on a
real SLURM cluster, a running sweep's trial with its job id, step and heartbeat."""

from __future__ import annotations

import json
import os
import time

import pytest

from bench.cli import main
from bench.executors import submissions
from bench.executors.status import collect
from bench.ledger.fingerprint import recorded
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import ClaimStore
from tests.bench.helpers import REPO, TOY, wait_until
from tests.bench.slurm_helpers import require_slurm, wdbench_here
from tests.bench.traced_toy_task import TRACED


def _record(trial_id: str, status: str, fingerprint: str | None = None) -> dict:
    """A record of the toy task made by the current code (or by the code `fingerprint`)."""
    return {"id": trial_id, "status": status,
            "config": {"task": TOY, "optimizer": "adamw", "seed": 0},
            "code_fingerprint": fingerprint or recorded(TOY, "adamw"), "final": {}, "curve": []}


def test_status_counts_records_claims_and_planned_trials(tmp_path):
    ledger = Ledger(tmp_path)
    for trial_id, status in (("a1", "done"), ("a2", "done"), ("b1", "diverged"),
                             ("c1", "failed")):
        ledger.write(_record(trial_id, status))
    # Results of code that has changed since: the next sweep reruns them.
    ledger.write(_record("s1", "done", "0ld0ld0ld0ld+0ld0ld0ld0ld"))
    ledger.write(_record("s2", "diverged", "0ld0ld0ld0ld+0ld0ld0ld0ld"))
    submissions.write_plan(tmp_path, ["a1", "a2", "b1", "c1", "s1", "s2", "r1", "p1", "p2"],
                           "s")
    claim = ClaimStore(tmp_path).acquire("r1")
    fresh = ClaimStore(tmp_path).refresh(claim, step=42)
    status = collect(tmp_path)
    assert status["counts"] == {"done": 2, "diverged": 1, "stale": 2, "failed": 1,
                                "running": 1, "pending": 2}
    assert status["total"] == 9
    [running] = status["running"]
    assert running["id"] == "r1" and running["step"] == 42 and running["pid"] == os.getpid()
    assert 0 <= running["heartbeat_age_s"] <= time.time() - fresh.heartbeat + 0.1


def test_status_cli_prints_text_and_json_and_rejects_a_non_sweep_dir(tmp_path, capsys):
    Ledger(tmp_path).write(_record("a1", "done"))
    submissions.write_plan(tmp_path, ["a1", "p1"], "s")
    assert main(["status", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "2 trials: 1 done, 0 diverged, 0 stale (older code: rerun by the next sweep), " \
        "0 failed, 0 running, 1 pending" in text
    assert main(["status", str(tmp_path), "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["counts"]["pending"] == 1 and as_json["running"] == []
    assert main(["status", str(tmp_path / "nothing")]) == 2
    bad = capsys.readouterr().err.strip().splitlines()
    assert len(bad) == 1 and "holds no sweep" in bad[0], bad


@pytest.mark.slurm
@pytest.mark.e2e
def test_status_reports_a_running_slurm_sweep(tmp_path):
    require_slurm()
    suite = tmp_path / "suite.yaml"
    suite.write_text(f'task: "{TRACED}"\nbudget: smoke\nseeds: [0, 1]\n'
                     "optimizers:\n  adamw: {lr: 1.0e-2, weight_decay: 0.1}\n")
    config = tmp_path / "executor.yaml"
    config.write_text("heartbeat_s: 0.5\n")
    out = tmp_path / "out"
    env = {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "WDBENCH_TEST_STEP_SLEEP": "0.05"}
    sub = wdbench_here("sweep", str(suite), "--out", str(out), "--executor", "slurm",
                       "--executor-config", str(config), "--detach", "--trials-per-job", "2",
                       env=env)
    assert sub.returncode == 0, sub.stderr
    job = sub.stdout.strip()

    def running():  # in-process: a status subprocess per poll would cost ~2 s each
        beats = {c.trial_id: c.heartbeat for c in ClaimStore(out).all_current()}
        status = collect(out)
        live = [r for r in status["running"] if r["step"] > 0 and r["id"] in beats]
        return (status, beats, time.time()) if live else None

    status, beats, now = wait_until(running, "status to show a running trial", 90, 0.2)
    [trial] = status["running"]
    assert trial["job_id"] == job and trial["host"] == status["host"]  # a one-task array
    # The age is the claim's: at most the time since the heartbeat read just before (a
    # heartbeat in between only makes it younger), never negative; no speed assumed.
    assert 0 <= trial["heartbeat_age_s"] <= now - beats[trial["id"]] + 0.1
    assert status["counts"]["running"] == 1 and status["counts"]["pending"] == 1
    assert status["queued_in_slurm"] == 1  # the other trial waits in the same array task
    wait_until(lambda: collect(out)["counts"]["done"] == 2, "the sweep to finish", 90, 0.5)
    final = wdbench_here("status", str(out))
    assert final.returncode == 0, final.stderr
    assert "2 done" in final.stdout and "0 running, 0 pending" in final.stdout
