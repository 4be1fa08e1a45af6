"""Matrix-only optimizers (torch.optim.Muon) are probed with matrices, and say so."""

import torch

import optimizers
from bench.conformance.checks import format_report, resolve, run_checks
from bench.conformance.decay_probe import MATRIX_SHAPES, VECTOR_SHAPES, measure_decay, probe_shapes


def test_matrix_only_optimizer_is_probed_with_matrices():
    assert probe_shapes(torch.optim.Muon) == MATRIX_SHAPES
    verdict = measure_decay(torch.optim.Muon)
    assert verdict.semantics == "decoupled"
    assert verdict.measurements["shapes"] == [list(s) for s in MATRIX_SHAPES]


def test_optimizers_taking_vectors_keep_the_vector_probe():
    assert probe_shapes(torch.optim.AdamW) == VECTOR_SHAPES
    assert probe_shapes(lambda params, **hp: optimizers.create("muon", params, **hp)) == \
        VECTOR_SHAPES

    def refuses_everything(params, **hp):
        raise ValueError("no")

    assert probe_shapes(refuses_everything) == VECTOR_SHAPES


def test_check_optimizer_passes_torch_muon_and_names_the_shapes():
    report = run_checks(resolve("torch.optim:Muon", {}))
    assert report.passed, format_report(report)
    assert "probe shapes: 6x8, 4x4 (matrices only: vectors refused)" in format_report(report)
