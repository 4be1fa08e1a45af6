"""A damaged file in a results directory never sinks a command: a record with the right
schema but one field of the wrong type is skipped (the report) or set aside (the sweep) with
one warning naming the file and the field; a damaged claim, plan, submission or group
manifest, a file of another name, or a named pipe where a file belongs is set aside with one
warning, and `status` and `sweep` go on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.cli import main
from bench.executors import submissions
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import ClaimStore
from bench.report import render
from bench.trial import suite as suites
from tests.bench.helpers import REPO, TOY
from tests.bench.report.synthetic import synthetic_records

# (dotted field of a record, a value of the wrong type, what the warning says)
WRONG_TYPES = [
    ("id", {"a": 1}, "id: expected text"),
    ("final", [1], "final: expected a mapping"),
    ("final.val_loss", "low", "final.val_loss: expected a number, null or a mapping"),
    ("best", "x", "best: expected a mapping"),
    ("curve", {"a": 1}, "curve: expected a list of evaluation points"),
    ("curve.0", 7, "curve[0]: expected a mapping"),
    ("curve.1.step", "ten", "curve[1].step: expected an integer"),
    ("curve.1.val_loss", [0.5], "curve[1].val_loss: expected a number, null or a mapping"),
    ("per_tensor", {"w": 1}, "per_tensor.w: expected a mapping"),
    ("config.lr", "x", "config.lr: expected a number"),
    ("config.weight_decay", [1], "config.weight_decay: expected a number"),
    ("config.seed", "zero", "config.seed: expected an integer"),
    ("config.optimizer", 3, "config.optimizer: expected text"),
    ("optimizer.radius", "big", "optimizer.radius: expected a number or null"),
    ("task.data_source", [1], "task.data_source: expected text or null"),
    ("timing.wall_s", "x", "timing.wall_s: expected a number, null or a list of numbers"),
    ("env.device", {"a": 1}, "env.device: expected a number or text"),
    ("schedule", "cosine", "schedule: expected a mapping"),
    ("diverged_at", "soon", "diverged_at: expected an integer or null"),
]


def _set(record: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    node = record
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _ledger(root, damage: list[tuple[str, object]]):
    """A synthetic ledger whose first records each get one wrong-typed field."""
    records = synthetic_records(tasks=("quadratic",), optimizers=("adamw", "lion", "adam_l2"),
                                grid=2, evals=3, failed=0, seeds=(0, 1))
    assert len(records) > len(damage)
    ledger = Ledger(root)
    for i, record in enumerate(records):
        if i < len(damage):
            _set(record, *damage[i])
        path = ledger.path(str(record["id"]) if isinstance(record["id"], str) else f"x{i}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))
    return ledger, records


@pytest.mark.parametrize("field,value,message", WRONG_TYPES)
def test_a_record_with_one_wrong_typed_field_is_skipped_with_one_warning(
        field, value, message, tmp_path, capsys):
    ledger, records = _ledger(tmp_path, [(field, value)])
    read = ledger.records()
    assert len(read) == len(records) - 1
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1 and message in warnings[0] and "damaged record" in warnings[0]


def test_the_report_renders_around_every_kind_of_wrong_typed_record(tmp_path, capsys):
    ledger, records = _ledger(tmp_path / "ledger", [(f, v) for f, v, _ in WRONG_TYPES])
    page = render([ledger.root], tmp_path / "report", "md")
    assert page.is_file()
    err = capsys.readouterr().err
    for _, _, message in WRONG_TYPES:
        assert err.count(message) == 1, message


def _claim(trial_id: str, generation: int, **changes) -> str:
    claim = {"trial_id": trial_id, "generation": generation, "host": "elsewhere", "pid": 4242,
             "job_id": None, "pid_started": None, "claimed_at": 1.0, "heartbeat": 1.0,
             "step": 0}
    claim.update(changes)
    return json.dumps(claim)


# (file under the results directory, its content) that `status` and `sweep` must survive
DAMAGED_FILES = [
    ("claims/{id}.000003.json", "{not json"),
    ("claims/{id}.000004.json", _claim("{id}", 4, heartbeat="yesterday")),
    ("claims/{id}.000005.json", _claim("{id}", 5, pid=10**30)),
    ("claims/{id}.000006.json", "[1, 2]"),
    ("claims/{id}.notageneration.json", _claim("{id}", 1)),
    ("claims/zz.json", "{}"),
    ("plans/aaaa.json", "[1, 2]"),
    ("plans/bbbb.json", '{"suite": "s", "trials": 5}'),
    ("plans/cccc.json", '{"suite": "s", "trials": [[1]]}'),
    ("submissions/1.json", '{"job_id": "1", "tasks": [], "logs": ""}'),
    ("checkpoints/gabc/latest/members.json", '{"members": [[1], 2]}'),
    ("progress/gbad.json", '{"trials": ["{id}"], "step": "many", "steps": 10}'),
    ("progress/gworse.json", '{"trials": "{id}", "step": 1, "steps": null}'),
]
FIFOS = ["claims/{id}.000007.json", "plans/dddd.json", "trials/{id}.json",
         "progress/gpipe.json", "checkpoints/gdef/latest/members.json"]


def _plant(out, trial_id: str) -> None:
    for name, content in DAMAGED_FILES:
        path = out / name.format(id=trial_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content.replace("{id}", trial_id))
    for name in FIFOS:
        path = out / name.format(id=trial_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)


def _suite(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(f'task: "{TOY}"\nbudget: smoke\noptimizers:\n'
                    "  adamw: {lr: 0.01, weight_decay: 0.1}\n")
    [trial] = suites.load(path).trials("smoke")
    return path, trial


def _each_warned_once(stderr: str) -> None:
    """Warnings name damaged files, each once; no traceback."""
    warned = [line.split("damaged ", 1)[1].split(" (")[0].split(" ", 1)[-1]
              for line in stderr.splitlines() if "warning: damaged" in line]
    assert warned and len(warned) == len(set(warned)), stderr
    assert "Traceback" not in stderr, stderr


@pytest.mark.e2e
def test_status_and_sweep_survive_damaged_claims_plans_and_pipes(tmp_path):
    suite, trial = _suite(tmp_path)
    out = tmp_path / "out"
    submissions.write_plan(out, [trial.id, "p1"], "s")
    _plant(out, trial.id)
    # A subprocess, with a time limit: a named pipe read without care hangs forever.
    status = subprocess.run([sys.executable, "-m", "bench", "status", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert ("2 trials: 0 done, 0 diverged, 0 stale (older code: rerun by the next sweep), "
            "0 failed, 0 running, 2 pending") in status.stdout
    _each_warned_once(status.stderr)
    sweep = subprocess.run([sys.executable, "-m", "bench", "sweep", str(suite), "--out",
                            str(out), "--quiet"], cwd=REPO, capture_output=True, text=True,
                           timeout=300)
    assert sweep.returncode == 0, sweep.stderr
    _each_warned_once(sweep.stderr)
    assert Ledger(out).read(trial.id)["status"] == "done"
    assert ClaimStore(out).current(trial.id) is None  # released; the damaged ones aside
    assert main(["status", str(out)]) == 0
