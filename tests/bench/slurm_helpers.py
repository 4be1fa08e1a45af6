"""Shared by the tests that need a real SLURM cluster: skip with the reason where there is
none, fail instead under WDBENCH_REQUIRE_SLURM=1 (CI starts a one-node cluster); the CLI run
in the test's own process (`wdbench_here`)."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout

import pytest

from tests.bench.helpers import REPO, skip_module_if


def slurm_missing() -> str | None:
    if shutil.which("sinfo") is None:
        return "no SLURM here (sinfo not on PATH); .ci/run starts a one-node cluster"
    try:
        import submitit  # noqa: F401
    except ImportError:
        return "submitit is not installed (pip install -e '.[dev]')"
    done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        return f"sinfo finds no running cluster ({done.stderr.strip()[:200]})"
    return None


def require_slurm() -> None:
    """Module-level guard: skip (or fail in CI) when no cluster answers."""
    skip_module_if(slurm_missing(), "WDBENCH_REQUIRE_SLURM")


def wdbench_here(*args: str, env: Mapping[str, str] | None = None
                 ) -> subprocess.CompletedProcess:
    """`wdbench ARGS` run in this process from the repository root, its exit code and output
    captured as a subprocess's would be. A sweep waiting for its SLURM jobs needs no process
    of its own, and a new one spends seconds importing torch (its jobs are processes anyway).
    `env` is set for this call only; the jobs get it too (sbatch passes on the environment of
    the process that submits)."""
    from bench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        patch.chdir(REPO)
        code = main(list(args))
    return subprocess.CompletedProcess(["wdbench", *args], code, out.getvalue(),
                                       err.getvalue())
