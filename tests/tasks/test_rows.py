"""tasks/rows.py: a batch in one indexing op holds what the row-by-row path gives."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tasks.rows import Rows, collate_rows

INDICES = [5, 0, 7, 7, 2]


def _row_by_row(rows):
    data = TensorDataset(rows)
    return torch.stack([row for (row,) in (data[i] for i in INDICES)])


def test_a_gathered_batch_equals_the_stacked_rows():
    rows = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    batch = collate_rows(Rows(rows).__getitems__(INDICES))
    assert torch.equal(batch, _row_by_row(rows)) and batch.is_contiguous()
    (row,) = Rows(rows)[3]
    assert torch.equal(row, rows[3]) and len(Rows(rows)) == 8


def test_zero_rows_hand_out_a_contiguous_zero_batch_of_the_right_size():
    data = Rows.zeros(512, 4)
    assert torch.equal(collate_rows(data.__getitems__(INDICES)), _row_by_row(data.rows))
    for n in (2, 8, 3):
        batch = data.__getitems__(list(range(n)))
        assert batch.shape == (n, 4) and batch.is_contiguous()
        assert torch.equal(batch, torch.zeros(n, 4))
        assert batch.dtype == data.rows.dtype


def test_the_data_loader_takes_the_gathered_path_and_collate_takes_items_too():
    rows = torch.arange(24.0).reshape(8, 3)
    (batch,) = DataLoader(Rows(rows), batch_size=8, collate_fn=collate_rows)
    assert torch.equal(batch, rows)
    assert torch.equal(collate_rows([(rows[1],), (rows[2],)]), rows[1:3])


def test_rows_must_be_a_matrix():
    with pytest.raises(ValueError, match="2-D"):
        Rows(torch.zeros(4))
