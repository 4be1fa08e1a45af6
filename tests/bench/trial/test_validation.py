"""One validation of a whole Trial before anything is built (bench/trial/validation.py), the
ledger's tolerance of damaged records, and sweeps that tell the truth about what they did."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bench.cli import main
from bench.errors import UsageError
from bench.isolation import process_state
from bench.ledger.store import Ledger
from bench.report.cells import md_escape
from bench.trial import suite as suites
from bench.trial import untrusted_optimizer, validation
from tests.bench.defective_optimizers import PROCESS_STATE_CHANGES
from tests.bench.helpers import REPO, TOY
from tests.bench.isolation.restore import restored_process

DEFECTIVE = "tests.bench.defective_optimizers"
IMPORTS = "tests.bench.defective_imports"


def _suite(tmp_path, grid: str, extra: str = "") -> str:
    path = tmp_path / "suite.yaml"
    path.write_text(f'task: "{TOY}"\nbudget: smoke\n{extra}optimizers:\n{grid}')
    return str(path)


def test_errors_name_key_value_allowed_values_and_source():
    with pytest.raises(UsageError) as err:
        validation.build("quadratic", "adamw", {"budget": "smoke", "betas": [0.9]},
                         {"betas": "--set"})
    assert str(err.value) == ("betas=(0.9,) is not allowed; use what adamw accepts (betas "
                              "must be 2 numbers in [0, 1), got (0.9,)) (from --set)")


def test_a_mask_policy_is_checked_against_the_trials_own_task():
    """The language model's `matrices_no_embeddings` is accepted for it, and refused, naming
    the task, for the others."""
    trial = validation.build("wikitext", "adamw", {"budget": "smoke",
                                                   "mask": "matrices_no_embeddings"})
    assert trial.mask == "matrices_no_embeddings"
    with pytest.raises(UsageError, match=r"use one of all, matrices, none \(task quadratic\)"):
        validation.build("quadratic", "adamw", {"budget": "smoke",
                                                "mask": "matrices_no_embeddings"})


def test_suite_errors_name_the_file_and_line_of_the_key(tmp_path):
    path = _suite(tmp_path, "  adamw: {lr: 0.01, weight_decay: 0.1}\n", "schedule: nosuch\n")
    with pytest.raises(UsageError) as err:
        suites.load(path).trials("smoke")
    assert str(err.value).endswith(f"(from {path}:3)")


def test_the_signature_check_sees_through_the_builtins_partial():
    import optimizers

    names, open_ended = validation.accepted_options(optimizers.spec("sgdw").factory)
    assert {"lr", "weight_decay", "momentum", "decay"} <= set(names) and not open_ended


def test_every_builtin_suite_validates(tmp_path):
    for name in suites.names():
        assert suites.load(suites.SUITES_DIR / f"{name}.yaml").trials("smoke")


def _records(out):
    return {r["id"]: r for r in Ledger(out).records()}


def test_a_damaged_ledger_is_reported_survived_and_rerun(tmp_path, capsys):
    out = tmp_path / "out"
    suite = _suite(tmp_path, "  adamw: {lr: [0.01, 0.03], weight_decay: 0.1}\n")
    assert main(["sweep", suite, "--out", str(out), "--quiet"]) == 0
    first, second = sorted(_records(out))
    ledger = Ledger(out)
    ledger.path(first).write_text(ledger.path(first).read_text()[:40])  # truncated
    (ledger.trials_dir / "stray.json").write_text(json.dumps({"hello": 1}))  # wrong schema
    capsys.readouterr()
    assert main(["report", str(out), "--format", "md"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 2 and all("damaged record" in w for w in warnings)
    assert any(f"{first}.json" in w for w in warnings)
    assert main(["sweep", suite, "--out", str(out), "--quiet"]) == 0
    assert set(_records(out)) == {first, second}  # re-run; the stray file is still skipped
    assert [p.name.split(".")[0] for p in (ledger.trials_dir / "damaged").iterdir()] == [first]


def test_failed_trials_rerun_and_keep_the_exit_code_nonzero(tmp_path, capsys):
    out = tmp_path / "out"
    failing = _suite(tmp_path, "  adamw: {lr: 0.01, weight_decay: 0.1}\n",
                     "settings: {task.fail_at: 3}\n")
    assert main(["sweep", failing, "--out", str(out), "--quiet"]) == 1
    (trial_id, record), = _records(out).items()
    assert record["status"] == "failed"
    mtime = Ledger(out).path(trial_id).stat().st_mtime_ns
    assert main(["sweep", failing, "--out", str(out), "--quiet"]) == 1  # ran again
    assert Ledger(out).path(trial_id).stat().st_mtime_ns != mtime


def test_a_diverged_trial_is_a_result_and_is_kept(tmp_path):
    out = tmp_path / "out"
    suite = _suite(tmp_path, "  adamw: {lr: 0.01, weight_decay: 0.1}\n",
                   "settings: {task.explode_at: 3}\n")
    assert main(["sweep", suite, "--out", str(out), "--quiet"]) == 0
    (trial_id, record), = _records(out).items()
    assert record["status"] == "diverged"
    mtime = Ledger(out).path(trial_id).stat().st_mtime_ns
    assert main(["sweep", suite, "--out", str(out), "--quiet"]) == 0
    assert Ledger(out).path(trial_id).stat().st_mtime_ns == mtime


@pytest.mark.e2e  # a sweep with a submission runs its trials in a worker process
def test_system_exit_in_step_marks_the_trial_failed(tmp_path):
    out = tmp_path / "out"
    suite = _suite(tmp_path, f'  "{DEFECTIVE}:ExitsInStep": {{lr: 0.01, weight_decay: 0.1}}\n')
    assert main(["sweep", suite, "--out", str(out), "--quiet"]) == 1
    (record,) = _records(out).values()
    assert record["status"] == "failed" and "SystemExit" in record["error"]
    assert record["env"]["threads"] == 1


def test_the_summary_counts_only_the_suites_own_trials(tmp_path, capsys):
    out = tmp_path / "out"
    one = _suite(tmp_path, "  adamw: {lr: 0.01, weight_decay: 0.1}\n")
    assert main(["sweep", one, "--out", str(out), "--quiet"]) == 0
    other = tmp_path / "other.yaml"
    other.write_text(f'task: "{TOY}"\nbudget: smoke\noptimizers:\n'
                     "  adam_l2: {lr: 0.01, weight_decay: 0.001}\n")
    capsys.readouterr()
    assert main(["sweep", str(other), "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "adam_l2" in summary and "adamw" not in summary


def test_workers_above_the_trials_are_capped_with_a_note(tmp_path, capsys):
    suite = _suite(tmp_path, "  adamw: {lr: 0.01, weight_decay: 0.1}\n")
    assert main(["sweep", suite, "--out", str(tmp_path / "out"), "--workers", "8"]) == 0
    assert "note: --workers 8 capped to 1" in capsys.readouterr().err


def _descendants(pid: int) -> set[int]:
    """The processes below `pid` (workers are forked by a fork server, the sweep's child)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    out, todo = set(), [pid]
    while todo:
        above = todo.pop()
        below = {child for child, parent in parents.items() if parent == above}
        todo += below - out
        out |= below
    return out


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.e2e
def test_killing_the_sweep_parent_ends_its_workers(tmp_path):
    suite = _suite(tmp_path, f'  "{DEFECTIVE}:HangsInStep": {{lr: [0.01, 0.02], '
                             "weight_decay: 0.1}\n")
    marks = tmp_path / "hanging"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "WDBENCH_TEST_HANG_MARKS": str(marks)}
    parent = subprocess.Popen([sys.executable, "-m", "bench", "sweep", suite, "--out",
                               str(tmp_path / "out"), "--workers", "2", "--quiet"],
                              cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    # Deadlines here only keep a broken build from hanging the suite (no speed assumed).
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(marks.iterdir())) < 2:
        time.sleep(0.1)
    workers = {int(p.name) for p in marks.iterdir()}  # both inside the hanging step()
    assert len(workers) == 2 and workers <= _descendants(parent.pid), "no two hanging workers"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    survivors = [p for p in workers if _alive(p)]
    for pid in survivors:  # leave no hanging process behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors


def test_markdown_links_do_not_survive_escaping():
    text = md_escape("[click](javascript:alert(1)) <javascript:alert(1)>")
    assert "[click](" not in text and "<javascript:" not in text


def test_an_optimizer_that_wants_matrices_is_not_refused_by_the_tiny_construction():
    """The construction check blames only the trial's own options."""
    import optimizers
    from bench.trial.config import Trial

    def matrices_only(params, lr=1e-3, weight_decay=0.0, beta=0.9):
        if any(p.dim() < 2 for p in params):
            raise ValueError("this optimizer steps matrices only")
        if not 0 <= beta < 1:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        return optimizers.create("adamw", params, lr=lr, weight_decay=weight_decay)

    spec = optimizers.OptimizerSpec("m", matrices_only, optimizers.DecayStyle.parse("decoupled"),
                                    "custom")
    trial = Trial(task="quadratic", optimizer="m", lr=0.1, weight_decay=0.1, budget="smoke",
                  optimizer_options=(("beta", 0.5),))
    validation._construct(spec, trial, {"beta": 0.5})  # passes: not the options' fault


# A submission whose import or constructor hangs, ends its process or raises SystemExit, as
# validation meets it (run, sweep --with): one line naming it and what happened, exit 2,
# nothing written. (optimizer, time limit of its child, the error after the optimizer's name;
# a hanging one waits out its whole limit: short, as it never returns)
UNUSABLE = [
    (f"{DEFECTIVE}:HangsOnConstruction", 0.5, "constructing it on a one-element parameter "
                                              "failed: did not return within 0.5 s (does it "
                                              "hang?"),
    (f"{DEFECTIVE}:ExitsOnConstruction", 60.0, "constructing it on a one-element parameter "
                                               "failed: raised SystemExit: 0"),
    (f"{DEFECTIVE}:KillsOnConstruction", 60.0, "constructing it on a one-element parameter "
                                               "failed: its process died (exit code 3)"),
    (f"{IMPORTS}.hangs:Conforming", 0.5, "importing it failed: did not return within 0.5 s"),
    (f"{IMPORTS}.exits:Conforming", 60.0, "importing it failed: raised SystemExit: 0"),
    (f"{IMPORTS}.kills:Conforming", 60.0, "importing it failed: its process died (exit code 3)"),
]


@pytest.mark.parametrize("verb", ["sweep", "run"])
@pytest.mark.parametrize("optimizer,limit_s,error", UNUSABLE,
                         ids=[row[0].rpartition(".")[2] for row in UNUSABLE])
@pytest.mark.e2e
def test_an_optimizer_that_hangs_or_ends_its_process_is_refused_in_one_line(
        tmp_path, capsys, monkeypatch, verb, optimizer, limit_s, error):
    monkeypatch.setattr(untrusted_optimizer, "LIMIT_S", limit_s)
    out = tmp_path / "out"
    if verb == "sweep":
        args = ["sweep", _suite(tmp_path, "  adamw: {lr: 0.01, weight_decay: 0.1}\n"),
                "--with", optimizer]
    else:
        args = ["run", "--task", TOY, "--optimizer", optimizer, "--budget", "smoke"]
    with restored_process():
        assert main([*args, "--out", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"wdbench: error: optimizer {optimizer!r}: {error}")
    assert len(captured.err.splitlines()) == 1 and captured.out == ""
    assert not out.exists()


@pytest.mark.parametrize("name", list(PROCESS_STATE_CHANGES))
def test_validating_a_submission_leaves_this_process_as_it_was(name):
    """Its constructor runs in a child: what it changes (default dtype, seeds, threads) would
    otherwise reach every trial this process runs next."""
    with restored_process():
        saved = process_state.snapshot()
        trial = validation.build(TOY, f"{DEFECTIVE}:{name}",
                                 {"budget": "smoke", "lr": 0.01, "weight_decay": 0.1})
        assert trial.optimizer == f"{DEFECTIVE}:{name}"
        assert process_state.changed(saved) == []


def test_validation_still_refuses_a_submissions_bad_option_with_its_own_words():
    """The construction in a child still runs the submission's own range checks."""
    with pytest.raises(UsageError) as err:
        validation.build(TOY, "torch.optim:SGD",
                         {"budget": "smoke", "lr": 0.01, "weight_decay": 0.1, "momentum": -1})
    assert str(err.value) == ("momentum=-1 is not allowed; use what torch.optim:SGD accepts "
                              "(Invalid momentum value: -1)")
