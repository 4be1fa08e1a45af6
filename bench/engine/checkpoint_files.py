"""Checkpoint files that hold no code: tensors through `torch.load(weights_only=True)`, the
rest as JSON.

A results directory may be shared and writable by others: a checkpoint is input, never code.
Every file is read in full before any of it is applied, so that one that does not load
safely (a pickle that would run code, a damaged or foreign file) leaves the trial untouched;
the caller then starts the trial over with a one-line warning naming the file.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import input_files

MAX_JSON_BYTES = 1 << 30  # far above any progress file: a bound, not a limit


class UnsafeCheckpoint(Exception):
    """A checkpoint file that is missing, damaged, or not loadable without running code."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"checkpoint file {path} does not load safely ({reason})")
        self.path = path


def save_tensors(obj: Any, path: Path) -> None:
    torch.save(obj, path)


def load_tensors(path: Path) -> Any:
    """A file written by `save_tensors`: tensors, numbers, strings and containers only."""
    if not path.is_file():  # torch.load would block on a named pipe
        raise UnsafeCheckpoint(path, "not a regular file" if path.exists() else "missing")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError for code, RuntimeError for a damaged zip...
        raise UnsafeCheckpoint(path, _first_line(err)) from None


def save_json(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj))


def load_json(path: Path) -> Any:
    """A file written by `save_json`: regular, bounded, JSON (a named pipe never hangs)."""
    try:
        return json.loads(input_files.read_text(path, MAX_JSON_BYTES))
    except FileNotFoundError:
        raise UnsafeCheckpoint(path, "missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UnsafeCheckpoint(path, _first_line(err)) from None


def rng_state() -> dict[str, Any]:
    """Every random generator a trial may draw from, as tensors and plain numbers."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(mt), gauss],
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict[str, Any]) -> None:
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def warn_start_over(err: UnsafeCheckpoint) -> None:
    print(f"wdbench: warning: {err}; not used, the trial starts over", file=sys.stderr)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
