"""Sweeps through a real SLURM scheduler (the one-node cluster of ../shared/slurm; .ci/run
starts it): the ledger equals a local sweep's, concurrent sweeps run each trial once, a
cancelled job's trial is re-run, a crashed job is explained in its record, a 2-process
trial equals 1 process, and a job hitting its time limit is requeued and resumes.

The requeue test needs ~1 min of wall time (a 2-minute limit); its sweep starts in the
background once the tests that want both of the node's 2 CPUs have run, and it is the last
test: the others run beside it. Sweeps that need no process of their own run in the test's
(tests/bench/slurm_helpers.py::wdbench_here): their jobs are processes all the same."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.bench.slurm_helpers import require_slurm, wdbench_here

# Every test here submits sweeps to the cluster through the CLI.
pytestmark = [pytest.mark.slurm, pytest.mark.e2e]

require_slurm()

from bench.engine.runner import run_trial  # noqa: E402
from bench.ledger.store import Ledger  # noqa: E402
from bench.ledger.trial_claims import ClaimStore  # noqa: E402
from bench.trial import suite as suites  # noqa: E402
from tests.bench.helpers import REPO, comparable, wait_until  # noqa: E402
from tests.bench.traced_toy_task import TRACED, runs  # noqa: E402

FAST = "poll_s: 0.5\nheartbeat_s: 1.0\n"


def suite_file(tmp: Path, seeds: list[int], extra: str = "") -> Path:
    path = tmp / "suite.yaml"
    path.write_text(f'task: "{TRACED}"\nbudget: smoke\nseeds: {seeds}\n{extra}'
                    "optimizers:\n  adamw: {lr: 1.0e-2, weight_decay: 0.1}\n")
    (tmp / "executor.yaml").write_text(FAST)
    return path


def env_for(trace: Path | None = None, **extra: str) -> dict[str, str]:
    """What a sweep's jobs need in their environment (the traced task's knobs among it)."""
    return {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(REPO),
            "WDBENCH_TEST_TRACE": str(trace or ""), **extra}


def sweep_args(suite: Path, out: Path, *flags: str) -> list[str]:
    return ["sweep", str(suite), "--out", str(out), "--executor", "slurm",
            "--executor-config", str(suite.parent / "executor.yaml"), "--quiet", *flags]


def sweep_process(suite: Path, out: Path, *flags: str, env: dict[str, str],
                  **popen: object) -> subprocess.Popen:
    """A sweep in a process of its own: for sweeps running at the same time as others."""
    return subprocess.Popen([sys.executable, "-m", "bench", *sweep_args(suite, out, *flags)],
                            cwd=REPO, env={**os.environ, **env}, text=True, **popen)


def run_sweep(suite: Path, out: Path, *flags: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess:
    """The sweep command, run in this process (bench/cli; tests/bench/slurm_helpers.py)."""
    return wdbench_here(*sweep_args(suite, out, *flags), env=env or env_for())


def local_reference(suite: Path, out: Path) -> dict[str, dict]:
    """The same trials run in this process: what every SLURM ledger must equal."""
    for trial in suites.load(suite).trials("smoke"):
        run_trial(trial, out, show_progress=False, suite=suites.load(suite).name)
    return view(out)


def view(out: Path) -> dict[str, dict]:
    return {r["id"]: comparable(r) for r in Ledger(out).records()}


def claim_step(out: Path) -> int:
    claims = ClaimStore(out).all_current()
    return max((c.step for c in claims), default=0)


class Background:
    """A sweep left running while other tests use the cluster."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.proc is not None:
            return
        # SLURM checks time limits every 30 s and sends the warning 90 s before the limit
        # (submitit's; a limit of 90 s or less is refused): with a 2-minute limit it comes at
        # the first or second check, 30 to 60 s in. 250 steps of 0.35 s outlast both; once
        # requeued the steps are fast, so the test takes one requeue (~15 s from the warning
        # to the restart), not many.
        self.suite = suite_file(self.tmp, [7], "steps: 250\ncheckpoint_every: 5\n")
        self.out, self.trace = self.tmp / "out", self.tmp / "trace"
        self.proc = sweep_process(
            self.suite, self.out, "--time-min", "2",
            env=env_for(self.trace, WDBENCH_TEST_STEP_SLEEP="0.35",
                        WDBENCH_TEST_REQUEUED_STEP_SLEEP="0"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def requeue(tmp_path_factory):
    job = Background(tmp_path_factory.mktemp("requeue"))
    yield job
    if job.proc is not None and job.proc.poll() is None:
        job.proc.kill()
        # This sweep's jobs only (out/slurm/<job id>/): under pytest-xdist another worker
        # may run its own background sweep, and cancelling by name ended its job too.
        ids = [p.name for p in (job.out / "slurm").glob("*") if p.name.isdigit()]
        if ids:
            subprocess.run(["scancel", *ids], check=False)


@pytest.mark.ddp
def test_two_process_trial_matches_one_process(tmp_path):
    # First: it needs both CPUs of the node, before the background job takes one.
    suite = suite_file(tmp_path, [0])
    single = local_reference(suite, tmp_path / "single")
    trace = tmp_path / "trace"
    done = run_sweep(suite, tmp_path / "ddp", "--processes", "2", "--cpus", "1",
                     env=env_for(trace))
    assert done.returncode == 0, done.stderr[-3000:]
    [record] = Ledger(tmp_path / "ddp").records()
    [reference] = single.values()
    assert record["env"]["num_processes"] == 2 and record["status"] == "done"
    assert len([line for line in trace.read_text().splitlines()]) == 2  # two ranks built
    for key in ("train_loss", "val_loss", "test_loss", "linf_ratio", "dist_w"):
        assert record["final"][key] == pytest.approx(reference["final"][key], rel=1e-5), key
    assert [p["val_loss"] for p in record["curve"]] == pytest.approx(
        [p["val_loss"] for p in reference["curve"]], rel=1e-5)


def test_two_sweeps_started_at_once_run_each_trial_once(tmp_path):
    # Before the background job takes a CPU: the array tasks then run side by side.
    suite = suite_file(tmp_path, [0, 1, 2, 3])
    out, trace = tmp_path / "out", tmp_path / "trace"
    env = env_for(trace, WDBENCH_TEST_STEP_SLEEP="0.02")
    procs = [sweep_process(suite, out, "--trials-per-job", "2", env=env,
                           stderr=subprocess.PIPE) for _ in range(2)]
    for proc in procs:
        # 3: it found the other sweep's trials queued or running (and said to rerun later).
        assert proc.wait(timeout=180) in (0, 3), proc.stderr.read()[-3000:]
    assert Counter(r[0] for r in runs(trace)) == Counter(range(4))
    assert len(Ledger(out).ids()) == 4


def test_smoke_sweep_gives_the_local_ledger(tmp_path, requeue):
    from bench.executors import submissions

    requeue.start()
    suite = suite_file(tmp_path, [0, 1, 2])
    reference = local_reference(suite, tmp_path / "local")
    done = run_sweep(suite, tmp_path / "slurm", "--trials-per-job", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert view(tmp_path / "slurm") == reference
    # Running it again is safe: nothing left to submit.
    again = run_sweep(suite, tmp_path / "slurm")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(submissions.submissions(tmp_path / "slurm")) == 1, "submitted again"


def test_cancelled_job_is_rerun_by_the_next_sweep(tmp_path):
    suite = suite_file(tmp_path, [3])
    reference = local_reference(suite, tmp_path / "local")
    out, trace = tmp_path / "out", tmp_path / "trace"
    detached = run_sweep(suite, out, "--detach",
                         env=env_for(trace, WDBENCH_TEST_STEP_SLEEP="0.3"))
    assert detached.returncode == 0, detached.stderr
    job = detached.stdout.strip()
    assert job.isdigit()
    wait_until(lambda: claim_step(out) >= 2, "the trial to start", 90, 0.2)
    subprocess.run(["scancel", job], check=True)
    wait_until(lambda: job not in subprocess.run(["squeue", "-h", "-o", "%A"], text=True,
                                                 capture_output=True).stdout, "the cancel", 60,
               0.2)
    assert not Ledger(out).ids()  # cancelled: pending, not failed
    again = run_sweep(suite, out, env=env_for(trace))
    assert again.returncode == 0, again.stderr[-3000:]
    assert [r[0] for r in runs(trace)] == [3, 3]
    assert view(out) == reference


def test_crashed_job_is_explained_in_its_record_and_the_sweep_goes_on(tmp_path):
    suite = suite_file(tmp_path, [4, 5])
    out = tmp_path / "out"
    done = run_sweep(suite, out, env=env_for(None, WDBENCH_TEST_CRASH_AT="4:3"))
    assert done.returncode == 1, done.stderr[-3000:]
    records = {r["config"]["seed"]: r for r in Ledger(out).records()}
    assert records[4]["status"] == "failed" and records[5]["status"] == "done"
    error = records[4]["error"]
    assert "\n" not in error and "FAILED" in error and "exit code 3" in error
    log = error.rsplit("log: ", 1)[1]
    assert Path(log).is_file(), error
    assert f"trial {records[4]['id']} failed: slurm job" in done.stderr


def test_a_stacked_group_is_one_array_task(tmp_path):
    from bench.executors import submissions
    from tests.bench.engine.stacked.helpers import F64, largest_difference

    suite = tmp_path / "suite.yaml"
    suite.write_text(f'task: "{F64}"\nbudget: smoke\nsteps: 50\nseeds: [0, 1]\n'
                     "optimizers:\n  adamw: {lr: [1.0e-2, 5.0e-2], weight_decay: 1.0}\n")
    (tmp_path / "executor.yaml").write_text(FAST)
    done = run_sweep(suite, tmp_path / "slurm")
    assert done.returncode == 0, done.stderr[-3000:]
    [submission] = submissions.submissions(tmp_path / "slurm")
    assert [len(ids) for ids in submission["tasks"].values()] == [4]
    stacked = {r["id"]: r for r in Ledger(tmp_path / "slurm").records()}
    assert {r["stacked"]["size"] for r in stacked.values()} == {4}
    for trial in suites.load(suite).trials("smoke"):
        run_trial(trial, tmp_path / "local", show_progress=False, suite="suite")
        alone = Ledger(tmp_path / "local").read(trial.id)  # as stored: NaN reads as None
        assert largest_difference(alone, stacked[trial.id])[0] <= 1e-10


def test_a_rerun_waits_for_its_job_not_for_the_record_it_replaces(tmp_path):
    from bench.executors import submissions
    from bench.executors.crashed import failed_record

    # One sweep reruns both kinds of earlier record: each trial of it has one, so a sweep that
    # took them for its results would end at its first look at the ledger, seconds before its
    # job has even started (and its trials, sleeping 0.05 s a step, have finished).
    suite = suite_file(tmp_path, [6, 8])
    reference = local_reference(suite, tmp_path / "local")
    trials = dict(zip(("failed", "stale"), suites.load(suite).trials("smoke"), strict=True))
    out = tmp_path / "out"
    for old, trial in trials.items():
        earlier = failed_record(trial, "suite", "an earlier failure")
        if old == "stale":  # finished, by code that has changed since
            earlier.update(status="done", error=None,
                           code_fingerprint="0ld0ld0ld0ld+0ld0ld0ld0ld")
        Ledger(out).write(earlier)
    done = run_sweep(suite, out, "--trials-per-job", "2",
                     env=env_for(None, WDBENCH_TEST_STEP_SLEEP="0.05"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "an earlier failure" not in done.stderr
    assert len(submissions.submissions(out)) == 1
    for old, trial in trials.items():
        # This run's record (the earlier one has no curve), there when the sweep returned.
        assert comparable(Ledger(out).read(trial.id)) == reference[trial.id], old


def test_timeout_requeues_and_resumes_to_the_uninterrupted_record(tmp_path, requeue):
    requeue.start()
    reference = local_reference(requeue.suite, tmp_path / "local")
    out, err = requeue.proc.communicate(timeout=300)
    assert requeue.proc.returncode == 0, err[-3000:]
    restarts = {r[2] for r in runs(requeue.trace)}
    assert max(restarts) >= 1, f"never requeued: {runs(requeue.trace)}"
    assert view(requeue.out) == reference
