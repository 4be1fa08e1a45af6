"""`wdbench audit`: a fake library (tests/bench/conformance/fake_optim_pkg) audited row by row
through the CLI, in a subprocess so that an optimizer printing to the real stdout would
corrupt the JSON; then discovery, declarations and the CSV guard without probing."""

from __future__ import annotations

import csv
import json
import time

import pytest

from bench.cli import main
from bench.conformance import audit_discovery as discovery
from bench.conformance.audit_page import csv_cell
from tests.bench.conformance import fake_optim_pkg as fake
from tests.bench.helpers import wdbench

PKG = "tests.bench.conformance.fake_optim_pkg"
TIMEOUT_S = 4
WRAPPED = "wrapper: probed around torch.optim.AdamW, weight_decay given to "
# (class, settings) -> (measured, declared, agrees, reason or a piece of it)
EXPECTED = {
    ("BlowsUpAtZeroGradient", "defaults"): ("unknown", None, None, None),
    ("CautiousMomentum", "defaults"): ("decoupled", "decoupled", True, None),
    ("CautiousMomentum", "cautious_weight_decay=True"): ("cautious", "cautious", True, None),
    ("Chatty", "defaults"): ("decoupled", None, None, None),
    ("CoupledMomentum", "defaults"): ("coupled", "coupled", True, None),
    ("CrashesInStep", "defaults"): (None, None, None, "process died (exit code 3)"),
    ("DeclaredDecoupled", "defaults"): ("decoupled", "decoupled", True, None),
    ("DeclaredNone", "defaults"): ("none", "none", True, None),
    ("EveryStepWrapper", "defaults"): ("decoupled", None, None, WRAPPED + "AdamW"),
    ("ExitsInStep", "defaults"): (None, None, None, "raised SystemExit"),
    ("GpuOnly", "defaults"): (None, None, None, "needs a GPU?"),
    ("HangsInStep", "defaults"): (None, None, None, f"did not return within {TIMEOUT_S} s"),
    ("IgnoresWeightDecay", "defaults"): ("none", "decoupled", False, None),
    ("MislabelledCoupled", "defaults"): ("decoupled", "coupled", False, None),
    ("MomentumW", "defaults"): ("coupled", "decoupled", False, None),
    ("NeedsHessian", "defaults"): (None, None, None, "create_graph=True"),
    ("NeedsHorizon", "defaults"): (None, None, None, "requires total_steps"),
    ("NoWeightDecay", "defaults"): (None, None, None, "no weight_decay argument (has l2_lambda)"),
    ("ShrinkingWrapper", "defaults"): ("decoupled", "decoupled", True,
                                       WRAPPED + "the wrapper's own weight_decay"),
    ("SwitchMomentum", "defaults"): ("decoupled", "decoupled", True, None),
    ("SwitchMomentum", "weight_decouple=False"): ("coupled", "coupled", True, None),
    ("SwitchMomentum", "fixed_decay=True"): ("fixed", "fixed", True, None),
    ("TakesModel", "defaults"): (None, None, None, "takes the model"),
    ("TwoStepSAM", "defaults"): (None, None, None, "SAM-style two-step"),
    ("UndocumentedCoupled", "defaults"): ("coupled", None, None, None),
}


# The whole module audits the fake package once, through the CLI in a child process, on one
# worker (make test: --dist loadgroup, tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("audit")]


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    start = time.monotonic()
    res = wdbench("audit", PKG, "--json", "--out", str(out), "--workers", "2",
                  "--probe-timeout-s", str(TIMEOUT_S))
    assert res.returncode == 0, res.stderr
    strict = json.loads(res.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    return strict, out, time.monotonic() - start


def _label(row: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in row["settings"].items()) or "defaults"


def test_every_row_is_the_expected_one(audited):
    data, _, _ = audited
    rows = {(r["optimizer"].split(":")[1], _label(r)): r for r in data["rows"]}
    assert set(rows) == set(EXPECTED)  # no abstract, private, re-exported or aliased extras
    for key, (measured, declared, agrees, reason) in EXPECTED.items():
        row = rows[key]
        assert (row["decay_semantics"], row["declared"], row["agrees"]) == \
            (measured, declared, agrees), (key, row)
        if reason is None:
            assert row["reason"] is None, (key, row)
        else:
            assert reason in row["reason"], (key, row)
        assert row["evidence"], key  # a line of evidence on every row
        assert bool(row["deviations"]) == (measured is not None), key


def test_json_carries_counts_deviations_and_aliases(audited):
    data, _, _ = audited
    assert data["counts"] == {"not probed": 9, "decoupled": 7, "coupled": 4, "none": 2,
                              "cautious": 1, "fixed": 1, "unknown": 1}
    assert data["disagreements"] == 3 and data["classes"] == 22
    assert data["probe"]["weight_decay"] == 0.1
    row = next(r for r in data["rows"] if r["optimizer"].endswith(":DeclaredDecoupled"))
    assert row["aliases"] == ["DecoupledAlias"]
    assert row["deviations"]["zero_gradient"]["decoupled"] < 0.01
    assert row["deviations"]["zero_gradient"]["coupled"] > 0.5
    blown = next(r for r in data["rows"] if r["optimizer"].endswith(":BlowsUpAtZeroGradient"))
    assert None in blown["deviations"]["zero_gradient"].values()  # NaN: null, valid JSON


def test_a_hang_costs_one_time_limit_not_the_audit(audited):
    _, _, seconds = audited
    # One 4 s hang among 24 rows on 2 workers; serial limits would be many times that.
    assert seconds < 60


def test_out_writes_page_csv_json_and_markdown(audited):
    data, out, _ = audited
    assert sorted(p.name for p in out.iterdir()) == ["audit.csv", "audit.json", "audit.md",
                                                     "index.html"]
    assert json.loads((out / "audit.json").read_text())["rows"] == data["rows"]
    with open(out / "audit.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(data["rows"])
    assert {r["agrees"] for r in table} == {"True", "False", ""}
    md = (out / "audit.md").read_text()
    assert "**Disagreements (3)**" in md and "MomentumW" in md
    page = (out / "index.html").read_text()
    assert "only-disagreements" in page and page.count('data-agrees="no"') == 3


def test_csv_cells_that_start_a_formula_are_defused():
    assert csv_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert [csv_cell(s) for s in ("+1", "-1", "@SUM(A1)", "\tx")] == \
        ["'+1", "'-1", "'@SUM(A1)", "'\tx"]
    assert csv_cell("decoupled") == "decoupled"
    assert csv_cell(0.5) == 0.5 and csv_cell(True) is True


def test_flags_are_found_from_the_signature():
    assert discovery.decay_flags(discovery._parameters(fake.SwitchMomentum)) == \
        {"weight_decouple": True, "fixed_decay": False}  # nesterov is not about decay
    assert discovery.settings_to_probe(discovery._candidate(fake.SwitchMomentum, [f"{PKG}:S"])) \
        == [{}, {"weight_decouple": False}, {"fixed_decay": True}]


@pytest.mark.parametrize("cls,settings,declared", [
    (fake.SwitchMomentum, {}, ("decoupled", "weight_decouple=True")),
    (fake.SwitchMomentum, {"fixed_decay": True}, ("fixed", "fixed_decay=True")),
    (fake.SwitchMomentum, {"weight_decouple": False, "fixed_decay": True},
     ("coupled", "weight_decouple=False")),
    (fake.MislabelledCoupled, {}, ("coupled", "class attribute decay_style")),
    (fake.UndocumentedCoupled, {}, (None, None)),
])
def test_declared_style(cls, settings, declared):
    flags = discovery.decay_flags(discovery._parameters(cls))
    assert discovery.declared_style(cls, flags, settings) == declared


def test_a_cautious_flag_that_masks_the_update_declares_nothing():
    class MaskedUpdate(fake._Momentum):
        """Args:
            cautious: Mask momentum updates that disagree with the gradient sign.
        """

        def __init__(self, params, lr=1e-2, weight_decay=0.0, cautious: bool = False):
            super().__init__(params, lr, weight_decay)

    flags = discovery.decay_flags(discovery._parameters(MaskedUpdate))
    assert flags == {"cautious": False}  # probed with it flipped, but it names no style
    assert discovery.declared_style(MaskedUpdate, flags, {"cautious": True}) == (None, None)


def test_a_package_that_reexports_nothing_is_read_through_its_submodules():
    _, candidates = discovery.discover(PKG + ".deep")
    # Its __all__ names two; DeclaredDecoupled, imported there too, is not exported.
    assert [c.name for c in candidates] == [f"{PKG}.deep.hidden:DeepOnly",
                                           f"{PKG}.deep.hidden:SwitchMomentum"]


@pytest.mark.parametrize("package,message", [
    ("no_such_package_xyz", "cannot import package 'no_such_package_xyz'"),
    ("json", "exports no torch.optim.Optimizer subclass"),
])
def test_bad_package_is_one_line_and_exit_2(package, message, capsys):
    assert main(["audit", package]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.parametrize("args,message", [
    (["--workers", "0"], "--workers must be >= 1"),
    (["--probe-timeout-s", "0"], "--probe-timeout-s must be > 0"),
])
def test_bad_options_exit_2(args, message, capsys):
    assert main(["audit", PKG, *args]) == 2
    assert message in capsys.readouterr().err
