"""The stacked-vs-lone forward+backward timer and its command line."""

from __future__ import annotations

import pytest

import tasks
from bench.perf.stacked_timing import main, time_forward_backward


def test_timer_measures_both_sides():
    timing = time_forward_backward(tasks.create("quadratic", "smoke"), [0, 1, 2], repeats=3,
                                   warmup=1)
    assert timing.trials == 3 and timing.mode == "native"
    assert timing.stacked_s > 0 and timing.lone_s > 0 and timing.lone_cpu_s > 0
    assert timing.speedup == timing.lone_s / timing.stacked_s
    with pytest.raises(ValueError, match="repeats"):
        time_forward_backward(tasks.create("quadratic", "smoke"), [0], repeats=0)


def test_command_line(capsys):
    assert main(["--task", "matrix_quadratic", "--budget", "smoke", "--trials", "2",
                 "--repeats", "2"]) == 0
    assert "matrix_quadratic/smoke T=2 native" in capsys.readouterr().out
    for argv, message in ((["--task", "nope"], "unknown task 'nope'"),
                          (["--trials", "0"], "--trials"),
                          (["--set", "kind=weird"], "task.kind")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
