"""A matrix quadratic with exact answers in three geometries (SPEC §4, "Matrix quadratic").

    f(W) = ½ <W - C, A (W - C) B>          (A = B = I: ½ ||W - C||_F², kind=isotropic)

C = U diag(σ) Vᵀ with random orthogonal U, V and σ log-spaced over kappa · [4, 0.1] /
weight_decay_ref, so at λ = weight_decay_ref the top 6 of 16 singular values exceed 1/λ.
For kind=anisotropic, A and B are random SPD matrices with spectra log-spaced over [1, cond].
Exact optima for any λ (r = 1/λ, or the decay style's radius):
  spectral ball σ_max(W) <= s r   isotropic: U min(Σ, s r) Vᵀ; anisotropic: projected FISTA to
                                  a Frank-Wolfe gap < 1e-9 (tasks/spectral_qp.py)
  l_inf box |W_ij| <= r           isotropic: clip(C, -r, r); anisotropic: the box QP on vec(W)
  l2 penalty (λ/2)||W||_F²        (H + λI)⁻¹ H C, H = B ⊗ A acting on vec(W)
s (`spectral_scale`) is the shape factor of Muon's update: 1 under torch's "original" rule for
rows <= cols (the default square matrix); set it for other shapes or "match_rms_adamw".
Full batch: the loss ignores the batch, so every step sees the exact gradient.
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
from tasks.spectral_qp import project_spectral, solve_spectral_qp

KINDS = ("isotropic", "anisotropic")

# Bounds that keep an instance buildable (as the quadratic task's).
MAX_DIM = 4096
MAX_COND = 1e12

# Set with `--set task.NAME=value`; `wdbench list --task matrix_quadratic` prints them.
OPTIONS = (
    TaskOption("rows", 16, int, "rows of W", between(1, MAX_DIM)),
    TaskOption("cols", 16, int, "columns of W", between(1, MAX_DIM)),
    TaskOption("kind", "isotropic", str, "f = ½‖W − C‖² (isotropic) or ½⟨W − C, A(W − C)B⟩ "
               "(anisotropic)", OneOf(KINDS)),
    TaskOption("kappa", 1.0, float, "singular values of C span kappa * [4, 0.1] / "
               "weight_decay_ref", SCALE),
    TaskOption("cond", 10.0, float, "condition number of A and of B (anisotropic)",
               between(1, MAX_COND)),
    TaskOption("instance_seed", 0, int, "fixes C, A and B (same for every trial)", SEED),
    TaskOption("weight_decay_ref", 2.0, float, "the lambda the instance is scaled for",
               SCALE),
    TaskOption("init_scale", 0.05, float, "W0 ~ N(0, init_scale^2), seeded by the trial seed",
               between(0, 1e6)),
    TaskOption("spectral_scale", 1.0, float, "s: the spectral radius is s / lambda",
               SCALE),
)
ROWS_PER_EPOCH = 512  # zero rows: long epochs, few DataLoader restarts


class MatrixQuadraticModel(nn.Module):
    """One parameter matrix `w`; the loss is f(w) whatever the batch."""

    def __init__(self, c: Tensor, left: Tensor | None, right: Tensor | None, w0: Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w0.clone())
        self.register_buffer("c", c, persistent=False)
        # A and B of the anisotropic kind; None: the identity (isotropic).
        self.register_buffer("left", left, persistent=False)
        self.register_buffer("right", right, persistent=False)

    def _hess_times(self, d: Tensor) -> Tensor:
        return d if self.left is None else self.left @ d @ self.right

    def forward(self, batch: Tensor, per_example: bool = False) -> Tensor:
        d = self.w - self.c
        loss = 0.5 * (d * self._hess_times(d)).sum()
        return loss.expand(batch.shape[0]) if per_example else loss

    @torch.no_grad()
    def full_gradient(self) -> Tensor:
        return self._hess_times(self.w - self.c)


class MatrixQuadraticTask(Task):
    name = "matrix_quadratic"
    default_mask = "all"
    declared_options = OPTIONS
    headline_figure = "linf"  # the point of the task: which ball does W end in?
    stacking = "native"  # stacked_losses: one batched expression for T trials
    budgets = {
        "smoke": Budget("smoke", steps=300, batch_size=1, eval_every=100, eval_batch_size=1,
                        probe_batches=1),
        "cpu": Budget("cpu", steps=5_000, batch_size=1, eval_every=500, eval_batch_size=1,
                      probe_batches=1),
        "full": Budget("full", steps=50_000, batch_size=1, eval_every=5_000,
                       eval_batch_size=1, probe_batches=1),
    }

    def __init__(self, budget: Budget, options: Mapping[str, Any] | None = None,
                 data_dir: str | None = None, cache_dir: str | None = None) -> None:
        super().__init__(budget, options, data_dir=data_dir, cache_dir=cache_dir)
        o = self.options
        self.shape = (o["rows"], o["cols"])
        gen = torch.Generator().manual_seed(o["instance_seed"])
        k = min(self.shape)
        self.sigma = torch.logspace(math.log10(4.0), -1.0, k, dtype=torch.float64) * (
            o["kappa"] / o["weight_decay_ref"])
        u, v = _orthonormal(o["rows"], k, gen), _orthonormal(o["cols"], k, gen)
        self.c = (u * self.sigma) @ v.T
        self.left: Tensor | None = None
        self.right: Tensor | None = None
        if o["kind"] == "anisotropic":
            self.left = _spd(o["rows"], o["cond"], gen)
            self.right = _spd(o["cols"], o["cond"], gen)
        self._cache: dict[tuple[str, float], Tensor] = {}

    # --- identity -------------------------------------------------------------------------
    @property
    def data_fingerprint(self) -> str:
        h = hashlib.sha256()
        for t in (self.c, self.left, self.right):
            if t is not None:
                h.update(t.numpy().tobytes())
        return h.hexdigest()[:12]

    def describe(self) -> dict[str, Any]:
        r_ref = 1.0 / self.options["weight_decay_ref"]
        return {**super().describe(),
                "data_source": f"synthetic {self.options['kind']} matrix quadratic (instance "
                               f"seed {self.options['instance_seed']})",
                "instance": {
            "shape": list(self.shape), "kind": self.options["kind"],
            "c_norm": float(self.c.norm()), "c_sigma_max": float(self.sigma[0]),
            "singular_values_outside_ref_ball": int((self.sigma > r_ref).sum()),
            "share_outside_ref_box": float((self.c.abs() > r_ref).double().mean()),
        }}

    # --- model and data -------------------------------------------------------------------
    def build_model(self, seed: int) -> nn.Module:
        gen = torch.Generator().manual_seed(seed)
        w0 = torch.randn(*self.shape, generator=gen) * self.options["init_scale"]
        left = None if self.left is None else self.left.float()
        right = None if self.right is None else self.right.float()
        return MatrixQuadraticModel(self.c.float(), left, right, w0)

    def train_dataset(self) -> Dataset:
        return Rows.zeros(ROWS_PER_EPOCH, 1)

    def steps_per_epoch(self) -> int:
        return 1  # full batch: every step sees the exact objective

    def gather_train(self, indices: Tensor) -> Tensor:
        """`collate` of the training rows at `indices` (a stacked group's (T, B)) at once."""
        return torch.zeros(*indices.shape, 1)

    def eval_dataset(self, split: str) -> Dataset:
        if split not in ("val", "test"):
            raise ValueError(f"unknown split {split!r}; use 'val' or 'test'")
        return TensorDataset(torch.zeros(1, 1))

    def collate(self, examples: Tensor | list[Any]) -> Tensor:
        return collate_rows(examples)

    def probe_batches(self) -> list[Any]:
        return [torch.zeros(1, 1)]

    # --- computation ----------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: Tensor) -> Tensor:
        return model(batch)

    def stacked_losses(self, params: Mapping[str, Tensor], buffers: Mapping[str, Tensor],
                       batch: Tensor) -> Tensor:
        """(T,) losses of w (T, rows, cols), whatever the batch: MatrixQuadraticModel.forward."""
        d = params["w"] - buffers["c"]
        left, right = buffers.get("left"), buffers.get("right")
        hd = d if left is None else left @ d @ right  # matmul broadcasts over the trial dim
        return 0.5 * (d * hd).sum(dim=(-2, -1))

    def stacked_gradients(self, params: Mapping[str, Tensor], buffers: Mapping[str, Tensor],
                          batch: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """`stacked_losses` and their gradient A (W - C) B (A, B exactly symmetric)."""
        d = params["w"] - buffers["c"]
        left, right = buffers.get("left"), buffers.get("right")
        hd = d if left is None else left @ d @ right
        return 0.5 * (d * hd).sum(dim=(-2, -1)), {"w": hd}

    def eval_outputs(self, model: nn.Module, batch: Tensor) -> dict[str, Tensor]:
        return {"loss": model(batch, per_example=True)}

    def summarize(self, split: str, outputs: dict[str, Tensor]) -> dict[str, float]:
        return {f"{split}_loss": float(outputs["loss"].detach().double().mean())}

    def extra_metrics(self, model: nn.Module, weight_decay: float,
                      radius: float | None) -> dict[str, float]:
        """Distances (Frobenius, relative to ||C||_F) to the spectral-ball, box and l2 optima
        at this lambda (radius: the decay style's, default 1/lambda)."""
        if weight_decay <= 0 and radius is None:
            return {}
        w = model.w.detach().to("cpu", torch.float64)
        scale = float(self.c.norm())
        return {
            "dist_spectral": float((w - self.spectral_optimum(weight_decay, radius)).norm())
            / scale,
            "dist_box": float((w - self.box_optimum(weight_decay, radius)).norm()) / scale,
            "dist_l2": float((w - self.l2_optimum(weight_decay)).norm()) / scale,
        }

    # --- exact answers --------------------------------------------------------------------
    def loss_value(self, w: Tensor) -> float:
        d = w.to(torch.float64) - self.c
        return float(0.5 * (d * self._hess_times(d)).sum())

    def gradient(self, w: Tensor) -> Tensor:
        return self._hess_times(w.to(torch.float64) - self.c)

    def _hess_times(self, d: Tensor) -> Tensor:
        return d if self.left is None else self.left @ d @ self.right

    def _radius(self, weight_decay: float, radius: float | None) -> float:
        if radius is not None:
            return float(radius)
        if weight_decay <= 0:
            raise ValueError("no ball without weight decay: pass weight_decay > 0 or a radius")
        return 1.0 / weight_decay

    def spectral_optimum(self, weight_decay: float, radius: float | None = None) -> Tensor:
        """argmin f over σ_max(W) <= spectral_scale * r, float64."""
        r = self._radius(weight_decay, radius) * self.options["spectral_scale"]
        if math.isinf(r):  # no ball (AdamC's radius at η_t = 0): the unconstrained optimum
            return self.c.clone()
        key = ("spectral", r)
        if key not in self._cache:
            self._cache[key] = (project_spectral(self.c, r) if self.left is None
                                else solve_spectral_qp(self.left, self.right, self.c, r))
        return self._cache[key].clone()

    def box_optimum(self, weight_decay: float, radius: float | None = None) -> Tensor:
        """argmin f over |W_ij| <= r, float64 (the box QP on vec(W) for the anisotropic kind)."""
        r = self._radius(weight_decay, radius)
        if math.isinf(r):  # no box: the unconstrained optimum
            return self.c.clone()
        key = ("box", r)
        if key not in self._cache:
            if self.left is None:
                self._cache[key] = self.c.clamp(-r, r)
            else:  # vec(A D B) = (Bᵀ ⊗ A) vec(D), column-major vec; A, B symmetric
                hessian = torch.kron(self.right, self.left)
                vec = solve_box_qp(hessian, self.c.T.reshape(-1), r)
                self._cache[key] = vec.reshape(self.shape[1], self.shape[0]).T.contiguous()
        return self._cache[key].clone()

    def l2_optimum(self, weight_decay: float) -> Tensor:
        """argmin f(W) + (lambda/2) ||W||_F², i.e. (H + lambda I)⁻¹ H C, float64."""
        if self.left is None:
            return self.c / (1.0 + weight_decay)
        ea, qa = torch.linalg.eigh(self.left)
        eb, qb = torch.linalg.eigh(self.right)
        h = ea[:, None] * eb[None, :]
        return qa @ ((h / (h + weight_decay)) * (qa.T @ self.c @ qb)) @ qb.T


def _orthonormal(n: int, k: int, gen: torch.Generator) -> Tensor:
    q, r = torch.linalg.qr(torch.randn(n, k, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def _spd(n: int, cond: float, gen: torch.Generator) -> Tensor:
    q = _orthonormal(n, n, gen)
    m = (q * torch.logspace(0.0, math.log10(cond), n, dtype=torch.float64)) @ q.T
    return (m + m.T) / 2
