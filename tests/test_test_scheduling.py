"""`make test`'s scheduling holds: with the Makefile's pytest-xdist options, tests marked with
one `xdist_group` run on one worker (so a module fixture they share is built once). On pytest
9.2 this silently stopped (pytest-xdist issue #1386): the tests still pass, only slower."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

GROUPED = '''
import os

import pytest


def _note(name):
    with open(os.path.join(os.path.dirname(__file__), name), "w") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"])


@pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("i", range(4))
def test_grouped(i):
    _note(f"grouped-{i}")


@pytest.mark.parametrize("i", range(4))
def test_free(i):
    _note(f"free-{i}")
'''


def _makefile_xdist_options() -> list[str]:
    text = (REPO / "Makefile").read_text()
    return re.search(r"^XDIST := (.*)$", text, re.M).group(1).split()


@pytest.mark.e2e
def test_a_group_runs_on_one_worker_under_the_makefiles_options(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-n", "3", *_makefile_xdist_options(), str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grouped = {(tmp_path / f"grouped-{i}").read_text() for i in range(4)}
    free = {(tmp_path / f"free-{i}").read_text() for i in range(4)}
    assert len(grouped) == 1, f"the group ran on workers {sorted(grouped)}"
    assert len(free) > 1  # the others are still spread out
