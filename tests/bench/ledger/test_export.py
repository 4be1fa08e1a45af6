"""bench.ledger.export: a results directory as a Hugging Face dataset that `datasets` reads back."""

import datasets
import pandas as pd
import pytest

from bench.errors import UsageError
from bench.ledger.export import dataset_card, export_dataset, push_to_hub
from bench.ledger.store import load_curves, load_trials
from tests.bench.report.synthetic import write_synthetic_ledger


@pytest.fixture()
def ledger(tmp_path):
    root = tmp_path / "results"
    records = write_synthetic_ledger(root, tasks=("quadratic",), optimizers=("adamw", "lion"),
                                     grid=2, evals=3, failed=1)
    return root, records


def test_export_reads_back_with_load_dataset(ledger, tmp_path):
    root, records = ledger
    out = export_dataset([root], tmp_path / "ds", definitions={"lr": "peak learning rate"})
    trials = datasets.load_dataset(str(out), split="train")
    assert trials.num_rows == len(records)
    assert sorted(trials["id"]) == sorted(r["id"] for r in records)
    frame = load_trials(root).set_index("id")
    back = trials.to_pandas().set_index("id")
    pd.testing.assert_series_equal(back["val_loss"].sort_index(),
                                   frame["val_loss"].sort_index(), check_names=False)
    curves = datasets.load_dataset(str(out), "curves", split="train")
    assert curves.num_rows == len(load_curves(root)) == sum(len(r["curve"]) for r in records)
    card = (out / "README.md").read_text()
    assert "config_name: curves" in card and "| `lr` | peak learning rate |" in card
    assert f"- trials: {len(records)}" in card


def test_export_replaces_an_earlier_export_and_refuses_an_empty_ledger(ledger, tmp_path):
    root, _ = ledger
    out = export_dataset([root], tmp_path / "ds")
    (out / "stale.txt").write_text("old")  # inside an earlier export: replaced with it
    export_dataset([root], out)
    assert not (out / "stale.txt").exists() and (out / "trials.parquet").exists()
    (tmp_path / "empty_dir").mkdir()
    export_dataset([root], tmp_path / "empty_dir")
    assert (tmp_path / "empty_dir" / "trials.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "empty_dir", "results"]
    with pytest.raises(UsageError, match="no trial records"):
        export_dataset([tmp_path / "empty"], tmp_path / "ds2")
    assert not (tmp_path / "ds2").exists()


def test_a_failed_export_leaves_the_earlier_one_whole(ledger, tmp_path, monkeypatch):
    root, records = ledger
    out = export_dataset([root], tmp_path / "ds")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        export_dataset([root], out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "results"]


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


# --to targets an export must not replace: (path, the text of the one-line error)
REFUSED_TARGETS = [
    ("{results}", "holds the results directory"),
    ("{tmp}", "holds the results directory"),
    ("{results}/trials", "is a folder that is not empty and not an earlier wdbench export"),
    ("{tmp}/notes", "is a folder that is not empty and not an earlier wdbench export"),
    ("{tmp}/notes/todo.txt", "is a file; pass a directory path"),
    ("{tmp}/link", "is a symbolic link"),
]


@pytest.mark.parametrize("to,message", REFUSED_TARGETS)
def test_export_refuses_a_target_it_would_destroy(ledger, tmp_path, to, message, capsys):
    from bench.cli import main

    root, _ = ledger
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "notes", target_is_directory=True)
    before = _tree(tmp_path)
    target = to.format(results=root, tmp=tmp_path)
    assert main(["export", str(root), "--to", target]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert message in line, line
    assert _tree(tmp_path) == before


def test_card_describes_prefixed_columns():
    frames = {"trials": pd.DataFrame({"id": ["a"], "best_val_loss": [1.0]})}
    card = dataset_card(frames, ["r"], {"val_loss": "validation loss"})
    assert "| `best_val_loss` | best over evaluations of val_loss (validation loss) |" in card


def test_push_to_hub_offline_fails_in_one_line(ledger, tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(UsageError, match="HF_HUB_OFFLINE") as err:
        push_to_hub(tmp_path, "someone/results")
    assert "\n" not in str(err.value)


def test_cli_export_and_offline_push(ledger, tmp_path, monkeypatch, capsys):
    from bench.cli import main

    root, records = ledger
    assert main(["export", str(root), "--to", str(tmp_path / "ds")]) == 0
    assert "load_dataset" in capsys.readouterr().out
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "| `weight_decay` | Weight decay in PyTorch's convention" in card
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert main(["export", str(root), "--to", str(tmp_path / "ds2"),
                 "--push-to-hub", "me/results"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HF_HUB_OFFLINE" in err
    assert main(["export", str(tmp_path / "nothing"), "--to", str(tmp_path / "ds3")]) == 2
    assert not (tmp_path / "ds3").exists()


def test_the_card_carries_no_html_or_links_from_the_results(tmp_path):
    from tests.bench.report.synthetic import synthetic_records
    from tests.bench.report_ledgers import write

    records = synthetic_records(tasks=("quadratic",), optimizers=("adamw", "lion"), grid=2,
                                evals=2, names={"lion": "<script>alert(1)</script>"})
    records[0]["final"]["<img src=x onerror=alert(2)>"] = 1.0
    records[0]["task"]["data_fingerprint"] = "[click](javascript:alert(3))"
    root = write(tmp_path / "<b>results</b>", records)
    card = (export_dataset([root], tmp_path / "ds") / "README.md").read_text()
    assert "<" not in card and "[click](" not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert "| `lr` |" in card  # plain column names stay code


def test_load_dataset_returns_this_exports_rows_after_an_earlier_export_was_loaded(tmp_path):
    """datasets' cache is keyed on the folder's name and the card's configs: a re-export to
    the same folder must not be served from the cache of the earlier one (offline)."""
    cache = tmp_path / "hf-cache"
    first = write_synthetic_ledger(tmp_path / "a", tasks=("quadratic",), optimizers=("adamw",),
                                   grid=2, evals=3, failed=0)
    second = write_synthetic_ledger(tmp_path / "b", tasks=("quadratic",),
                                    optimizers=("adamw", "lion"), grid=2, evals=3, failed=0)
    out = tmp_path / "ds"
    for records, source in ((first, "a"), (second, "b"), (first, "a")):
        export_dataset([tmp_path / source], out)
        trials = datasets.load_dataset(str(out), split="train", cache_dir=str(cache))
        assert sorted(trials["id"]) == sorted(r["id"] for r in records)
        curves = datasets.load_dataset(str(out), "curves", split="train", cache_dir=str(cache))
        assert curves.num_rows == sum(len(r["curve"]) for r in records)
