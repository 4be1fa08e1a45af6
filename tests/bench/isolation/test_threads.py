"""The grace lingering threads get at a command's end (bench/isolation/threads.py): GRACE_S, or
$WDBENCH_THREAD_GRACE_S; a bad value is named in one warning and the default kept. (A sweep
that a never-ending thread cannot hang: tests/bench/isolation/test_sweep_isolation.py.)"""

import pytest

from bench.isolation import threads


def test_the_grace_is_the_default_or_the_variables_seconds(monkeypatch):
    monkeypatch.delenv(threads.GRACE_ENV, raising=False)
    assert threads.grace_s() == threads.GRACE_S
    monkeypatch.setenv(threads.GRACE_ENV, "0.25")
    assert threads.grace_s() == 0.25
    monkeypatch.setenv(threads.GRACE_ENV, "0")
    assert threads.grace_s() == 0


@pytest.mark.parametrize("raw", ["soon", "-1", "nan", "inf"])
def test_a_bad_grace_is_named_and_the_default_kept(monkeypatch, capsys, raw):
    monkeypatch.setenv(threads.GRACE_ENV, raw)
    assert threads.grace_s() == threads.GRACE_S
    err = capsys.readouterr().err
    assert f"{threads.GRACE_ENV}={raw!r} is not a number of seconds" in err
    assert len(err.splitlines()) == 1

