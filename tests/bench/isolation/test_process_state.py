"""What a unit of trials changes in its process is put back after it
(bench/isolation/process_state.py): each setting of the table, also when the body raises."""

import os

import pytest
import torch

from bench.isolation import process_state
from tests.bench.defective_optimizers import PROCESS_STATE_CHANGES
from tests.bench.isolation.restore import restored_process

# What the defective submissions change in __init__, and a few more settings of the table.
CHANGES = {
    **PROCESS_STATE_CHANGES,
    "anomaly detection": lambda: torch.autograd.set_detect_anomaly(True),
    "matmul precision": lambda: torch.set_float32_matmul_precision("medium"),
    "cudnn benchmark": lambda: setattr(torch.backends.cudnn, "benchmark",
                                       not torch.backends.cudnn.benchmark),
    "working directory": lambda: os.chdir(os.path.dirname(os.getcwd())),
}


@pytest.fixture(autouse=True)
def _restored():
    with restored_process():
        yield


@pytest.mark.parametrize("name", list(CHANGES))
def test_each_change_is_seen_and_put_back(name):
    saved = process_state.snapshot()
    with process_state.preserved_process_state():
        CHANGES[name]()
        assert process_state.changed(saved), f"the snapshot does not see what {name} changes"
    assert process_state.changed(saved) == []


def test_the_state_is_put_back_when_the_body_raises():
    saved = process_state.snapshot()
    with pytest.raises(RuntimeError, match="trial failed"), \
            process_state.preserved_process_state():
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        raise RuntimeError("trial failed")
    assert torch.get_default_dtype() == torch.float32 and torch.is_grad_enabled()
    assert process_state.changed(saved) == []


def test_an_unchanged_default_device_leaves_no_device_context():
    # set_default_device("cpu") would install a mode that every torch call pays for.
    from torch.overrides import _get_current_function_mode_stack

    before = len(_get_current_function_mode_stack())
    with process_state.preserved_process_state():
        pass
    assert len(_get_current_function_mode_stack()) == before
