"""Importing this module raises SystemExit(0)."""

raise SystemExit(0)

from tests.bench.defective_optimizers import Conforming  # noqa: E402, F401 - never reached
