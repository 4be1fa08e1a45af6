"""Shared by the tests that need a real SLURM cluster: skip with the reason where there is
none, fail instead under WDBENCH_REQUIRE_SLURM=1 (CI starts a one-node cluster)."""

from __future__ import annotations

import shutil
import subprocess

from tests.bench.helpers import skip_module_if


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
