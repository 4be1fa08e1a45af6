"""Task registry: names map to `module:Class` and import lazily (keeps the CLI fast)."""

from __future__ import annotations

import importlib
from typing import Any

from tasks.base import BUDGET_NAMES, Budget, Task

_TASKS: dict[str, str] = {
    "quadratic": "tasks.quadratic:QuadraticTask",
    "matrix_quadratic": "tasks.matrix_quadratic:MatrixQuadraticTask",
    "wikitext": "tasks.wikitext:WikiTextTask",
    "cifar10": "tasks.images:Cifar10Task",
    "cifar100": "tasks.images:Cifar100Task",
    "mnist": "tasks.images:MnistTask",
    "fashion_mnist": "tasks.images:FashionMnistTask",
}


def available() -> list[str]:
    return sorted(_TASKS)


def get(name: str) -> type[Task]:
    """The Task class registered under `name`, or named directly as `module:Class`."""
    target = _TASKS.get(name) or (name if ":" in name else None)
    if target is None:
        raise KeyError(f"unknown task {name!r}; available: {', '.join(available())} "
                       "(or module:Class)")
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except Exception as err:  # ImportError, AttributeError, an error the module raises
        raise KeyError(f"cannot import task {target!r}: {type(err).__name__}: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise KeyError(f"task {target!r} is a {type(cls).__name__}, not a Task subclass "
                       "(tasks.base.Task)")
    return cls


def create(name: str, budget: str, options: dict[str, Any] | None = None,
           data_dir: str | None = None, cache_dir: str | None = None) -> Task:
    cls = get(name)
    if budget not in cls.budgets:
        raise KeyError(f"task {name!r} has no budget {budget!r}; use one of: "
                       f"{', '.join(cls.budgets)}")
    return cls(cls.budgets[budget], options, data_dir=data_dir, cache_dir=cache_dir)


__all__ = ["BUDGET_NAMES", "Budget", "Task", "available", "create", "get"]
