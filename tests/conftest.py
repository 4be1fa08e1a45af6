"""Shared test set-up: no hub, `cuda` tests skipped without a GPU, torch threads under
pytest-xdist, and the `no_hub` fixture."""

import os
import socket
import sys
import types

import pytest

# Every hub call would otherwise hang ~25 s on this network-less machine.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def pytest_configure(config):
    """Under pytest-xdist, each worker takes its share of the cores for torch's intra-op
    threads: N workers each with a pool the size of the machine oversubscribe it, and the
    pools' spinning threads then make small ops many times slower on a busy machine."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))


# The kinds of test that take seconds to a minute each (pyproject.toml's markers).
LONG_KINDS = ("gpu_check", "slurm", "ddp", "e2e", "slow", "browser")


def _order(item) -> int:
    """0: a long test of an `xdist_group` (a module's tests that share an expensive
    module-scoped fixture: one work unit, usually the longest); 1: another long test; 2: the
    rest."""
    if not any(kind in item.keywords for kind in LONG_KINDS):
        return 2
    return 0 if item.get_closest_marker("xdist_group") else 1


def pytest_collection_modifyitems(config, items):
    """The long kinds of test run first, the grouped ones before the others (in collection
    order within each): pytest-xdist hands work out in this order (make test: --dist loadgroup
    --no-loadscope-reorder, a unit at a time to a worker with two or fewer left), and a worker
    that draws a minute of work last leaves the others idle at the end. Tests marked `cuda`
    need a GPU: skipped with the reason where torch sees none."""
    items.sort(key=_order)
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


class _HubTripwire(types.ModuleType):
    """Stands in for the `datasets` library: any use of it fails the test."""

    def __getattr__(self, name):
        if name.startswith("__"):  # introspection (inspect, pickle) walking sys.modules
            raise AttributeError(name)
        raise AssertionError(f"the hub client was used (datasets.{name}) where the code "
                             "should have failed before any hub call")


@pytest.fixture
def no_hub(monkeypatch):
    """Fail the test on any network connection or use of the `datasets` library: what
    "fails fast, before any hub call" means, whatever the machine's speed."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a network connection was attempted: {args[1:] or args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setitem(sys.modules, "datasets", _HubTripwire("datasets"))
