"""Shared helpers for engine tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
