"""Helpers of the stacked-engine tests: a float64 quadratic and a record comparison."""

from __future__ import annotations

import glob
import math
import os
import time
from typing import Any

import torch

from tasks.matrix_quadratic import MatrixQuadraticTask
from tasks.quadratic import QuadraticTask

F64 = "tests.bench.engine.stacked.helpers:QuadraticF64"
MATRIX_F64 = "tests.bench.engine.stacked.helpers:MatrixQuadraticF64"
SKIP = ("timing", "env", "stacked")  # what legitimately differs between the two runs


class Float64:
    """Mixin: a task in float64 throughout, so that stacked and lone runs differ only by the
    rounding of differently ordered float64 ops. With $WDBENCH_TEST_HANG_ONCE=GLOB, a
    stacked group's next batch waits forever once a file matches GLOB (a sweep stopped at a
    known point, e.g. after its first checkpoint, to be killed there)."""

    def build_model(self, seed: int) -> torch.nn.Module:
        return super().build_model(seed).double()

    def collate(self, examples: list[Any]) -> torch.Tensor:
        return super().collate(examples).double()

    def gather_train(self, indices: torch.Tensor) -> torch.Tensor:
        pattern = os.environ.get("WDBENCH_TEST_HANG_ONCE")
        while pattern and glob.glob(pattern):
            time.sleep(0.05)
        return super().gather_train(indices).double()

    def probe_batches(self) -> list[Any]:
        return [b.double() for b in super().probe_batches()]


class QuadraticF64(Float64, QuadraticTask):
    name = "quadratic_f64"


class MatrixQuadraticF64(Float64, MatrixQuadraticTask):
    """The matrix quadratic (Muon's task)."""

    name = "matrix_quadratic_f64"


def largest_difference(a: Any, b: Any, path: str = "") -> tuple[float, str]:
    """The largest relative difference of two records' numbers (|a-b| / max(|a|, |b|)) and
    where; anything that is not a number must be equal (AssertionError naming it)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) - set(SKIP) == set(b) - set(SKIP), path
        found = (0.0, "")
        for key in a:
            if key in SKIP and not path:
                continue
            found = max(found, largest_difference(a[key], b[key], f"{path}/{key}"))
        return found
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        found = (0.0, "")
        for i, (x, y) in enumerate(zip(a, b)):
            found = max(found, largest_difference(x, y, f"{path}[{i}]"))
        return found
    if isinstance(a, float) and isinstance(b, float) and not (math.isnan(a) and math.isnan(b)):
        if a == b:
            return 0.0, path
        return abs(a - b) / max(abs(a), abs(b)), path
    assert a == b or (a != a and b != b), f"{path}: {a!r} != {b!r}"
    return 0.0, path
