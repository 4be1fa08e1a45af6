"""One name per quantity: every report header (HTML, Markdown, CSV) is a column of
bench/schema.py, and every record column of the schema is what the flat table calls it."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

from bench import schema
from bench.engine.runner import run_trial
from bench.ledger.store import flatten
from bench.report import render
from bench.trial.config import TRIAL_KEYS
from tests.bench.engine.test_runner import toy
from tests.bench.report.synthetic import synthetic_records
from tests.bench.report_ledgers import write

# Columns only some tasks record (the toy task of the engine tests has none of them).
TASK_SPECIFIC = {"val_accuracy", "test_accuracy", "train_accuracy", "val_perplexity",
                 "test_perplexity", "dist_box", "dist_l2", "dist_opt", "dist_spectral",
                 "tokens_per_s", "error", "diverged_at", "violation"}


class Headers(HTMLParser):
    """(data-key, title, text) of every <th> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str | None, str | None, str]] = []
        self._open: tuple[str | None, str | None] | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag == "th":
            a = dict(attrs)
            self._open, self._text = (a.get("data-key"), a.get("title")), ""

    def handle_data(self, data):
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "th" and self._open is not None:
            self.found.append((*self._open, self._text.strip()))
            self._open = None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    records = synthetic_records(tasks=("quadratic", "wikitext", "cifar10"),
                                optimizers=("adamw", "adam_l2", "lion", "sgdw"), grid=2,
                                evals=3, failed=1, rng_seed=5)
    write(root, records)
    render([root], root / "html", figures=False)  # the tables' headers, not the figures
    render([root], root / "md", fmt="md")
    flat_keys = set().union(*(flatten(r) for r in records))
    return root, flat_keys


def test_every_html_header_is_a_schema_key_with_its_definition(site):
    root, flat_keys = site
    seen = set()
    for page in (root / "html").glob("*.html"):
        parser = Headers()
        parser.feed(page.read_text())
        for key, title, text in parser.found:
            column = schema.get(key)  # KeyError: a header the schema does not name
            assert text == column.header, (page.name, key, text)
            assert text.split(" (")[0] == key  # the greppable name comes first
            assert title and title.startswith(column.definition), (page.name, key)
            if column.origin == "record":
                assert key in flat_keys, f"{key} is a header but no flattened row has it"
            seen.add(key)
    assert {"weight_decay", "decay", "schedule_theorem", "verdict", "val_loss"} <= seen


def test_every_csv_column_is_a_schema_key(site):
    root, flat_keys = site
    csvs = sorted((root / "html" / "tables").glob("*.csv"))
    assert len(csvs) > 10
    for path in csvs:
        for name in pd.read_csv(path, nrows=0).columns:
            column = schema.resolve(name)  # KeyError: not a schema key (+ a known suffix)
            if column.origin == "record":
                assert column.key in flat_keys, (path.name, name)


def test_markdown_headers_are_schema_headers(site):
    root, _ = site
    md = (root / "md" / "report.md").read_text()
    heads = [line for line in md.splitlines() if line.startswith("| ")]
    headers = {c.header for c in schema.COLUMNS}
    rules = [i for i, line in enumerate(md.splitlines()) if line.startswith("|---")]
    lines = md.splitlines()
    for i in rules:
        cells = [c.strip() for c in lines[i - 1].strip("|").split(" | ")]
        assert set(cells) <= headers, set(cells) - headers
    assert heads


def test_a_runner_record_flattens_to_every_record_column(tmp_path):
    record = run_trial(toy(), tmp_path, show_progress=False)
    row = flatten(record)
    missing = [k for k in schema.record_keys() if k not in row and k not in TASK_SPECIFIC]
    assert not missing
    assert row["mask"] == "matrices"  # the resolved policy, though config.mask is None
    assert record["config"]["mask"] is None
    assert row["decay"] == "decoupled" and row["schedule_theorem"] is True
    assert row["code_fingerprint"] == record["code_fingerprint"]


def test_set_keys_and_columns_agree():
    # Every trial setting a user passes with --set is a column under the same name where its
    # declaration says so (bench/trial/config.py; all but the evaluation and checkpoint
    # intervals), and so is the decay style's optimizer argument (`--set decay=...`).
    from bench.trial.config import FIELDS

    for key in TRIAL_KEYS:
        assert schema.has(key) == FIELDS[key].column, key
    assert schema.has("decay")
    assert {k for k in TRIAL_KEYS if not FIELDS[k].column} == {"eval_every", "checkpoint_every"}


def test_headers_put_the_symbol_beside_the_name():
    assert schema.get("weight_decay").header == "weight_decay (λ)"
    assert schema.get("decay").header == "decay"
    assert schema.resolve("val_loss_ci95_halfwidth").key == "val_loss"
    with pytest.raises(KeyError, match="bench/schema.py"):
        schema.get("theorem")
