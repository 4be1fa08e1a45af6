"""Trial ids never change: a record is found again by its trial's id, so a changed id would
orphan every existing ledger (its trials would run again, and the report would count them
twice).

tests/bench/fixtures/trial_ids.json was written once, by the code at commit 913900d (before
the Trial fields were declared in one place): the ids of every trial of every suite in
bench/suites, the configs of a sample of them, of the version-1 record fixture, and of
trials with tau, compile, checkpoint_every, eval_every, optimizer and task options and every
other field set. Never regenerate it: a failure here means the id function changed.
"""

import hashlib
import json
from pathlib import Path

import pytest

from bench.trial import suite
from bench.trial.config import Trial

FIXTURES = Path(__file__).parents[1] / "fixtures"
IDS = json.loads((FIXTURES / "trial_ids.json").read_text())


@pytest.mark.parametrize("row", IDS["trials"], ids=lambda r: r["id"])
def test_a_trial_keeps_its_id(row):
    trial = Trial.from_dict(row["config"])
    assert trial.id == row["id"], row["source"]
    recorded = json.loads(json.dumps(trial.to_dict(), default=str))  # as the record holds it
    assert {k: recorded[k] for k in row["config"]} == row["config"]


def test_the_version_1_record_is_found_by_its_trials_id():
    record = json.loads((FIXTURES / "record_v1.json").read_text())
    assert Trial.from_dict(record["config"]).id == record["id"]


def test_the_fixture_covers_every_field_away_from_its_default():
    configs = [row["config"] for row in IDS["trials"]]
    defaults = Trial(task="t", optimizer="o", lr=1.0, weight_decay=0.0).to_dict()
    unvaried = [k for k in defaults if k not in ("task", "optimizer", "lr", "weight_decay")
                and all(c.get(k) == defaults[k] for c in configs)]
    assert not unvaried


@pytest.mark.parametrize("name", sorted(IDS["suites"]))
def test_a_suite_expands_to_the_same_ids(name):
    fixed = IDS["suites"][name]
    path = suite.SUITES_DIR / f"{name}.yaml"
    if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != fixed["sha256"]:
        pytest.skip(f"{path.name} was edited or removed since the fixture was written")
    assert [t.id for t in suite.load(path).trials(fixed["budget"])] == fixed["ids"]
