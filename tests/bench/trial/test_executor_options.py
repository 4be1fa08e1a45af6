"""Executor settings: one dataclass filled from the budget, the suite's `executor:`, a
config file and flags; bad input is one line, exit 2, nothing submitted or written."""

from __future__ import annotations

import argparse
import os
import subprocess

import pytest

from bench.errors import UsageError
from bench.executors.slurm import check_cluster
from bench.trial import suite as suites
from bench.trial.executor_options import ExecutorOptions, add_executor_arguments
from tests.bench.helpers import TOY
from tests.bench.slurm_helpers import slurm_missing

SUITE = f'task: "{TOY}"\nbudget: smoke\noptimizers:\n  adamw: {{lr: 0.01, weight_decay: 0.1}}\n'


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_executor_arguments(parser)
    return parser.parse_args(list(argv))


def test_flags_override_the_file_which_overrides_the_suite(tmp_path):
    config = tmp_path / "executor.yaml"
    config.write_text("partition: big\ntime_min: 30\nsbatch: {qos: high}\n")
    options = ExecutorOptions.from_args(
        _args("--executor", "slurm", "--executor-config", str(config), "--time-min", "5"),
        {"partition": "small", "cpus": 3, "time_min": 60})
    assert (options.kind, options.partition, options.time_min, options.cpus) == \
        ("slurm", "big", 5, 3)
    assert options.sbatch == {"qos": "high"}
    full = options.with_budget_defaults("full")
    assert full.gpus == 1 and full.cpus == 3 and full.time_min == 5  # set values stay
    assert ExecutorOptions().with_budget_defaults("smoke").gpus == 0


@pytest.mark.parametrize("mapping,message", [
    ({"partitoin": "x"}, "unknown executor key 'partitoin'; use one of: kind, partition"),
    ({"time_min": "long"}, "executor key 'time_min' must be a int (got 'long')"),
    ({"sbatch": "--qos=x"}, "executor key 'sbatch' must be a dict"),
])
def test_bad_executor_mappings_are_named(mapping, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ExecutorOptions.from_args(_args(), mapping)


def test_suite_executor_key_is_checked_with_its_line(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE + "executor:\n  gpu: 1\n")
    with pytest.raises(UsageError) as err:
        suites.load(path)
    assert str(err.value).startswith(f"{path}:5: key 'executor': unknown executor key 'gpu'")
    path.write_text(SUITE + "executor: {partition: debug, trials_per_job: 4}\n")
    assert suites.load(path).executor == {"partition": "debug", "trials_per_job": 4}


def _refused(tmp_path, capsys, *flags: str) -> str:
    """The sweep command in this process (a subprocess costs seconds of imports)."""
    from bench.cli import main

    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    code = main(["sweep", str(suite), "--out", str(out), "--executor", "slurm", *flags])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists(), "nothing may be written on bad input"
    return err


def test_no_slurm_reachable_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    err = _refused(tmp_path, capsys)
    assert "no SLURM cluster reachable (sinfo is not on PATH)" in err


def test_unknown_key_in_executor_file(tmp_path, capsys):
    config = tmp_path / "x.yaml"
    config.write_text("cpu: 2\n")
    assert "unknown executor key 'cpu'" in _refused(tmp_path, capsys, "--executor-config",
                                                    str(config))


def test_local_executor_refuses_processes_and_detach(tmp_path, capsys):
    from bench.cli import main

    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    for flags, message in ((["--processes", "2"], "processes > 1 needs --executor slurm"),
                           (["--detach"], "--detach needs --executor slurm")):
        code = main(["sweep", str(suite), "--out", str(tmp_path / "o"), *flags])
        err = capsys.readouterr().err
        assert code == 2 and message in err, err
    assert not (tmp_path / "o").exists()


needs_slurm = pytest.mark.skipif(
    slurm_missing() is not None and os.environ.get("WDBENCH_REQUIRE_SLURM") != "1",
    reason=str(slurm_missing()))


@pytest.mark.slurm
@needs_slurm
def test_unknown_partition_and_gpus_on_a_gpu_less_cluster_are_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, "--partition", "nosuch")
    assert "unknown SLURM partition 'nosuch'; this cluster has: " in err
    gres = subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True).stdout
    if "gpu" not in gres:
        assert "1 GPU(s) per trial requested but partition" in _refused(tmp_path, capsys,
                                                                        "--gpus", "1")


@pytest.mark.slurm
@needs_slurm
def test_time_limit_shorter_than_a_measured_trial_is_refused(tmp_path):
    record = {"id": "x", "status": "done", "timing": {"wall_s": 600.0},
              "config": {"task": TOY, "budget": "smoke"}}
    from bench.executors.slurm import measured_trial_s
    from bench.ledger.store import Ledger

    Ledger(tmp_path / "ledger").write(record)
    from bench.trial.config import Trial

    trial = Trial(task=TOY, optimizer="adamw", lr=0.01, weight_decay=0.1, budget="smoke")
    assert measured_trial_s(tmp_path / "ledger", trial) == 600.0
    with pytest.raises(UsageError, match="time limit 5 min is shorter than this budget's "
                                         r"measured trial time \(10.0 min\)"):
        check_cluster(ExecutorOptions(kind="slurm", time_min=5), 600.0)
    check_cluster(ExecutorOptions(kind="slurm", time_min=11), 600.0)
