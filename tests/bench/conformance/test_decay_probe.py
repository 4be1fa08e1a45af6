"""bench/conformance/decay_probe.py on its own: the streams, the emulations, the comparison, the
naming."""

import pytest
import torch

from bench.conformance import decay_probe as probe

SETTINGS = probe.ProbeSettings()


def _plain_sgd(params, lr, weight_decay):
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)


def test_initial_params_are_order_one_with_mixed_signs():
    x0 = probe.initial_params(0)
    flat = torch.cat([x.flatten() for x in x0])
    assert [tuple(x.shape) for x in x0] == [(6, 8), (16,)]
    assert flat.abs().min() >= 0.5 and flat.abs().max() <= 1.5
    assert (flat > 0).any() and (flat < 0).any()
    assert torch.equal(flat, torch.cat([x.flatten() for x in probe.initial_params(0)]))


def test_mixed_stream_has_a_fixed_half_of_large_gradients():
    x0 = probe.initial_params(0)
    stream = probe.gradient_stream("mixed_gradient", x0, 4, 0)
    masks = [torch.cat([g.flatten() for g in step]) != 0 for step in stream]
    assert all(torch.equal(m, masks[0]) for m in masks)  # the same coordinates every step
    assert 0.3 < masks[0].float().mean() < 0.7
    large = torch.cat([g.flatten() for g in stream[0]])[masks[0]].abs()
    assert large.min() >= 2.0 and large.max() <= 3.0
    zero = probe.gradient_stream("zero_gradient", x0, 4, 0)
    assert all(not g.any() for step in zero for g in step)


def test_lr_halves_midway():
    assert probe.lr_schedule(SETTINGS) == [SETTINGS.lr] * 4 + [SETTINGS.lr / 2] * 4


@pytest.mark.parametrize("style,factor", [
    ("decoupled", lambda lr, lr0, wd: 1 - lr * wd),
    ("independent", lambda lr, lr0, wd: 1 - lr / lr0 * wd),
    ("fixed", lambda lr, lr0, wd: 1 - wd),
    ("corrected", lambda lr, lr0, wd: 1 - lr * (wd * lr / lr0)),
    ("cautious", lambda lr, lr0, wd: 1 - lr * wd),  # a zero step agrees with every sign
])
def test_emulations_under_a_zero_gradient_shrink_as_written(style, factor):
    x0 = probe.initial_params(0)
    lrs = probe.lr_schedule(SETTINGS)
    grads = probe.gradient_stream("zero_gradient", x0, len(lrs), 0)
    path = probe.trajectory(_plain_sgd, x0, grads, lrs, 0.0, style, 0.1)
    x = torch.cat([p.flatten() for p in x0])
    for t, lr in enumerate(lrs):
        x = x * factor(lr, lrs[0], 0.1)
        torch.testing.assert_close(path[t], x, rtol=1e-6, atol=0)


def test_cautious_emulation_skips_coordinates_the_step_pushes_outward():
    x0 = [torch.tensor([1.0, 1.0, -1.0, -1.0])]
    grads = [[torch.tensor([1.0, -1.0, 1.0, -1.0])]]  # SGD step -lr g
    path = probe.trajectory(_plain_sgd, x0, grads, [0.1], 0.0, "cautious", 0.5)
    # coordinates 0 and 3: the step moves x toward 0, decay applies; 1 and 2: step only
    expected = torch.tensor([1 - 0.1 - 0.05, 1.1, -1.1, -1 + 0.1 + 0.05])
    torch.testing.assert_close(path[0], expected)


def test_coupled_emulation_hands_the_optimizer_g_plus_lambda_x():
    x0 = [torch.tensor([2.0, -1.0])]
    grads = [[torch.zeros(2)]]
    path = probe.trajectory(_plain_sgd, x0, grads, [0.1], 0.0, "coupled", 0.5)
    torch.testing.assert_close(path[0], torch.tensor([2.0, -1.0]) * (1 - 0.1 * 0.5))


def test_compare_scales_the_miss_by_the_effect_and_ignores_noise():
    without = torch.zeros(3, 4)
    with_wd = torch.full((3, 4), 0.1)
    result = probe._compare(with_wd, without, {"good": with_wd + 1e-4, "bad": without})
    assert result.effect == pytest.approx(0.1)
    assert result.deviation["good"] == pytest.approx(1e-3, rel=1e-3)
    assert result.deviation["bad"] == pytest.approx(1.0)
    tiny = probe._compare(without + 1e-8, without, {"x": without})
    assert tiny.effect == 0.0 and tiny.deviation["x"] == 0.0


def test_zero_gradient_summary_carries_each_styles_expected_shrink():
    verdict = probe.measure_decay(lambda ps, lr, weight_decay: torch.optim.AdamW(
        ps, lr=lr, weight_decay=weight_decay))
    zero = verdict.measurements["zero_gradient"]
    lr, wd = SETTINGS.lr, SETTINGS.weight_decay
    assert zero["expected_fixed"] == pytest.approx([wd] * 8)
    assert zero["expected_corrected"] == pytest.approx([lr * wd] * 4 + [lr / 4 * wd] * 4)
    assert zero["shrink_per_step"] == pytest.approx(zero["expected_decoupled"], rel=1e-3)
    assert verdict.semantics == "decoupled" and verdict.consistent_with == ("decoupled",)


def test_new_styles_are_far_from_each_other_not_just_inside_tolerance():
    # Every wrong hypothesis misses by more than ten times its tolerance, so the verdicts do
    # not hang on rounding.
    import optimizers

    for style in ("fixed", "corrected", "cautious"):
        verdict = probe.measure_decay(lambda ps, lr, weight_decay, s=style: optimizers.create(
            "signgd_wd", ps, lr=lr, weight_decay=weight_decay, decay=s))
        for kind, tol in probe.TOLERANCE.items():
            deviation = verdict.measurements[kind]["deviation"]
            assert deviation[style] <= tol
        worst_other = min(max(verdict.measurements[k]["deviation"][h] / tol
                              for k, tol in probe.TOLERANCE.items())
                          for h in probe.HYPOTHESES if h != style)
        assert worst_other > 10, style
