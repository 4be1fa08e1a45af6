"""The EMA timescale and rotational equilibrium through the real runner and the report: a
`tau` grid on the toy task (two decayed tensors) and on the matrix quadratic, records with
both quantities, and the report's (η, ηλ) heatmaps, τ_epoch figure, rotation figure, table
and separability in both parametrizations."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.engine.runner import run_trial
from bench.measures import separability as sep
from bench.report import render
from bench.report.data import load
from bench.report.separability import separability
from bench.trial import suite
from tests.bench.helpers import TOY

SUITE = f"""task: {TOY}
budget: smoke
mask: all
optimizers:
  adamw: {{lr: [0.01, 0.03], tau: [100, 1000]}}
  adam_l2: {{lr: [0.01, 0.03], weight_decay: [0.001, 0.01]}}
"""


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("tau")
    (root / "s.yaml").write_text(SUITE)
    records = [run_trial(t, root / "ledger", show_progress=False)
               for t in suite.load(root / "s.yaml").trials("smoke")]
    assert all(r["status"] == "done" for r in records)
    return root / "ledger", records


def test_records_carry_the_timescale(ledger):
    _, records = ledger
    for r in records:
        cfg, ts = r["config"], r["timescale"]
        assert ts["steps_per_epoch"] == 64 // 8  # the toy task: 64 examples, batches of 8
        if r["config"]["optimizer"] == "adamw":
            assert ts["tau_iter"] == pytest.approx(cfg["tau"])
            assert ts["tau_iter"] == pytest.approx(1 / (cfg["lr"] * cfg["weight_decay"]))
            assert ts["tau_epoch"] == pytest.approx(cfg["tau"] / 8)
        else:  # coupled decay: no EMA
            assert cfg["tau"] is None and ts["tau_iter"] is None and ts["tau_epoch"] is None


def test_records_carry_the_rotation_per_tensor(ledger):
    _, records = ledger
    for r in records:
        first, *rest = r["curve"]
        assert set(first["rotation"]["weight_norm"]) == {"linear.weight", "linear.bias"}
        assert "angular_update" not in first["rotation"]  # step 0: no step taken yet
        for p in rest:
            angles = p["rotation"]["angular_update"]
            assert set(angles) == {"linear.weight", "linear.bias"}
            assert 0 < angles["linear.weight"] < math.pi
            assert angles["linear.bias"] == 0.0  # one number: it can only keep its sign
        assert r["final"]["angular_update_cv"] >= 0
        assert "rotation" in r["final"]  # the final point is a curve point ...
    row = load([ledger[0]]).trials.iloc[0]
    assert "rotation" not in row.index  # ... but the flat table holds scalars only
    assert pd.notna(row["angular_update_mean"]) and pd.notna(row["weight_norm_cv"])


def test_a_full_batch_task_counts_one_step_an_epoch(tmp_path):
    from bench.trial import validation
    trial = validation.build("matrix_quadratic", "adamw",
                             {"lr": 0.05, "tau": 40, "budget": "smoke", "steps": 40,
                              "eval_every": 20})
    r = run_trial(trial, tmp_path, show_progress=False)
    assert r["status"] == "done"
    assert r["timescale"] == {"tau_iter": pytest.approx(40), "tau_epoch": pytest.approx(40),
                              "steps_per_epoch": 1}
    assert len(r["final"]["rotation"]["angular_update"]) == 1  # the one matrix W


def test_separability_in_both_parametrizations(ledger):
    (group,) = load([ledger[0]]).groups
    table = separability(group, {"adamw": "a", "adam_l2": "b"})
    rows = table.frame.set_index("optimizer")
    for opt in ("adamw", "adam_l2"):
        by_wd = dict(p.split("→") for p in rows.loc[opt, "best_wd_by_lr"].split("; "))
        by_lr_wd = dict(p.split("→") for p in rows.loc[opt, "best_lr_wd_by_lr"].split("; "))
        assert by_wd.keys() == by_lr_wd.keys() == {"0.01", "0.03"}
        for lr, wd in by_wd.items():  # the same best cell, read on the other axis
            assert float(by_lr_wd[lr]) == pytest.approx(float(lr) * float(wd), rel=2e-3)
    # A τ grid is 2 lrs × 2 τ: its cells are counted as the suite gave them.
    assert rows.loc["adamw", "cells_of"] == 4


def test_shift_is_zero_in_the_parametrization_that_transfers():
    # Best λ = 0.1/lr: λ moves a decade across a decade of lr; η·λ does not move.
    cells = [(lr, wd) for lr in (1e-3, 1e-2) for wd in (1.0, 10.0, 100.0)]
    score = pd.Series([abs(math.log10(lr * wd / 0.1)) for lr, wd in cells],
                      pd.MultiIndex.from_tuples(cells))
    by_wd = sep.numbers(score, "min")
    assert by_wd["best_by_lr"] == {1e-3: 100.0, 1e-2: 10.0}
    assert by_wd["shift_decades"] == pytest.approx(1.0) and by_wd["shift_steps"] == 1
    lr_wd = sep.lr_wd(pd.Series([c[0] for c in cells]), pd.Series([c[1] for c in cells]))
    by_lr_wd = sep.numbers(pd.Series(score.to_numpy(), pd.MultiIndex.from_arrays(
        [[c[0] for c in cells], lr_wd])), "min")
    assert by_lr_wd["shift_decades"] == 0.0 and by_lr_wd["shift_steps"] == 0


def test_the_report_renders_the_new_figures_and_table(ledger, tmp_path):
    out = tmp_path / "html"
    index = render([ledger[0]], out)
    (group,) = load([ledger[0]]).groups
    pngs = {p.name for p in (out / "plots").glob("*.png")}
    for stem in ("heatmap", "lrwd", "tau", "rotation"):
        assert any(n.startswith(f"{stem}-{group.slug}") for n in pngs), (stem, pngs)
    group_page = next(out.glob("group-*.html")).read_text()
    for stem in ("lrwd-", "tau-", "rotation-"):
        assert f'plots/{stem}' in group_page, stem
    assert "EMA timescale and rotational equilibrium" in group_page
    assert "are missing" not in group_page  # a τ grid is complete at lr × τ cells
    assert 'data-key="angular_update_cv"' in group_page and 'data-key="tau_epoch"' in group_page
    assert 'data-key="lr_wd_shift_decades"' in group_page
    configs = pd.read_csv(out / "tables" / f"configs-{group.slug}.csv")
    assert set(configs.dropna(subset=["tau"])["optimizer"]) == {"adamw"}
    assert index.exists()
    eq = pd.read_csv(next((out / "tables").glob("equilibrium-*.csv"))).set_index("optimizer")
    assert eq.loc["adamw", "tau_iter"] > 0 and pd.isna(eq.loc["adam_l2", "tau_iter"])
    md = render([ledger[0]], tmp_path / "md", fmt="md").read_text()
    assert "EMA timescale and rotational equilibrium" in md and "lr_wd_shift_decades" in md
