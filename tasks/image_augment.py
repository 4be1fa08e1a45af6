"""Training-time augmentation on batched uint8 tensors: random crop with zero padding and
horizontal flip (the standard CIFAR recipe), written in torch (no torchvision).

Randomness is a function of (seed, step, example index) only: each call draws one table of
per-example choices for the whole training set from a generator seeded by (seed, step), and
the batch looks up its own rows. A batch therefore gets the same augmentation whether it is
processed whole or sharded across DDP processes, and a resumed trial continues the sequence
because `seed` and `step` are buffers saved with the model.
"""

from __future__ import annotations

import torch
from torch import nn


class Augmentation(nn.Module):
    def __init__(self, num_examples: int, pad: int = 4, flip: bool = True, seed: int = 0) -> None:
        super().__init__()
        if num_examples < 1:
            raise ValueError("augmentation needs the training-set size (num_examples >= 1)")
        self.num_examples = num_examples
        self.pad = pad
        self.flip = flip
        self.register_buffer("seed", torch.tensor(seed, dtype=torch.int64))
        self.register_buffer("step", torch.tensor(0, dtype=torch.int64))

    def extra_repr(self) -> str:
        return f"num_examples={self.num_examples}, pad={self.pad}, flip={self.flip}"

    def choices(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-example (dy, dx, flip) for the current step; does not advance the step."""
        gen = torch.Generator().manual_seed(int(self.seed) * 1_000_003 + int(self.step))
        shifts = torch.randint(0, 2 * self.pad + 1, (self.num_examples, 2), generator=gen)
        flips = torch.randint(0, 2, (self.num_examples,), generator=gen).bool()
        index = index.cpu()
        if int(index.min()) < 0 or int(index.max()) >= self.num_examples:
            raise ValueError(f"example index outside the training set of {self.num_examples}")
        flips = flips[index] if self.flip else torch.zeros(len(index), dtype=torch.bool)
        return shifts[index, 0], shifts[index, 1], flips

    def forward(self, images: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        dy, dx, flips = (t.to(images.device) for t in self.choices(index))
        self.step += 1
        return augment(images, dy, dx, flips, self.pad)


def augment(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flips: torch.Tensor,
            pad: int) -> torch.Tensor:
    """Crop each (C, H, W) image at offset (dy, dx) of its zero-padded copy, then flip the
    marked ones left-right. Shapes and dtype are preserved."""
    b, _, h, w = images.shape
    if pad:
        padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
        rows = (dy[:, None] + torch.arange(h, device=images.device))[:, :, None]  # (B, H, 1)
        cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, :]  # (B, 1, W)
        batch = torch.arange(b, device=images.device)[:, None, None]
        # Advanced indexing puts the indexed dims first: (B, H, W, C) -> (B, C, H, W).
        images = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
    flipped = images.flip(-1)
    return torch.where(flips[:, None, None, None], flipped, images).contiguous()
