"""The report's time-to-target and performance profile, on generated ledgers whose times are
set by the test (so the expected scores follow from the definitions), and the index page's
headline figure."""

import math
import re

import pytest

from bench.report import render
from bench.report.data import load
from bench.report.profiles import profile_table, task_times
from tests.bench.report.synthetic import synthetic_records
from tests.bench.report_ledgers import write


def _timed(records, time_of):
    """Overwrite each record's time to target with time_of(record) (None: never reached)."""
    for r in records:
        t = time_of(r)
        r["target"]["reached"] = t is not None
        r["target"]["steps_to_target"] = None if t is None else t * 100
        r["timing"]["time_to_target_s"] = None if t is None else t
    return records


def _ledger(tmp_path, tasks=("wikitext", "cifar10")):
    records = synthetic_records(tasks=tasks, optimizers=("adamw", "lion"),
                                grid=2, seeds=(0, 1, 2), failed=0)
    records = [r for r in records if r["status"] == "done"]
    best = {("wikitext", "adamw"): 10.0, ("wikitext", "lion"): 30.0,
            ("cifar10", "adamw"): 50.0, ("cifar10", "lion"): 25.0}

    def time_of(r):
        c = r["config"]
        if c["lr"] != min(x["config"]["lr"] for x in records
                          if x["config"]["optimizer"] == c["optimizer"]):
            return None  # only the smaller lr reaches the target
        # seeds 0..2 give best, best, 10 x best: the median is best
        return best[(c["task"], c["optimizer"])] * (10 if c["seed"] == 2 else 1)

    return write(tmp_path / "results", _timed(records, time_of))


def test_task_times_take_each_optimizers_fastest_configuration_median(tmp_path):
    data = load([_ledger(tmp_path)])
    times = task_times(data.groups)
    by_task = {title.split(" ")[0]: v for title, v in times.items()}
    assert by_task == {"wikitext": {"adamw": 10.0, "lion": 30.0},
                       "cifar10": {"adamw": 50.0, "lion": 25.0}}


def test_profile_scores_follow_the_ratios(tmp_path):
    table = profile_table(load([_ledger(tmp_path)]).groups)
    rows = table.frame.set_index("optimizer")
    # adamw: ratios 1 (wikitext) and 2 (cifar10) -> ((4-1) + (4-2)) / 3 / 2 = 5/6
    # lion:  ratios 3 and 1                      -> ((4-3) + (4-1)) / 3 / 2 = 2/3
    assert rows.loc["adamw", "profile_score"] == pytest.approx(5 / 6)
    assert rows.loc["lion", "profile_score"] == pytest.approx(2 / 3)
    assert rows.loc["adamw", "tasks_fastest"] == 1 and rows.loc["lion", "tasks_reached"] == 2
    assert list(table.frame["optimizer"]) == ["adamw", "lion"]


def test_no_target_no_profile(tmp_path):
    records = synthetic_records(tasks=("quadratic",), optimizers=("adamw",), grid=2)
    assert profile_table(load([write(tmp_path, records)]).groups) is None


def test_index_leads_with_the_headline_figure_and_shows_the_profile(tmp_path):
    root = _ledger(tmp_path, tasks=("wikitext",))  # has a target; the quadratic below none
    quad = synthetic_records(tasks=("quadratic",), optimizers=("adamw", "lion"), grid=2)
    for r in quad:
        r["task"]["headline_figure"] = "linf"
    write(root, quad)
    index = render([root], tmp_path / "report").read_text()
    assert 'id="performance-profile"' in index and "plots/performance-profile.png" in index
    assert (tmp_path / "report" / "plots" / "performance-profile.png").exists()
    for section in re.findall(r'<section id="(?!performance|claims")[^"]+">.*?</section>',
                              index, re.S):
        figure_at = section.find("<figure")
        assert 0 < figure_at < section.find("<h3>Leaderboard</h3>")
        kind = "linf-" if section.startswith('<section id="quadratic') else "heatmap-"
        assert f'src="plots/{kind}' in section[:section.find("<h3>Leaderboard</h3>")]
    board = re.search(r'id="leaderboard-[^"]*wikitext[^"]*".*?</table>', index, re.S).group(0)
    assert 'data-key="time_to_target_s"' in board and 'data-key="steps_to_target"' in board


def test_never_reaching_the_target_is_infinite(tmp_path):
    records = synthetic_records(tasks=("wikitext",), optimizers=("adamw", "lion"), grid=2,
                                seeds=(0,), failed=0)
    records = _timed(records, lambda r: 5.0 if r["config"]["optimizer"] == "adamw" else None)
    groups = load([write(tmp_path, records)]).groups
    rows = profile_table(groups).frame.set_index("optimizer")
    assert rows.loc["adamw", "profile_score"] == 1.0
    assert rows.loc["lion", "profile_score"] == 0.0 and rows.loc["lion", "tasks_reached"] == 0
    (times,) = task_times(groups).values()
    assert math.isinf(times["lion"])
