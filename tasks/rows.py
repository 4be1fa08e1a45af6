"""A training set of equal-length rows whose batch is one tensor operation.

The synthetic tasks' step is a few microseconds of arithmetic, so fetching a batch row by row
(a `TensorDataset` item each, then `torch.stack`) cost more than the step. `Rows.__getitems__`,
which DataLoader and the runner call with a batch's indices, gathers them in one indexing op;
a set of zero rows (the full-batch instances) hands out a view of one zero block, no copy.
Either way the batch holds the values the row-by-row path gives; `collate_rows` takes both.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset


class Rows(Dataset):
    """Row i is `(rows[i],)`, as in a one-tensor `TensorDataset`."""

    def __init__(self, rows: Tensor, zero: bool = False) -> None:
        if rows.ndim != 2:
            raise ValueError(f"rows must be 2-D (examples x features), got shape "
                             f"{tuple(rows.shape)}")
        self.rows = rows
        # The zero block a batch of an all-zero set is a view of (grown on demand).
        self._zeros = torch.zeros(0, rows.shape[1], dtype=rows.dtype) if zero else None

    @classmethod
    def zeros(cls, n: int, width: int) -> Rows:
        """n zero rows of `width` float32 entries, stored as one."""
        return cls(torch.zeros(1, width).expand(n, width), zero=True)

    def __len__(self) -> int:
        return self.rows.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor]:
        return (self.rows[i],)

    def __getitems__(self, indices: list[int]) -> Tensor:
        """The batch of rows `indices`, a contiguous (len(indices), width) tensor."""
        if self._zeros is None:
            return self.rows[indices]
        if self._zeros.shape[0] < len(indices):
            self._zeros = torch.zeros(len(indices), self.rows.shape[1], dtype=self.rows.dtype)
        return self._zeros[:len(indices)]


def collate_rows(examples: Tensor | list[Any]) -> Tensor:
    """A batch from `Rows.__getitems__` as it is; a list of `(row,)` items (any map-style
    access without `__getitems__`) stacked."""
    if isinstance(examples, Tensor):
        return examples
    return torch.stack([row for (row,) in examples])
