"""The report: selection on validation, intervals, separability, escaping, partial results,
Markdown/CSV output and the CLI's errors. Browser checks live in test_report_browser.py."""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main as cli
from bench.report import render
from bench.report.data import load, selection_for
from bench.report.leaderboard import leaderboard
from bench.report.separability import separability
from bench.report.tables import best_configs
from tests.bench.report.synthetic import synthetic_records, write_synthetic_ledger
from tests.bench.report_ledgers import set_val, small, write

EVIL = "<script>alert(1)</script>"


class Refs(HTMLParser):
    """Every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.refs.append(value)
            if key == "id" and value:
                self.ids.add(value)


def _refs(page: Path) -> Refs:
    parser = Refs()
    parser.feed(page.read_text())
    return parser


def _group(dirs, task="quadratic"):
    data = load(dirs)
    return next(g for g in data.groups if g.task == task)


# --- statistics and selection ---------------------------------------------------------------

def test_best_config_is_best_mean_over_seeds_and_skips_diverged(tmp_path):
    records = small()
    lrs = sorted({r["config"]["lr"] for r in records if r["config"]["optimizer"] == "adamw"})
    wds = sorted({r["config"]["weight_decay"] for r in records
                  if r["config"]["optimizer"] == "adamw"})

    def value(r):
        c = r["config"]
        if c["optimizer"] != "adamw":
            return 2.0 + c["seed"]
        cell = (lrs.index(c["lr"]), wds.index(c["weight_decay"]))
        if cell == (0, 0):  # lowest single value, but seed 1 diverged: not selectable
            return 0.1 if c["seed"] == 0 else None
        if cell == (1, 1):  # best mean over both seeds
            return [0.95, 1.05][c["seed"]]
        return [0.90, 1.40][c["seed"]]  # best seed-0 value of the complete cells, worse mean

    set_val(records, value)
    group = _group([write(tmp_path, records)])
    best = best_configs(group).set_index("optimizer")
    assert (best.loc["adamw", "lr"], best.loc["adamw", "weight_decay"]) == (lrs[1], wds[1])
    board = leaderboard(group, {"adamw": "a", "adam_l2": "b"}).frame.set_index("optimizer")
    assert board.loc["adamw", "val_loss"] == pytest.approx(1.0)
    assert board.loc["adamw", "val_loss_ci"] == pytest.approx(
        12.706 * statistics.stdev([0.95, 1.05]) / math.sqrt(2), rel=1e-3)
    # Paired difference to the leader over the same seeds: (2 - 0.95 + 3 - 1.05) / 2.
    assert board.loc["adam_l2", "delta"] == pytest.approx(1.5)
    # Paired t-test of those differences (1.05, 1.95): t = 3.33 with 1 degree of freedom,
    # between the table's 3.078 (p = 0.2) and 6.314 (p = 0.1).
    assert 0.1 < board.loc["adam_l2", "p_value"] < 0.2
    assert math.isnan(board.loc["adamw", "p_value"])
    assert list(board.index) == ["adamw", "adam_l2"]  # best first
    assert board.loc["adamw", "diverged"] == 1


def test_selection_metric_falls_back_to_accuracy_then_loss():
    acc = pd.DataFrame({"val_loss": [1.0], "val_accuracy": [0.9]})
    assert (selection_for("no-such-task", acc).metric, selection_for("x", acc).mode) == \
        ("val_accuracy", "max")
    loss = pd.DataFrame({"val_loss": [1.0]})
    assert (selection_for("no-such-task", loss).metric,
            selection_for("no-such-task", loss).mode) == ("val_loss", "min")


def test_accuracy_task_selects_the_highest_accuracy(tmp_path):
    write_synthetic_ledger(tmp_path, tasks=("cifar10",), optimizers=("adamw",), grid=2,
                           evals=3, failed=0)
    group = _group([tmp_path], "cifar10")
    assert group.selection.metric == "val_accuracy"
    best = best_configs(group).iloc[0]
    cells = group.trials.groupby(["lr", "weight_decay"])["val_accuracy"].mean()
    assert best["val_accuracy"] == pytest.approx(cells.max())


def test_separability_numbers(tmp_path):
    records = small(optimizers=("adamw",), grid=3)
    lrs = sorted({r["config"]["lr"] for r in records})
    wds = sorted({r["config"]["weight_decay"] for r in records})
    # Best λ index per lr: 1, 1, 2 (moves one grid step); one cell within 1%, one within 5%.
    table = {(0, 1): 1.0, (1, 1): 1.005, (2, 2): 1.04}
    set_val(records, lambda r: table.get((lrs.index(r["config"]["lr"]),
                                          wds.index(r["config"]["weight_decay"])), 2.0))
    row = separability(_group([write(tmp_path, records)]), {"adamw": "a"}).frame.iloc[0]
    assert row["wd_shift_steps"] == 1
    assert row["wd_shift_decades"] == pytest.approx(math.log10(wds[2] / wds[1]))
    assert row["within_1"] == pytest.approx(2 / 9) and row["within_5"] == pytest.approx(3 / 9)


# --- groups never mix ----------------------------------------------------------------------

def test_budgets_and_data_are_never_mixed(tmp_path):
    write_synthetic_ledger(tmp_path / "a", tasks=("quadratic",), optimizers=("adamw",), grid=2,
                           evals=3, failed=0)
    write_synthetic_ledger(tmp_path / "b", tasks=("quadratic",), optimizers=("adamw",), grid=2,
                           evals=3, failed=0, budget="smoke")
    data = load([tmp_path / "a", tmp_path / "b"])
    assert sorted(g.budget for g in data.groups) == ["cpu", "smoke"]
    assert all(g.trials["budget"].nunique() == 1 for g in data.groups)
    out = render([tmp_path / "a", tmp_path / "b"], tmp_path / "md", fmt="md")
    assert out.read_text().count("### Leaderboard") == 2


# --- the HTML site --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("ledger")
    names = {"lion": EVIL, "adamw": "adamw $x_1$ | pipe"}
    records = synthetic_records(tasks=("quadratic", "wikitext"),
                                optimizers=("adamw", "adam_l2", "lion"), grid=2, evals=4,
                                failed=1, names=names, missing=0.1, rng_seed=3)
    for r in records:
        r["task"]["data_source"] = "<img src=x onerror=alert(2)>"
    write(root, records)
    index = render([root], root / "report")
    return root, index


def test_every_link_and_image_resolves(site):
    _, index = site
    pages = sorted(index.parent.glob("*.html"))
    assert len(pages) >= 1 + 2 + 3  # index, two groups, three optimizers
    for page in pages:
        refs = _refs(page)
        for ref in refs.refs:
            target, _, anchor = ref.partition("#")
            assert "://" not in ref, f"{page.name} loads {ref} from the network"
            path = page.parent / target if target else page
            assert path.is_file(), f"{page.name}: broken link {ref}"
            if anchor and path.suffix == ".html":
                assert anchor in _refs(path).ids, f"{page.name}: missing anchor {ref}"
    for png in index.parent.glob("plots/*.png"):
        assert png.with_suffix(".svg").is_file()


def test_one_leaderboard_per_group_and_provenance_everywhere(site):
    _, index = site
    html = index.read_text()
    assert len(re.findall(r'<table class="sortable" id="leaderboard-', html)) == 2
    for page in index.parent.glob("*.html"):
        text = page.read_text()
        assert "Provenance" in text and "data fingerprint" in text, page.name
        assert "77e4cec" in text  # the code revision of the records


def test_names_from_results_are_escaped(site):
    root, index = site
    for page in index.parent.glob("*.html"):
        text = page.read_text()
        assert EVIL not in text and "<img src=x" not in text, page.name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index.read_text()
    # File names come from slugs, never from the raw name.
    assert all(re.fullmatch(r"[a-z0-9.\-]+", p.name) for p in index.parent.rglob("*")
               if p.is_file())


def test_markdown_and_csv(site, tmp_path):
    root, _ = site
    assert cli(["report", str(root), "--out", str(tmp_path), "--format", "md"]) == 0
    md = (tmp_path / "report.md").read_text()
    assert "| optimizer |" in md and EVIL not in md and "&lt;script&gt;" in md
    assert r"\| pipe" in md  # a '|' in a name does not split the cell
    csvs = sorted((tmp_path / "tables").glob("*.csv"))
    assert any(p.name.startswith("leaderboard-") for p in csvs)
    board = pd.read_csv(next(p for p in csvs if p.name.startswith("leaderboard-quadratic")))
    assert {"optimizer", "lr", "weight_decay", "val_loss", "val_loss_ci95_halfwidth",
            "val_loss_seeds"} <= set(board.columns)


# --- partial results -------------------------------------------------------------------------

def test_no_figures_gives_the_same_tables_and_pages_without_a_plot(site, tmp_path):
    root, index = site
    assert cli(["report", str(root), "--out", str(tmp_path), "--no-figures"]) == 0
    assert not (tmp_path / "plots").exists()
    drawn = {p.name: p.read_bytes() for p in (index.parent / "tables").glob("*.csv")}
    bare = {p.name: p.read_bytes() for p in (tmp_path / "tables").glob("*.csv")}
    assert bare == drawn  # every table, byte for byte
    assert ({p.name for p in tmp_path.glob("*.html")}
            == {p.name for p in index.parent.glob("*.html")})
    for page in tmp_path.glob("*.html"):
        assert "<img" not in page.read_text() and "plots/" not in page.read_text(), page.name
    group_page = next(tmp_path.glob("group-*.html")).read_text()
    assert "Figures left out" in group_page and "No finished trial to plot" not in group_page
    verdicts = json.loads((tmp_path / "verdicts.json").read_text())
    assert verdicts["claims"] and all(c["figure"] is None for c in verdicts["claims"])


def test_a_claim_gets_a_figure_where_it_judged_a_configuration(site):
    _, index = site
    claims = json.loads((index.parent / "verdicts.json").read_text())["claims"]
    kinds = set()
    for c in claims:
        judged_some = any(n for outcome, n in c["cases"].items() if outcome != "not-applicable")
        kinds.add(judged_some)
        stem = f"claim-{c['claim']}-{c['group']}"
        if judged_some:
            assert c["figure"] == f"plots/{stem}.png" and (index.parent / c["figure"]).is_file()
        else:  # applies to no configuration here: its reason, no figure
            assert c["figure"] is None and not list(index.parent.glob(f"plots/{stem}.*"))
    assert kinds == {True, False}


def test_empty_ledger_renders_a_page_that_says_so(tmp_path):
    (tmp_path / "trials").mkdir()
    index = render([tmp_path], tmp_path / "report")
    assert "No results yet" in index.read_text()
    assert render([tmp_path], tmp_path / "md", fmt="md").read_text().count("No trial") == 1


def test_all_diverged_and_single_optimizer(tmp_path):
    records = small(optimizers=("lion",), all_diverged=("lion",))
    write(tmp_path, records)
    data = load([tmp_path])
    board = leaderboard(data.groups[0], {"lion": "l"}).frame
    assert len(board) == 1 and math.isnan(board.loc[0, "val_loss"])
    assert board.loc[0, "diverged"] == len(records)
    index = render([tmp_path], tmp_path / "report")
    text = index.read_text()
    assert "No optimizer finished a trial here yet." in text
    group_page = next(index.parent.glob("group-*.html")).read_text()
    assert "non-finite loss at step" in group_page


def test_unfinished_sweep_and_sparse_records(tmp_path):
    records = small(missing=0.3, rng_seed=1)
    # A trial that failed before its data loaded has no task section, curve or env (a seed of
    # its own: a failed record beside a finished one of its configuration and seed is not
    # counted, bench/ledger/freshness.py).
    failed = dict(records[0], id="f" * 12, status="failed", error="Traceback\nOSError: disk",
                  config={**records[0]["config"], "seed": 99})
    for key in ("task", "curve", "per_tensor", "env", "final", "best", "timing"):
        failed.pop(key, None)
    write(tmp_path, records + [failed])
    data = load([tmp_path])
    assert len(data.groups) == 1  # filed under its task's only fingerprint
    index = render([tmp_path], tmp_path / "report")
    assert "are missing" in index.read_text()
    assert "OSError: disk" in next(index.parent.glob("group-*.html")).read_text()


def test_cli_rejects_a_missing_results_dir(tmp_path, capsys):
    assert cli(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not exist" in err
    assert not (tmp_path / "nope").exists()


# --- variants ---------------------------------------------------------------------------

def test_settings_that_vary_become_variants(tmp_path):
    records = small(optimizers=("adamw",))
    twins = []
    for r in records:
        twin = {**r, "id": r["id"][:-1] + "x", "config": {**r["config"], "schedule": "cosine"},
                "schedule": {"name": "cosine", "schedule_theorem": False}}
        twins.append(twin)
    write(tmp_path, records + twins)
    group = _group([tmp_path])
    assert set(group.trials["variant"]) == {"schedule=inverse_sqrt", "schedule=cosine"}
    index = render([tmp_path], tmp_path / "report")
    plots = {p.name for p in index.parent.glob("plots/heatmap-*.png")}
    assert len(plots) == 2  # one heatmap grid per schedule
    assert 'data-key="variant"' in index.read_text()  # a column of the settings that vary


def test_a_parent_directory_stands_for_the_ledgers_below_it(tmp_path):
    write_synthetic_ledger(tmp_path / "quadratic", tasks=("quadratic",), optimizers=("adamw",),
                           grid=2, evals=3, failed=0)
    write_synthetic_ledger(tmp_path / "cifar10", tasks=("cifar10",), optimizers=("adamw",),
                           grid=2, evals=3, failed=0)
    data = load([tmp_path])
    assert sorted(g.task for g in data.groups) == ["cifar10", "quadratic"]
    assert len(data.sources) == 2


def test_a_rebuild_leaves_nothing_stale(tmp_path):
    write(tmp_path / "a", small(grid=1, seeds=(0,)))
    render([tmp_path / "a"], tmp_path / "out")
    assert list((tmp_path / "out" / "plots").iterdir())
    write(tmp_path / "b", small(optimizers=("adamw",), grid=1, seeds=(0,)))
    render([tmp_path / "b"], tmp_path / "out", figures=False)
    assert not list((tmp_path / "out" / "plots").iterdir())  # the first build's figures too
    files = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len([f for f in files if f.startswith("optimizer-")]) == 1
    assert not [f for f in files if "adam-l2" in f]  # adam_l2's page and CSVs are gone
    assert "adam_l2" not in (tmp_path / "out" / "index.html").read_text()


# --- stale records ---------------------------------------------------------------------------

def test_records_of_older_code_are_left_out_and_counted(tmp_path):
    fresh = small(optimizers=("adamw",), seeds=(0,))
    stale = []
    for r in fresh:  # the same trials run earlier by other code, with a better (stale) score
        old = {**r, "id": r["id"][:-1] + "s", "code_fingerprint": "01d0000000000+" + "0" * 12,
               "env": {**r["env"], "date": "2026-01-01T00:00:00+00:00"},
               "final": {**r["final"], "val_loss": 0.0}}
        stale.append(old)
    legacy = {**fresh[0], "id": "legacy000000", "schema": 1}
    legacy.pop("code_fingerprint")
    write(tmp_path, fresh + stale + [legacy])
    group = _group([tmp_path])
    assert group.stale == len(stale) + 1
    assert set(group.trials["id"]) == {r["id"] for r in fresh}
    board = leaderboard(group, {"adamw": "a"})
    assert board.frame.loc[0, "val_loss"] > 0  # the stale 0.0 is not on the board
    assert any(f"{len(stale) + 1} records of older code" in n for n in board.notes)
    index = render([tmp_path], tmp_path / "report", figures=False)
    assert f"{len(stale) + 1} stale records" in index.read_text()


def test_a_ledger_of_only_unfingerprinted_records_is_shown_whole(tmp_path):
    records = small(optimizers=("adamw",), seeds=(0,))
    for r in records:
        r.pop("code_fingerprint")
    write(tmp_path, records)
    group = _group([tmp_path])
    assert group.stale == 0 and len(group.trials) == len(records)


# --- hostile text from the results ----------------------------------------------------------

FORMULAS = {"adamw": "=HYPERLINK(\"http://x\",\"y\")", "adam_l2": "@SUM(1+1)",
            "lion": "\t=1+1"}


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_no_csv_cell_is_a_spreadsheet_formula(tmp_path, fmt):
    """Optimizer names and error lines from the results start with = + - @ (or tab / CR): in
    every CSV the report writes they stay text (a leading ')."""
    records = synthetic_records(tasks=("quadratic",), optimizers=("adamw", "adam_l2", "lion"),
                                grid=2, evals=3, failed=2, names=FORMULAS, rng_seed=1)
    failed = [r for r in records if r["status"] == "failed"]
    failed[0]["error"] = "Traceback ...\n-2+3+cmd|' /C calc'!A0"
    failed[1]["error"] = "Traceback ...\r+1+1"
    write(tmp_path / "ledger", records)
    render([tmp_path / "ledger"], tmp_path / "report", fmt, figures=False)  # the CSVs only
    csvs = sorted((tmp_path / "report" / "tables").glob("*.csv"))
    assert csvs
    seen = set()
    for path in csvs:
        with open(path, newline="") as f:
            for row in csv.reader(f):
                for value in row:
                    seen.add(value)
                    if value.startswith(("=", "+", "-", "@", "\t", "\r")):
                        float(value)  # only a number may start so (-0.5)
    assert {"'" + name for name in FORMULAS.values()} <= seen
    assert "'-2+3+cmd|' /C calc'!A0" in seen
