"""Records carry each tensor's geometry, the metrics in its own ball, and every geometry's ratio."""

import pytest
import torch

import optimizers
from bench.engine.runner import run_trial
from bench.measures.geometry import geometry_record, tensor_geometries
from bench.trial.config import Trial


def _trial(optimizer, **options):
    return Trial(task="matrix_quadratic", optimizer=optimizer, lr=0.05, weight_decay=2.0,
                 schedule="inverse_sqrt", budget="smoke", optimizer_options=options)


@pytest.mark.parametrize("optimizer,norm", [("muon", "spectral"), ("adamw", "linf"),
                                            ("sgdw", "l2")])
def test_record_measures_each_optimizer_in_its_own_ball_and_in_the_others(tmp_path, optimizer,
                                                                          norm):
    record = run_trial(_trial(optimizer), tmp_path, show_progress=False)
    assert record["status"] == "done", record["error"]
    assert record["mask"]["geometry"] == {"w": {"norm": norm, "scale": 1.0}}
    final = record["final"]
    for key in ("ball_ratio", "ball_fw_gap", "ball_fw_gap_rel", "ball_boundary_frac",
                "linf_ratio", "spectral_ratio", "l2_ratio", "dist_spectral", "dist_box",
                "dist_l2"):
        assert key in final and final[key] == final[key], key  # present, not NaN
    own = {"spectral": "spectral_ratio", "linf": "linf_ratio", "l2": "l2_ratio"}[norm]
    assert final["ball_ratio"] == pytest.approx(final[own])
    assert record["per_tensor"]["w"]["ball_ratio"] == pytest.approx(final["ball_ratio"])
    assert all("ball_ratio" in point for point in record["curve"])


def test_muon_records_which_tensors_it_orthogonalizes():
    model = torch.nn.ModuleDict({"wte": torch.nn.Embedding(8, 4), "mlp": torch.nn.Linear(4, 6)})
    named = dict(model.named_parameters())
    opt = optimizers.create("muon", [{"params": list(named.items())}], lr=0.01,
                            adjust_lr_fn="match_rms_adamw")
    geometries = tensor_geometries(opt, optimizers.spec("muon"), named)
    s = 0.2 * 6 ** 0.5  # match_rms_adamw on a 6 x 4 matrix
    assert geometries == {"wte.weight": {"norm": "linf", "scale": 1.0},
                          "mlp.weight": {"norm": "spectral", "scale": pytest.approx(s)},
                          "mlp.bias": {"norm": "linf", "scale": 1.0}}
    adamw = optimizers.create("adamw", list(named.values()), lr=0.01)
    assert {g["norm"] for g in tensor_geometries(adamw, optimizers.spec("adamw"),
                                                 named).values()} == {"linf"}


def test_spectral_ratio_uses_the_optimizers_scale_on_its_own_tensors():
    # mlp.weight (4 x 4) with a scale of 0.4 (as given); wte.weight (8 x 4) is measured
    # with torch's default "original" rule, sqrt(8 / 4).
    params = {"mlp.weight": torch.diag(torch.tensor([2.0, 1.0, 1.0, 1.0])),
              "wte.weight": torch.eye(8, 4, dtype=torch.float64) * 3.0}
    geometries = {"mlp.weight": {"norm": "spectral", "scale": 0.4},
                  "wte.weight": {"norm": "linf", "scale": 1.0}}
    grads = {n: torch.zeros_like(p) for n, p in params.items()}
    overall, per = geometry_record(geometries, params, grads, radius=1.0)
    assert per["mlp.weight"]["ball_ratio"] == pytest.approx(2.0 / 0.4)
    assert per["wte.weight"]["ball_ratio"] == pytest.approx(3.0)  # its linf norm
    assert overall["spectral_ratio"] == pytest.approx(max(2.0 / 0.4, 3.0 / 2 ** 0.5))
    assert overall["l2_ratio"] == pytest.approx(3.0 * 2)  # ||3 I_{8x4}||_F = 6
