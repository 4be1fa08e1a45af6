"""bench/report/series.py: the curve figures draw each variant of an optimizer's settings at
its own selected (lr, λ), not only the variant the selection picks."""

import copy

from bench.report.data import load
from bench.report.series import compact, curve_series
from bench.report.tables import best_configs
from tests.bench.report_ledgers import small, write

INSIDE, OUTSIDE = [0.9, 0.999], [0.99, 0.9]


def _ledger(tmp_path):
    records = small()
    extra = []
    for r in records:
        if r["config"]["optimizer"] != "adamw":
            continue
        r["config"]["optimizer_options"] = {"betas": INSIDE}
        other = copy.deepcopy(r)
        other["id"] = "b" + r["id"][1:]
        other["config"]["optimizer_options"] = {"betas": OUTSIDE}
        other["final"]["val_loss"] = r["final"]["val_loss"] + 1.0  # never selected overall
        # Its own best (lr, λ) differs from the inside variant's: the largest lr wins there.
        if r["config"]["lr"] == max(x["config"]["lr"] for x in records):
            other["final"]["val_loss"] -= 0.5
        extra.append(other)
    return load([write(tmp_path, records + extra)]).groups[0]


def test_each_variant_is_a_series_at_its_own_selection(tmp_path):
    group = _ledger(tmp_path)
    best = best_configs(group)
    assert len(best[best["optimizer"] == "adamw"]) == 1  # the leaderboard keeps one row
    ids, styles, colors = curve_series(group, best, {"adamw": (0.2, 0.4, 0.6),
                                                     "adam_l2": (0.9, 0.5, 0.1)})
    inside, outside = "adamw · betas=[0.9,0.999]", "adamw · betas=[0.99,0.9]"
    assert set(ids["series"]) == {inside, outside, "adam_l2"}
    assert styles == {inside: "decoupled", outside: "decoupled", "adam_l2": "coupled"}
    trials = group.trials.set_index("id")
    for series, betas in ((inside, INSIDE), (outside, OUTSIDE)):
        chosen = trials.loc[ids[ids["series"] == series]["id"]]
        assert len(chosen) == 2  # both seeds of one configuration
        assert chosen["config_extra"].str.contains(str(betas)).all()
        assert chosen["lr"].nunique() == 1
    lr_of = {s: trials.loc[ids[ids["series"] == s]["id"], "lr"].iloc[0] for s in (inside, outside)}
    assert lr_of[outside] == max(trials["lr"]) and lr_of[inside] != lr_of[outside]
    assert colors[inside] != colors[outside] and colors["adam_l2"] == (0.9, 0.5, 0.1)


def test_an_optimizer_without_variants_keeps_its_plain_name(tmp_path):
    group = load([write(tmp_path, small())]).groups[0]
    ids, _, colors = curve_series(group, best_configs(group), {"adamw": (0, 0, 1)})
    assert set(ids["series"]) == {"adamw", "adam_l2"} and len(ids) == 4
    assert colors == {"adamw": (0, 0, 1)}


def test_compact_drops_the_options_wrapper():
    assert compact("optimizer_options={betas=[0.99, 0.9]}") == "betas=[0.99,0.9]"
    assert compact("optimizer_options={betas=[0.9, 0.99], eps=1e-08}") == \
        "betas=[0.9,0.99], eps=1e-08"
    assert compact("schedule=cosine") == "schedule=cosine"
