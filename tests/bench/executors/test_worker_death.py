"""One trial, one failure: a trial that kills its worker process (os._exit, a segfault, the
out-of-memory killer's SIGKILL) or raises SystemExit inside a stacked group is recorded
`failed` with the reason, and the rest of the sweep runs (the dead worker is replaced)."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.ledger.progress import ProgressFiles
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import ClaimStore
from tests.bench.engine.stacked.helpers import F64
from tests.bench.helpers import TOY

pytestmark = pytest.mark.e2e


DEFECTIVE = "tests.bench.defective_optimizers"

# The defect, and what the failed record's error line says of the worker's end.
KILLERS = [
    ("ExitsHardInStep", "exited with code 3"),
    ("SegfaultsInStep", "killed by signal SIGSEGV"),
    ("KilledInStep", "killed by signal SIGKILL"),
]


def _suite(tmp_path, task: str, defect: str, lrs: str, seeds: str = "[0]") -> str:
    path = tmp_path / "suite.yaml"
    # The defective optimizer first: its trials are handed to the workers before adamw's.
    path.write_text(f'task: "{task}"\nbudget: smoke\nseeds: {seeds}\noptimizers:\n'
                    f'  "{DEFECTIVE}:{defect}": {{lr: {lrs}, weight_decay: 0.1}}\n'
                    f"  adamw: {{lr: {lrs}, weight_decay: 0.1}}\n")
    return str(path)


def _by_optimizer(out) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for record in Ledger(out).records():
        found.setdefault(record["config"]["optimizer"].rpartition(":")[2], []).append(record)
    return found


def test_with_one_worker_a_submission_that_ends_its_process_does_not_end_the_sweep(tmp_path):
    """The default `--workers 1` runs the built-ins in the sweep's process but a submission
    in a worker process of its own: its os._exit fails its trials, the sweep goes on."""
    out = tmp_path / "out"
    suite = _suite(tmp_path, TOY, "ExitsHardInStep", "[0.01, 0.02]")
    assert main(["sweep", suite, "--out", str(out), "--quiet"]) == 1
    found = _by_optimizer(out)
    assert [r["status"] for r in found["adamw"]] == ["done", "done"]
    assert [r["status"] for r in found["ExitsHardInStep"]] == ["failed", "failed"]
    assert all("exited with code 3" in r["error"] for r in found["ExitsHardInStep"])


@pytest.mark.parametrize("defect,reason", KILLERS, ids=[k[0] for k in KILLERS])
def test_a_trial_that_kills_its_worker_fails_alone(tmp_path, capsys, defect, reason):
    out = tmp_path / "out"
    # Two workers, two killer trials: without a replacement no worker is left for adamw.
    suite = _suite(tmp_path, TOY, defect, "[0.01, 0.02]")
    assert main(["sweep", suite, "--out", str(out), "--workers", "2", "--quiet"]) == 1
    found = _by_optimizer(out)
    assert [r["status"] for r in found["adamw"]] == ["done", "done"]
    assert [r["status"] for r in found[defect]] == ["failed", "failed"]
    for record in found[defect]:
        assert reason in record["error"] and "\n" not in record["error"]
        assert record["code_fingerprint"] and record["config"]["lr"] in (0.01, 0.02)
    assert not ClaimStore(out).all_current() and not ProgressFiles(out).read_all()


def test_a_stacked_group_whose_worker_dies_fails_its_members(tmp_path):
    out = tmp_path / "out"
    suite = _suite(tmp_path, F64, "ExitsHardInStep", "[0.01, 0.05]", "[0, 1]")
    assert main(["sweep", suite, "--out", str(out), "--workers", "2", "--quiet"]) == 1
    found = _by_optimizer(out)
    assert [r["status"] for r in found["adamw"]] == ["done"] * 4
    assert all(r["stacked"]["size"] == 4 for r in found["adamw"])
    assert [r["status"] for r in found["ExitsHardInStep"]] == ["failed"] * 4
    assert all("exited with code 3" in r["error"] for r in found["ExitsHardInStep"])


def test_system_exit_in_a_stacked_group_fails_its_trials_and_the_sweep_goes_on(tmp_path,
                                                                               capsys):
    out = tmp_path / "out"
    suite = _suite(tmp_path, F64, "ExitsInStep", "[0.01, 0.05]", "[0, 1]")
    assert main(["sweep", suite, "--out", str(out)]) == 1
    found = _by_optimizer(out)
    assert [r["status"] for r in found["adamw"]] == ["done"] * 4
    assert [r["status"] for r in found["ExitsInStep"]] == ["failed"] * 4
    assert all("SystemExit" in r["error"] for r in found["ExitsInStep"])
    err = capsys.readouterr().err
    assert "a stacked group failed (SystemExit" in err


def test_system_exit_in_a_submitted_stacked_group_ends_in_a_report(tmp_path, capsys):
    out = tmp_path / "out"
    # --no-figures: the report's figures have their own tests; here it only has to be built
    code = main(["sweep", "--task", "quadratic", "--budget", "smoke", "--with",
                 f"{DEFECTIVE}:ExitsInStep", "--out", str(out), "--quiet", "--no-figures"])
    assert code == 1
    found = _by_optimizer(out)
    assert found["ExitsInStep"] and all(r["status"] == "failed"
                                        for r in found["ExitsInStep"])
    baselines = [r for name, rs in found.items() if name != "ExitsInStep" for r in rs]
    assert baselines and all(r["status"] == "done" for r in baselines)
    assert (out / "report" / "index.html").is_file()
    assert not list((out / "report").rglob("*.png"))  # --no-figures reached the report


def test_a_worker_dying_in_a_groups_fallback_fails_one_trial_and_reruns_the_unstarted(
        tmp_path):
    out = tmp_path / "out"
    suite = _suite(tmp_path, F64, "ExitsHardAloneAtLargeLr", "[0.01, 0.05]", "[0, 1]")
    assert main(["sweep", suite, "--out", str(out), "--workers", "2", "--quiet"]) == 1
    found = _by_optimizer(out)
    assert [r["status"] for r in found["adamw"]] == ["done"] * 4
    defect = {(r["config"]["lr"], r["config"]["seed"]): r
              for r in found["ExitsHardAloneAtLargeLr"]}
    assert len(defect) == 4  # every trial of the fallen-back group has its record
    for (lr, _), record in defect.items():
        assert record["status"] == ("failed" if lr == 0.05 else "done")
        assert lr == 0.01 or record["error"] == "worker process exited with code 3"
    assert not ClaimStore(out).all_current() and not ProgressFiles(out).read_all()
