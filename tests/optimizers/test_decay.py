"""The decay stage on its own: each style's terms and radius, from the table."""

import math

import pytest
import torch

from optimizers.decay import STYLES, DecayStyle, DecayTerms, decay_terms, implied_radius

WD, LR, LR_MAX = 0.5, 0.01, 0.04

# style -> (coupled, shrink, cautious) at λ = WD, η_t = LR, η_max = LR_MAX, written out
TERMS = {
    "coupled": (WD, 1.0, False),
    "decoupled": (0.0, 1 - LR * WD, False),
    "independent": (0.0, 1 - (LR / LR_MAX) * WD, False),
    "fixed": (0.0, 1 - WD, False),
    "corrected": (0.0, 1 - LR * (WD * LR / LR_MAX), False),
    "cautious": (0.0, 1 - LR * WD, True),
    "none": (0.0, 1.0, False),
}

RADIUS = {
    "coupled": None,
    "decoupled": 1 / WD,
    "independent": LR_MAX / WD,
    "fixed": LR / WD,
    "corrected": LR_MAX / (WD * LR),
    "cautious": None,
    "none": None,
}


def test_every_style_is_one_entry_of_the_table():
    assert set(STYLES) == set(DecayStyle) == {DecayStyle(s) for s in TERMS} == \
        {DecayStyle(s) for s in RADIUS}


@pytest.mark.parametrize("style", list(TERMS))
def test_terms_follow_the_formula(style):
    coupled, shrink, cautious = TERMS[style]
    terms = decay_terms(style, WD, LR, LR_MAX)
    assert terms.coupled == coupled
    assert terms.shrink == pytest.approx(shrink, rel=1e-15)
    assert terms.cautious is cautious
    # torch's kernels take the shrink as a per-lr rate: the two are the same number
    assert terms.shrink == 1.0 - LR * terms.rate


@pytest.mark.parametrize("style", list(TERMS))
def test_zero_weight_decay_changes_nothing(style):
    assert decay_terms(style, 0.0, LR, LR_MAX) == DecayTerms()
    assert implied_radius(style, 0.0, LR, LR_MAX) is None


@pytest.mark.parametrize("style", list(RADIUS))
def test_implied_radius(style):
    expected = RADIUS[style]
    radius = implied_radius(style, WD, LR, LR_MAX)
    assert radius is None if expected is None else radius == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("style", [s for s, r in RADIUS.items() if r])
@pytest.mark.parametrize("lr", [LR, LR_MAX])
def test_radius_is_the_fixed_point_of_shrink_and_a_unit_step(style, lr):
    # A coordinate pushed outward by a unit direction: x <- shrink x + lr settles at
    # lr / (1 - shrink), the radius of the box, at that lr.
    terms = decay_terms(style, WD, lr, LR_MAX)
    assert lr / (1.0 - terms.shrink) == pytest.approx(implied_radius(style, WD, lr, LR_MAX),
                                                      rel=1e-12)


def test_corrected_radius_at_zero_lr_is_infinite():
    # The end of a cosine schedule: λ_t = λη_t/η_max = 0, no decay, no box (not 1/0).
    assert implied_radius("corrected", WD, 0.0, LR_MAX) == math.inf


def test_only_fixed_and_corrected_radii_move_with_the_lr():
    moving = {s for s in RADIUS if implied_radius(s, WD, LR, LR_MAX)
              != implied_radius(s, WD, LR_MAX, LR_MAX)}
    assert moving == {"fixed", "corrected"}
    # at the peak lr, corrected decay is decoupled decay
    assert decay_terms("corrected", WD, LR_MAX, LR_MAX) == decay_terms("decoupled", WD, LR_MAX,
                                                                       LR_MAX)


def test_unknown_style_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown decay style 'l1'.*fixed, corrected, cautious"):
        decay_terms("l1", WD, LR, LR_MAX)


@pytest.mark.parametrize("style", [s.value for s in DecayStyle])
def test_stacked_decay_terms_are_each_members_own(style):
    """The vectorised twin gives member i bit for bit what decay_terms gives it alone (float64),
    λ = 0 members the no-op terms."""
    from optimizers.decay import stacked_decay_terms

    wds, lrs, lr_maxs = [0.1, 0.0, 3.0, 1e-4], [1e-3, 3e-4, 7e-5, 2e-2], [2e-3, 3e-4, 1e-4, 2e-2]
    as64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    stacked = stacked_decay_terms(style, as64(wds), as64(lrs), as64(lr_maxs))
    for i, (wd, lr, lr_max) in enumerate(zip(wds, lrs, lr_maxs)):
        alone = decay_terms(style, wd, lr, lr_max)
        coupled = 0.0 if stacked.coupled is None else stacked.coupled[i].item()
        shrink = 1.0 if stacked.shrink is None else stacked.shrink[i].item()
        assert (coupled, stacked.rate[i].item(), shrink) == \
            (alone.coupled, alone.rate, alone.shrink)
        assert stacked.cautious == (style == "cautious") and alone.cautious <= stacked.cautious
