"""Synthetic quadratics with exact answers (SPEC §4).

    L(x) = ½ (x - c)ᵀ H (x - c),   H = Q diag(h) Qᵀ

`kind=diagonal` has Q = I, `kind=dense` a random rotation. The spectrum h is log-spaced over
[1, cond]; c ~ N(0, (kappa / weight_decay_ref)²), so with lambda = weight_decay_ref a share
P(|z| > 1 / kappa) of the |c_i| lies outside the box of radius 1/lambda (half of them at
kappa = 1.5). Decoupled decay targets the box optimum, coupled decay the l2 optimum
(H + lambda I)⁻¹ H c; both are known exactly for any lambda (`box_optimum`, `l2_optimum`).

Noisy gradients (`noise > 0`): the training set is N vectors xi_i with sum_i xi_i = 0 and
loss_i = L(x) + xi_iᵀ x, so a minibatch gradient is ∇L plus zero-mean noise and the full-batch
gradient (the probe) is exact.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset

from tasks.base import Budget, Task
from tasks.box_qp import solve_box_qp
from tasks.options import SCALE, SEED, OneOf, TaskOption, between
from tasks.rows import Rows, collate_rows

KINDS = ("diagonal", "dense")

# Bounds that keep an instance buildable: a dense H is dim x dim float64 (4096: 128 MiB,
# its QR a few seconds), a diagonal one and c are dim-vectors, the noise vectors
# noise_samples x dim float64; cond beyond 1e12 is lost in float64 rounding.
MAX_DIM = 1_000_000
MAX_DENSE_DIM = 4096
MAX_NOISE_SAMPLES = 65_536
MAX_NOISE_ENTRIES = 2**27  # noise_samples x dim: 1 GiB
MAX_COND = 1e12

# `--set task.NAME=value`; the instance (c, H, noise) depends only on these.
OPTIONS = (
    TaskOption("dim", 20, int, "dimension of x", between(1, MAX_DIM)),
    TaskOption("kind", "dense", str, "H: dense (random rotation) or diagonal", OneOf(KINDS)),
    TaskOption("kappa", 1.5, float, "scale of c relative to the box radius "
               "1/weight_decay_ref", SCALE),
    TaskOption("cond", 10.0, float, "condition number of H", between(1, MAX_COND)),
    TaskOption("noise", 0.0, float, "per-example gradient noise std relative to rms(grad L(0)); "
               "0 = full batch", between(0, 1e6)),
    TaskOption("noise_samples", 256, int, "training-set size N when noise > 0",
               between(1, MAX_NOISE_SAMPLES)),
    TaskOption("instance_seed", 0, int, "fixes c, H and the noise vectors (same for every "
               "trial)", SEED),
    TaskOption("weight_decay_ref", 2.0, float, "the lambda the instance is scaled for",
               SCALE),
    TaskOption("init_scale", 0.05, float, "x0 ~ N(0, init_scale^2), seeded by the trial seed",
               between(0, 1e6)),
)

# Full batch: every row is zero, so any batch gives the exact gradient, under any split
# across processes. Many rows keep the runner's epochs (and DataLoader restarts) long.
FULL_BATCH_ROWS_PER_BATCH = 64


class QuadraticModel(nn.Module):
    """One parameter vector x; the loss of example i is L(x) + xi_iᵀ x."""

    def __init__(self, c: Tensor, hessian: Tensor, x0: Tensor, noisy: bool) -> None:
        super().__init__()
        self.x = nn.Parameter(x0.clone())
        # Buffers follow the model to its device; not persistent: the state is just x.
        self.register_buffer("c", c, persistent=False)
        self.register_buffer("hessian", hessian, persistent=False)  # 1-D: the diagonal
        self.noisy = noisy  # False: every xi is zero, skip the term (the hot loop is tiny)

    def _hess_times(self, d: Tensor) -> Tensor:
        return self.hessian * d if self.hessian.ndim == 1 else self.hessian @ d

    def forward(self, xi: Tensor, per_example: bool = False) -> Tensor:
        """Mean loss over the rows of xi, or the (B,) per-example losses."""
        d = self.x - self.c
        loss = 0.5 * (d @ self._hess_times(d))
        if per_example:
            return loss + xi @ self.x if self.noisy else loss.expand(xi.shape[0])
        # Fewer autograd nodes than per-example losses + mean: this is the whole hot loop.
        return loss + xi.mean(dim=0) @ self.x if self.noisy else loss

    @torch.no_grad()
    def full_gradient(self) -> Tensor:
        """The exact full-batch gradient H (x - c), without autograd."""
        return self._hess_times(self.x - self.c)


class QuadraticTask(Task):
    name = "quadratic"
    default_mask = "all"  # x is a vector: the `matrices` policy would decay nothing
    headline_figure = "linf"  # the point of the task: does x end in its box?
    declared_options = OPTIONS
    stacking = "native"  # stacked_losses: one batched expression for T trials
    budgets = {
        "smoke": Budget("smoke", steps=300, batch_size=8, eval_every=100, eval_batch_size=8,
                        probe_batches=1),
        "cpu": Budget("cpu", steps=20_000, batch_size=8, eval_every=1_000, eval_batch_size=8,
                      probe_batches=1),
        "full": Budget("full", steps=100_000, batch_size=8, eval_every=5_000,
                       eval_batch_size=8, probe_batches=1),
    }

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        dim = options["dim"]
        if options["kind"] == "dense" and dim > MAX_DENSE_DIM:
            raise ValueError(f"task.dim={dim!r} is not allowed; use at most {MAX_DENSE_DIM} "
                             "with task.kind=dense (H is dim x dim), or task.kind=diagonal")
        if options["noise"] > 0 and options["noise_samples"] * dim > MAX_NOISE_ENTRIES:
            raise ValueError(f"task.noise_samples={options['noise_samples']!r} is not allowed; "
                             f"use at most {MAX_NOISE_ENTRIES // dim} at task.dim={dim} (the "
                             f"noise vectors are noise_samples x dim)")

    def __init__(self, budget: Budget, options: Mapping[str, Any] | None = None,
                 data_dir: str | None = None, cache_dir: str | None = None) -> None:
        super().__init__(budget, options, data_dir=data_dir, cache_dir=cache_dir)
        o = self.options
        self.dim, self.kind = o["dim"], o["kind"]
        gen = torch.Generator().manual_seed(o["instance_seed"])
        self.c = torch.randn(self.dim, generator=gen, dtype=torch.float64) * (
            o["kappa"] / o["weight_decay_ref"])
        self.spectrum = torch.logspace(0.0, math.log10(o["cond"]), self.dim,
                                       dtype=torch.float64)
        self.rotation: Tensor | None = None  # Q; None: diagonal H, never built densely
        if self.kind == "dense":
            q, r = torch.linalg.qr(torch.randn(self.dim, self.dim, generator=gen,
                                               dtype=torch.float64))
            self.rotation = q * torch.sign(torch.diagonal(r))  # Haar-distributed
        self.noise = self._noise_vectors()
        self._box_cache: dict[tuple[float, float | None], Tensor] = {}

    @property
    def hessian(self) -> Tensor:
        """H = Q diag(h) Qᵀ as a dense float64 matrix."""
        if self.rotation is None:
            return torch.diag(self.spectrum)
        h = (self.rotation * self.spectrum) @ self.rotation.T
        return (h + h.T) / 2

    def _noise_vectors(self) -> Tensor:
        o = self.options
        if o["noise"] == 0:
            rows = self.budget.batch_size * FULL_BATCH_ROWS_PER_BATCH
            return Rows.zeros(rows, self.dim).rows
        if o["noise_samples"] < self.budget.batch_size:
            raise ValueError(f"task.noise_samples={o['noise_samples']} is below the batch size "
                             f"{self.budget.batch_size}; set task.noise_samples >= it")
        gen = torch.Generator().manual_seed(o["instance_seed"] + 1_000_003)
        xi = torch.randn(o["noise_samples"], self.dim, generator=gen, dtype=torch.float64)
        xi -= xi.mean(dim=0)  # the full-batch gradient stays exact
        grad0 = self._hess_times(self.c)
        return (xi * (o["noise"] * float(grad0.square().mean().sqrt()))).float()

    # --- identity -------------------------------------------------------------------------
    @property
    def data_fingerprint(self) -> str:
        h = hashlib.sha256()
        rotation = self.rotation if self.rotation is not None else torch.zeros(0)
        for t in (self.c, self.spectrum, rotation, self.noise.contiguous()):
            h.update(t.numpy().tobytes())
        return h.hexdigest()[:12]

    def describe(self) -> dict[str, Any]:
        r_ref = 1.0 / self.options["weight_decay_ref"]
        return {**super().describe(),
                "data_source": f"synthetic {self.kind} quadratic (instance seed "
                               f"{self.options['instance_seed']})",
                "instance": {
            "dim": self.dim, "kind": self.kind, "c_norm": float(self.c.norm()),
            "share_outside_ref_box": float((self.c.abs() > r_ref).double().mean()),
        }}

    # --- model and data -------------------------------------------------------------------
    def build_model(self, seed: int) -> nn.Module:
        gen = torch.Generator().manual_seed(seed)
        x0 = torch.randn(self.dim, generator=gen) * self.options["init_scale"]
        hessian = self.spectrum if self.rotation is None else self.hessian
        return QuadraticModel(self.c.float(), hessian.float(), x0, noisy=self.options["noise"] > 0)

    def train_dataset(self) -> Dataset:
        return Rows(self.noise, zero=self.options["noise"] == 0)

    def steps_per_epoch(self) -> int:
        if self.options["noise"] == 0:
            return 1  # full batch: every step sees the exact gradient
        return super().steps_per_epoch()

    def gather_train(self, indices: Tensor) -> Tensor:
        """`collate` of the training rows at `indices` (any shape: a stacked group's
        (T, B)) in one index op: the same numbers, without a DataLoader per trial. Full
        batch: every row is zero, so a zero view of the right shape (no copy)."""
        if self.options["noise"] == 0:
            return self.noise[0].expand(*indices.shape, self.dim)
        return self.noise[indices]

    def eval_dataset(self, split: str) -> Dataset:
        if split not in ("val", "test"):
            raise ValueError(f"unknown split {split!r}; use 'val' or 'test'")
        return TensorDataset(torch.zeros(1, self.dim))  # one example: the exact loss L(x)

    def collate(self, examples: Tensor | list[Any]) -> Tensor:
        return collate_rows(examples)

    def probe_batches(self) -> list[Any]:
        return [self.noise.contiguous()]  # all rows: sum of xi = 0, the exact gradient

    # --- computation ----------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: Tensor) -> Tensor:
        return model(batch)

    def stacked_losses(self, params: Mapping[str, Tensor], buffers: Mapping[str, Tensor],
                       batch: Tensor) -> Tensor:
        """(T,) losses of x (T, dim) on batches (T, B, dim): QuadraticModel.forward per row."""
        x = params["x"]
        d = x - buffers["c"]
        hessian = buffers["hessian"]
        # H is exactly symmetric (built as (h + hᵀ)/2), so the rows of d Hᵀ are H d_i.
        hd = hessian * d if hessian.ndim == 1 else d @ hessian.T
        loss = 0.5 * (d * hd).sum(dim=-1)
        if self.options["noise"] > 0:
            loss = loss + (batch.mean(dim=1) * x).sum(dim=-1)
        return loss

    def stacked_gradients(self, params: Mapping[str, Tensor], buffers: Mapping[str, Tensor],
                          batch: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """`stacked_losses` and their gradient H (x - c) (+ the batch's mean noise vector): H
        is exactly symmetric, so this is autograd's 0.5 (H + Hᵀ) d up to rounding (bit for bit
        for a diagonal H)."""
        x = params["x"]
        d = x - buffers["c"]
        hessian = buffers["hessian"]
        hd = hessian * d if hessian.ndim == 1 else d @ hessian.T
        loss, grad = 0.5 * (d * hd).sum(dim=-1), hd
        if self.options["noise"] > 0:
            mean = batch.mean(dim=1)
            loss, grad = loss + (mean * x).sum(dim=-1), grad + mean
        return loss, {"x": grad}

    def eval_outputs(self, model: nn.Module, batch: Tensor) -> dict[str, Tensor]:
        return {"loss": model(batch, per_example=True)}

    def summarize(self, split: str, outputs: dict[str, Tensor]) -> dict[str, float]:
        return {f"{split}_loss": float(outputs["loss"].detach().double().mean())}

    def extra_metrics(self, model: nn.Module, weight_decay: float,
                      radius: float | None) -> dict[str, float]:
        """Distances to the box optimum (radius, default 1/lambda), the l2 optimum and the
        unconstrained minimizer c, relative to ||c||."""
        x = model.x.detach().to("cpu", torch.float64)
        scale = float(self.c.norm())
        return {
            "dist_box": float((x - self.box_optimum(weight_decay, radius)).norm()) / scale,
            "dist_l2": float((x - self.l2_optimum(weight_decay)).norm()) / scale,
            "dist_opt": float((x - self.c).norm()) / scale,
        }

    # --- exact answers --------------------------------------------------------------------
    def loss_value(self, x: Tensor) -> float:
        """L(x) in float64."""
        d = x.to(torch.float64) - self.c
        return float(0.5 * d @ self._hess_times(d))

    def _hess_times(self, v: Tensor) -> Tensor:
        if self.rotation is None:
            return self.spectrum * v
        return self.rotation @ (self.spectrum * (self.rotation.T @ v))

    def box_optimum(self, weight_decay: float, radius: float | None = None) -> Tensor:
        """argmin L over ||x||_inf <= radius (default 1/weight_decay; no box at 0 or at an
        infinite radius, e.g. AdamC's at η_t = 0), float64."""
        r = radius if radius is not None else (1.0 / weight_decay if weight_decay > 0 else None)
        if r is None or math.isinf(r):
            return self.c.clone()
        key = (float(weight_decay), float(r))
        if key not in self._box_cache:
            if self.rotation is None:
                self._box_cache[key] = self.c.clamp(-r, r)
            else:
                self._box_cache[key] = solve_box_qp(self.hessian, self.c, r)
        return self._box_cache[key].clone()

    def l2_optimum(self, weight_decay: float) -> Tensor:
        """argmin L(x) + (weight_decay / 2) ||x||², i.e. (H + lambda I)⁻¹ H c, float64."""
        shrink = self.spectrum / (self.spectrum + weight_decay)
        if self.rotation is None:
            return shrink * self.c
        return self.rotation @ (shrink * (self.rotation.T @ self.c))

