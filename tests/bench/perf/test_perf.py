"""`make perf` runs and counts bytes as documented (no timing asserts)."""

import math

import pytest
import torch

import optimizers
from bench.ledger.store import Ledger
from bench.perf import BENCHMARKS
from bench.perf.__main__ import main as perf_main
from bench.perf.optimizer_step import main, nominal_bytes


def test_nominal_bytes_follow_the_optimizer_state():
    expected = {"adamw": 28, "adam_l2": 28, "lion": 20, "signgd_wd": 12, "sgdw": 20}
    for name, per_param in expected.items():
        params = [torch.nn.Parameter(torch.randn(10)) for _ in range(3)]
        for p in params:
            p.grad = torch.randn(10)
        opt = optimizers.create(name, params)
        opt.step()
        assert nominal_bytes(opt, params) == per_param * 30, name


def test_optimizer_step_benchmark_prints_a_row_per_builtin(capsys):
    assert main(["--params", "2000", "--tensors", "4", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    from optimizers.builtins import GRID

    # Every built-in (a submission another test registered in this process is not one).
    for name in (row.name for row in GRID):
        if optimizers.spec(name).direction != "muon":  # matrix-only: not in this vector table
            assert f"| {name} " in out
    assert "torch AdamW (fused)" in out


def test_perf_entry_point_runs_named_benchmarks(capsys, monkeypatch):
    import bench.perf.optimizer_step as step

    monkeypatch.setattr(step, "main", lambda argv=None: print("ran") or 0)
    assert perf_main(["optimizer_step"]) == 0
    assert "optimizer_step" in BENCHMARKS
    assert "ran" in capsys.readouterr().out


def test_runner_overhead_benchmark_compares_the_runner_with_the_bare_loop(capsys):
    from bench.perf.runner_overhead import main as overhead_main

    assert "runner_overhead" in BENCHMARKS
    assert overhead_main(["--steps", "30", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| bare torch loop (AdamW) " in out and "| bench.engine.runner.run_trial " in out
    assert "timing.step_s" in out


def test_runner_overhead_rejects_a_non_positive_step_count(capsys):
    from bench.perf.runner_overhead import main as overhead_main

    with pytest.raises(SystemExit) as exc:
        overhead_main(["--steps", "0"])
    assert exc.value.code == 2 and "must be at least 1" in capsys.readouterr().err

def test_stacked_benchmark_times_both_ways_and_compares_their_records(tmp_path):
    from bench.perf.stacked import HEADER, bare_loop_us, row
    from bench.trial.config import Trial

    trials = [Trial("quadratic", "adamw", lr=lr, weight_decay=1.0, seed=seed, budget="smoke",
                    steps=20) for lr in (0.01, 0.05) for seed in (0, 1)]
    cells = dict(zip(HEADER, row("quadratic", trials, 20, tmp_path)))
    assert len(cells) == len(HEADER)
    assert (cells["workload"], cells["trials"], cells["steps"]) == ("quadratic", "4", "20")
    assert cells["stacking"] == "native"
    assert float(cells["sequential CPU s"]) > 0 and float(cells["stacked CPU s"]) > 0
    ratio = float(cells["stacked / sequential"])
    assert cells["target"] == f"≤ 0.10 {'met' if ratio <= 0.10 else 'not met'}"
    headline = float(cells["max rel. diff val/test loss, linf_ratio"])
    assert headline < 1e-5  # float32 rounding only: the same trials both ways
    assert float(cells["max rel. diff any final metric"]) >= headline
    assert bare_loop_us(20) > 0
    ledgers = [Ledger(tmp_path / name) for name in ("sequential", "stacked")]
    assert ledgers[0].ids() == ledgers[1].ids() == {t.id for t in trials}
    assert {r["stacked"]["size"] for r in ledgers[1].records()} == {4}
    assert {r["stacked"]["mode"] for r in ledgers[1].records()} == {"native"}
    # The two difference columns are those of the records the two runs wrote.
    alone, stacked = ({r["id"]: r["final"] for r in ledger.records()} for ledger in ledgers)
    headline_diffs = _relative_differences(alone, stacked, ("val_loss", "test_loss", "linf_ratio"))
    anywhere = _relative_differences(alone, stacked)
    assert (cells["max rel. diff val/test loss, linf_ratio"],
            cells["max rel. diff any final metric"]) == (f"{max(headline_diffs):.1e}",
                                                         f"{max(anywhere):.1e}")


def _relative_differences(a, b, keys=None):
    """|x - y| / max(|x|, |y|) of every finite final metric (but accuracies) of each trial."""
    out = [0.0]
    for trial_id, final in a.items():
        for key, x in final.items():
            y = b[trial_id].get(key)
            if (keys is None or key in keys) and not key.endswith("accuracy") and \
                    isinstance(x, float) and isinstance(y, float) and math.isfinite(x + y):
                out.append(abs(x - y) / max(abs(x), abs(y), 1e-300))
    return out


def test_the_difference_columns_pool_the_right_metrics():
    from bench.perf.stacked import HEADLINE, _largest_final_difference

    a = {"t1": {"final": {"val_loss": 2.0, "fw_gap_rel": 1e-3, "val_accuracy": 0.5,
                          "linf_ratio": float("nan")}},
         "t2": {"final": {"val_loss": 1.0, "test_loss": 4.0}}}
    b = {"t1": {"final": {"val_loss": 2.0, "fw_gap_rel": 3e-3, "val_accuracy": 0.9,
                          "linf_ratio": 1.0}},
         "t2": {"final": {"val_loss": 1.0, "test_loss": 5.0}}}
    # Headline: only t2's test loss differs (t1's linf_ratio is NaN on one side).
    assert _largest_final_difference(a, b, HEADLINE) == pytest.approx(0.2)
    # Any metric: t1's fw_gap_rel, relative to the larger; accuracies never count.
    assert _largest_final_difference(a, b) == pytest.approx(2 / 3)
    assert _largest_final_difference(a, a) == 0.0


def test_stacked_benchmark_is_in_make_perf():
    assert BENCHMARKS["stacked"] == "bench.perf.stacked"


def test_stacked_benchmark_times_the_vmap_loop_choice_apart(tmp_path, monkeypatch):
    from bench.engine.stacked import choice
    from bench.perf.stacked import time_the_choice
    from bench.trial.config import Trial
    from tests.tasks.image_fixtures import write_image_parquet

    monkeypatch.setenv("WDBENCH_CACHE", str(tmp_path / "cache"))
    data = write_image_parquet(tmp_path / "mnist", "mnist", n_train=40, n_test=8)
    options = {"task.train_size": 32, "task.val_size": 8, "task.test_size": 8,
               "task.width": 8}
    trials = [Trial("mnist", "adamw", lr=lr, weight_decay=0.1, seed=0, budget="smoke",
                    steps=2).with_settings(options) for lr in (1e-3, 3e-3)]
    note = time_the_choice(trials, str(data))
    assert note.startswith("mnist: vmap or loop") and "for T = 2" in note
    assert (tmp_path / "cache" / choice.CACHE_FILE).exists()
    quadratic = [Trial("quadratic", "adamw", lr=lr, weight_decay=1.0, seed=0, budget="smoke")
                 for lr in (0.01, 0.05)]
    assert time_the_choice(quadratic) is None  # native: nothing to choose
