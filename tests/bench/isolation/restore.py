"""Put the test process's own state back after a test that lets an optimizer change it (so a
test that fails, or the code before the fix, cannot spoil the tests after it). Plain torch
calls on purpose: not the module under test."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


@contextmanager
def restored_process() -> Iterator[None]:
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    grad = torch.is_grad_enabled()
    deterministic = torch.are_deterministic_algorithms_enabled()
    rngs = torch.get_rng_state(), np.random.get_state(), random.getstate()
    cwd = os.getcwd()
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_default_device(None)
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)
        torch.use_deterministic_algorithms(deterministic)
        torch.set_rng_state(rngs[0])
        np.random.set_state(rngs[1])
        random.setstate(rngs[2])
        os.chdir(cwd)
