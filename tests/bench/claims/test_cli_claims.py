"""`wdbench claims list` and `wdbench claims run`: the listing's content, bad ids refused in one
line, and every claim run end to end at budget smoke into one ledger (claims.json merged claim
by claim, the report rendered beside it, without figures)."""

from __future__ import annotations

import json

import pytest

from bench.claims.registry import MODULES, claims
from bench.cli import main
from bench.ledger.store import Ledger
from tests.tasks.image_fixtures import write_image_parquet
from tests.tasks.test_wikitext import HELDOUT

OUTCOMES = {"holds", "violated", "inconclusive", "not-applicable"}


def test_list_json_names_every_claim_in_order(capsys):
    assert main(["claims", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listed] == [str(i) for i in range(1, len(MODULES) + 1)]
    by_id = {c["id"]: c for c in listed}
    assert "arXiv 2404.04454" in by_id["1"]["source"]
    assert "arXiv 2310.05898" in by_id["5"]["source"]
    for claim_id, arxiv in (("7", "2510.12402"), ("8", "1711.05101"), ("9", "2405.13698"),
                            ("10", "2305.17212"), ("11", "2506.02285"), ("12", "2506.04192")):
        assert f"arXiv {arxiv}" in by_id[claim_id]["source"], claim_id
    assert by_id["9"]["threshold"] == {"low": -0.5, "high": 0.5}
    assert [r["suite"] for r in by_id["9"]["budgets"]["cpu"]] == ["wa_timescale"] * 3
    assert by_id["1"]["threshold"] == {"low": None, "high": 1.001}
    assert by_id["6"]["threshold"] == {"low": 0.99, "high": 1.01}
    assert any("β1 ≤ β2" in p for p in by_id["1"]["preconditions"])
    for c in listed:
        assert c["statement"] and c["preconditions"] and c["statistic"]["metric"]
        assert set(c["budgets"]) == {"smoke", "cpu", "full"}, c["id"]
    assert [r["suite"] for r in by_id["2"]["budgets"]["cpu"]] == ["xie_li_quadratic",
                                                                  "xie_li_wikitext_kkt"]


def test_list_text_has_one_block_per_claim(capsys):
    assert main(["claims", "list"]) == 0
    text = capsys.readouterr().out
    for claim in claims():
        assert f"{claim.id}. {claim.title} [{claim.slug}]" in text


@pytest.mark.parametrize("argv, message", [
    (["99"], "unknown claim id(s) '99'; known: 1 (xie-li-box)"),
    (["1", "nope"], "unknown claim id(s) 'nope'"),
    (["1", "--all"], "give claim ids or --all, not both"),
    ([], "name the claims to run"),
    (["1", "--workers", "0"], "--workers must be >= 1"),
])
def test_bad_run_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main(["claims", "run", *argv, "--budget", "smoke", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    """One ledger the claims' smoke runs share (later claims resume the earlier ones' trials);
    WikiText from the shared copy, CIFAR-10 in the hub's layout generated small (600 training
    and 100 test images: the claims' plumbing needs no more; decoding the real copy's 60,000
    is tests/tasks/test_images.py's), each through its task's WDBENCH_DATA_<TASK> (one
    --data-dir cannot serve two tasks); the tokenizer and decoded images cached in a
    temporary folder."""
    if not (HELDOUT / "wiki.train.tokens").is_file():
        pytest.skip(f"real WikiText files not found at {HELDOUT} (set WDBENCH_SHARED_DATA)")
    cifar10 = write_image_parquet(tmp_path_factory.mktemp("cifar10"), "cifar10")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WDBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        mp.setenv("WDBENCH_DATA_WIKITEXT", str(HELDOUT))
        mp.setenv("WDBENCH_DATA_CIFAR10", str(cifar10))
        yield tmp_path_factory.mktemp("claims")


@pytest.mark.e2e
@pytest.mark.parametrize("claim_id", [str(i) for i in range(1, len(MODULES) + 1)])
def test_claims_run_smoke_end_to_end(smoke_out, claim_id, capsys):
    # The report is rendered once, by the last claim's run, without figures (the report and
    # its figures have their own tests).
    last = claim_id == str(len(MODULES))
    rc = main(["claims", "run", claim_id, "--budget", "smoke", "--out", str(smoke_out),
               "--quiet", *(["--no-figures"] if last else ["--no-report"])])
    assert rc == 0
    said = capsys.readouterr().out
    assert said.startswith(f"claim {claim_id} (")
    body = json.loads((smoke_out / "claims.json").read_text())
    assert body["budget"] == "smoke"
    mine = {c["id"]: c for c in body["claims"]}[claim_id]
    assert mine["verdict"] in OUTCOMES and mine["reason"] and mine["source"]
    assert mine["trials"] and set(mine["trials"]) <= Ledger(smoke_out).ids()
    assert mine["threshold"] and "interval" in mine and "statistic" in mine
    # Claims judged earlier into this folder stay in claims.json, in registry order (under
    # pytest-xdist another worker may hold the earlier ids: only their order is certain).
    ids = [int(c["id"]) for c in body["claims"]]
    assert ids == sorted(set(ids)) and int(claim_id) in ids
    assert mine["judged_on"] and set(mine["trials"]) <= set(mine["judged_on"])
    if last:
        assert (smoke_out / "index.html").is_file()
        # The report gives each claim of claims.json claims.json's verdict, once.
        report = json.loads((smoke_out / "verdicts.json").read_text())["claims"]
        for listed in body["claims"]:
            [shown] = [e for e in report if e["claim"] == listed["id"]]
            assert shown["scope"] == "claims run" and shown["figure"] is None
            assert all(shown[k] == listed[k] for k in ("verdict", "statistic", "interval",
                                                        "trials"))
