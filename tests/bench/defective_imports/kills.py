"""Importing this module ends the process at once (exit code 3)."""

import os

os._exit(3)

from tests.bench.defective_optimizers import Conforming  # noqa: E402, F401 - never reached
