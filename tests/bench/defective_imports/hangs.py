"""Importing this module never returns."""

import time

while True:
    time.sleep(0.05)

from tests.bench.defective_optimizers import Conforming  # noqa: E402, F401 - never reached
