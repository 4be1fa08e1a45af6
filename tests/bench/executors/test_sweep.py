import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bench.cli import main
from bench.errors import UsageError
from bench.ledger.store import Ledger, load_trials
from bench.trial import suite as suites
from tests.bench.helpers import REPO, TOY, comparable, wdbench
from tests.bench.traced_toy_task import TRACED, runs

SUITE = f"""
task: "{TOY}"
budget: smoke
seeds: [0, 1]
optimizers:
  adamw: {{lr: [1.0e-2, 3.0e-2], weight_decay: [0.1, 1.0], betas: [0.9, 0.99]}}
  adam_l2: {{lr: 1.0e-2, weight_decay: [1.0e-3]}}
"""


def write(tmp_path, text, name="suite.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_suite_expands_grid_times_seeds(tmp_path):
    suite = suites.load(write(tmp_path, SUITE))
    trials = suite.trials("smoke")
    assert len(trials) == (2 * 2 + 1) * 2
    assert len({t.id for t in trials}) == len(trials)
    adamw = [t for t in trials if t.optimizer == "adamw"]
    assert all(dict(t.optimizer_options)["betas"] == (0.9, 0.99) for t in adamw)
    assert {t.seed for t in trials} == {0, 1}


def test_betas_given_as_list_of_lists_is_an_axis(tmp_path):
    text = f'task: "{TOY}"\noptimizers:\n  adamw: {{lr: 0.01, weight_decay: 0.1, ' \
           'betas: [[0.9, 0.99], [0.9, 0.999]]}\n'
    assert len(suites.load(write(tmp_path, text)).trials("smoke")) == 2


@pytest.mark.parametrize("text,expected", [
    ("task: toy\noptimizers:\n  adamw: {lr: [1e-3, -1.0], weight_decay: 0.1}\n",
     ":3: key 'adamw.lr': learning rates must be > 0"),
    ("task: toy\noptimizers:\n  adamw:\n    lr: 0.1\n    weight_decay: -1\n",
     ":5: key 'adamw.weight_decay': weight decay must be >= 0"),
    ("task: toy\nseedz: [1]\noptimizers: {adamw: {lr: 0.1, weight_decay: 0.1}}\n",
     ":2: key 'seedz': unknown key"),
    ("task: toy\noptimizers:\n  adamw: {lr: [0.1, weight_decay: 0.1}\n", ":3: malformed YAML"),
])
def test_malformed_suite_names_file_line_and_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        suites.load(path)
    assert str(err.value).startswith(str(path))
    assert expected in str(err.value)


def _ledger_view(out):
    return {r["id"]: comparable(r) for r in Ledger(out).records()}


@pytest.mark.e2e
def test_sigkilled_sweep_resumes_to_the_uninterrupted_ledger(tmp_path, capsys):
    # Only the sweep that is killed needs a process of its own: the uninterrupted one and
    # the resuming one run here (a CLI process would add only its start-up).
    suite = write(tmp_path, SUITE.replace(TOY, TRACED))
    reference = tmp_path / "reference"
    assert main(["sweep", str(suite), "--out", str(reference), "--quiet"]) == 0
    # The 4th trial hangs at its first step: the sweep is killed inside it, 3 trials done,
    # whatever the machine's speed.
    out, trace = tmp_path / "killed", tmp_path / "trace"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "WDBENCH_TEST_TRACE": str(trace), "WDBENCH_TEST_HANG_AT_BUILD": "4"}
    proc = subprocess.Popen([sys.executable, "-m", "bench", "sweep", str(suite), "--out",
                             str(out), "--quiet"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300  # only against a broken build hanging the suite
    while len(runs(trace)) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = Ledger(out).ids()
    assert len(runs(trace)) == 4 and len(partial) == 3, "killed inside the 4th trial"
    capsys.readouterr()
    assert main(["sweep", str(suite), "--out", str(out)]) == 0
    assert "3 already in" in capsys.readouterr().err
    assert _ledger_view(out) == _ledger_view(reference)
    frame = load_trials(out)
    assert len(frame) == 10 and frame.id.is_unique


@pytest.mark.e2e
def test_two_workers_give_the_same_ledger_as_one(tmp_path):
    """One sweep in this process, one in two worker processes."""
    suite = write(tmp_path, SUITE.replace("seeds: [0, 1]", "seeds: [0]"))
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["sweep", str(suite), "--out", str(one), "--quiet"]) == 0
    assert main(["sweep", str(suite), "--out", str(two), "--quiet", "--workers", "2"]) == 0
    assert _ledger_view(one) == _ledger_view(two)


@pytest.mark.e2e
def test_run_json_prints_the_final_record(tmp_path, capfd):
    # capfd: all this process writes to its stdout, the file descriptor too, must be the JSON
    assert main(["run", "--task", TOY, "--optimizer", "lion", "--budget", "smoke",
                 "--set", "lr=1e-3", "--set", "weight_decay=0.5", "--out", str(tmp_path),
                 "--json"]) == 0
    record = json.loads(capfd.readouterr().out)
    assert record["status"] == "done"
    assert record["config"]["lr"] == 1e-3 and record["config"]["weight_decay"] == 0.5
    assert record["optimizer"]["radius"] == pytest.approx(2.0)
    assert Ledger(tmp_path).has(record["id"])


def test_trials_per_gpu_puts_k_workers_on_every_gpu():
    from bench.executors.local import worker_plan

    assert worker_plan(workers=1, trials_per_gpu=4, n_gpu=2) == (8, [0, 1] * 4, None)
    assert worker_plan(workers=3, trials_per_gpu=1, n_gpu=1) == (1, [0], None)
    # Without K: --workers as before, one GPU each when there are several.
    assert worker_plan(workers=4, trials_per_gpu=None, n_gpu=2) == (4, [0, 1, 0, 1], None)
    assert worker_plan(workers=2, trials_per_gpu=None, n_gpu=0) == (2, None, None)


def test_trials_per_gpu_is_ignored_with_a_note_without_a_gpu():
    from bench.executors.local import worker_plan

    workers, gpus, note = worker_plan(workers=2, trials_per_gpu=8, n_gpu=0)
    assert (workers, gpus) == (2, None)
    assert "--trials-per-gpu 8 ignored: no GPU visible" in note


def test_trials_per_gpu_must_be_positive(tmp_path, capsys):
    assert main(["sweep", "--task", "quadratic", "--budget", "smoke", "--trials-per-gpu", "0",
                 "--out", str(tmp_path / "out")]) == 2
    assert "--trials-per-gpu must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_sweep_that_skipped_trials_held_elsewhere_exits_3_and_says_so(tmp_path, capsys):
    from bench.ledger.trial_claims import ClaimStore

    suite = write(tmp_path, SUITE.replace("seeds: [0, 1]", "seeds: [0]"))
    out = tmp_path / "out"
    held_id = suites.load(suite).trials("smoke")[0].id
    held = ClaimStore(out).acquire(held_id)  # a live claim: another sweep runs it
    assert main(["sweep", str(suite), "--out", str(out), "--quiet"]) == 3
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("1 trial(s) held by another sweep") and "again later" in line
    assert len(Ledger(out).ids()) == 4 and held_id not in Ledger(out).ids()
    ClaimStore(out).release(held)
    assert main(["sweep", str(suite), "--out", str(out), "--quiet"]) == 0
    assert len(Ledger(out).ids()) == 5


def test_the_sweep_help_documents_the_exit_status():
    res = wdbench("sweep", "--help")
    assert res.returncode == 0
    assert "exit status:" in res.stdout and "  3    trials another sweep holds" in res.stdout
