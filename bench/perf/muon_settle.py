"""Where Muon settles on the matrix quadratic: λ·σ_max(W) and dist_spectral after t steps, for
torch's Newton-Schulz and the exact polar factor (SVD), isotropic and anisotropic.

    python -m bench.perf.muon_settle [--steps 100,300,1000,3000,10000,20000]

Full batch on the closed-form gradient (same numbers as the runner's autograd gradient), with
η_t = lr/√t, one thread."""

from __future__ import annotations

import argparse
import math
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.muon_settle")
    parser.add_argument("--steps", default="100,300,1000,3000,10000,20000",
                        help="comma-separated step counts at which to report")
    parser.add_argument("--lr", type=float, default=0.05, help="η in η_t = η/√t")
    parser.add_argument("--weight-decay", type=float, default=2.0, help="λ")
    args = parser.parse_args(argv)
    import torch

    import optimizers
    import tasks

    torch.set_num_threads(1)
    marks = sorted(int(s) for s in args.steps.split(","))
    lam = args.weight_decay
    print("| t | " + " | ".join(f"{k}, {o}" for k in ("isotropic", "anisotropic")
                               for o in ("newton_schulz", "svd")) + " |")
    columns = []
    for kind in ("isotropic", "anisotropic"):
        task = tasks.create("matrix_quadratic", "cpu", {"kind": kind})
        for orth in ("newton_schulz", "svd"):
            model = task.build_model(0)
            opt = optimizers.create("muon", [{"params": [("w", model.w)],
                                              "weight_decay": lam}],
                                    lr=args.lr, orthogonalize=orth)
            cells = []
            for t in range(1, marks[-1] + 1):
                opt.param_groups[0]["lr"] = args.lr / math.sqrt(t)
                model.w.grad = model.full_gradient()
                opt.step()
                if t in marks:
                    sigma = float(torch.linalg.svdvals(model.w.detach().double())[0])
                    dist = task.extra_metrics(model, lam, None)["dist_spectral"]
                    cells.append(f"{lam * sigma:.4f} ({dist:.2g})")
            columns.append(cells)
    for t, row in zip(marks, zip(*columns)):
        print(f"| {t:,} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
