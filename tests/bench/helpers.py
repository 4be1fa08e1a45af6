"""Shared helpers for the bench tests: the CLI in a subprocess, records to compare, waiting on
a condition, and skipping a module whose tool is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TOY = "tests.bench.toy_task:ToyTask"


def wdbench(*args: str, env: dict[str, str] | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess from the repository root (so `tests` is importable)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what legitimately differs between runs (timings, environment)."""
    return {k: v for k, v in record.items() if k not in ("timing", "env")}


def wait_until(condition: Callable[[], Any], what: str, timeout_s: float = 120.0,
               poll_s: float = 0.02) -> Any:
    """Poll until `condition()` is truthy and return that value; fail the test, naming
    `what`, after `timeout_s`. The bound only keeps a broken build from hanging the suite; it
    is no speed assumption (a loaded machine can hold an fsync for seconds)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    pytest.fail(f"{what} did not happen within {timeout_s:.0f} s")


def skip_module_if(missing: str | None, require_env: str) -> None:
    """Skip the calling test module, with the reason `missing` (what it needs and lacks), or
    fail it where $`require_env` is 1, as CI sets it: there a skip would hide the gap."""
    if missing:
        if os.environ.get(require_env) == "1":
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing, allow_module_level=True)
