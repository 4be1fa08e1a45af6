"""WikiText task: loading, tokenizer/id caching, packing, offline errors, model, masks, training."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

import tasks
from tasks.data import DataUnavailable
from tasks.text_data import BlockDataset, train_bpe

SHARED_DATA = Path(os.environ.get("WDBENCH_SHARED_DATA")
                   or Path(__file__).resolve().parents[2].parent / "shared" / "data")
HELDOUT = SHARED_DATA / "wikitext-2-v1-heldout"


@pytest.fixture(scope="module")
def heldout() -> Path:
    if not (HELDOUT / "wiki.train.tokens").is_file():
        pytest.skip(f"real WikiText files not found at {HELDOUT} (set WDBENCH_SHARED_DATA)")
    return HELDOUT


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wikitext-cache")


@pytest.fixture(scope="module")
def smoke(heldout, cache):
    return tasks.create("wikitext", "smoke", data_dir=str(heldout), cache_dir=str(cache))


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    """A few KB of WikiText-shaped raw text in the official file names."""
    words = ("the lobster is a species of marine crustacean found in the eastern atlantic "
             "ocean , mediterranean sea and parts of the black sea . it may grow to a length "
             "of 60 cm and a mass of 6 kilograms .").split()
    for part, n_lines in (("train", 60), ("valid", 12), ("test", 12)):
        lines = [" = Heading = \n", " \n"]
        for i in range(n_lines):
            lines.append(" " + " ".join(words[(i + j) % len(words)] for j in range(25)) + " \n")
        (tmp_path / f"wiki.{part}.raw").write_text("".join(lines), encoding="utf-8")
    return tmp_path


def test_registered_with_three_budgets():
    assert "wikitext" in tasks.available()
    assert set(tasks.get("wikitext").budgets) == {"smoke", "cpu", "full"}


@pytest.mark.slow  # trains a tokenizer on the real files
def test_loads_the_official_tokens_files(smoke, heldout):
    corpus = smoke.corpus
    assert set(corpus.splits) == {"train", "val", "test"}
    assert "wiki.*.tokens" in corpus.source and str(heldout) in corpus.source
    assert " = Homarus gammarus = \n" in corpus.splits["train"][:5]
    assert len(smoke.data_fingerprint) == 16
    info = smoke.describe()
    assert info["data_fingerprint"] == smoke.data_fingerprint
    assert 0.1e6 < info["n_params"] < 0.3e6  # smoke: ~0.2M
    assert "decayed" in info["embeddings"] and "tied" in info["embeddings"]


def test_tokenizer_and_ids_are_cached(smoke, heldout, cache):
    from transformers import PreTrainedTokenizerFast

    first = smoke.token_ids  # builds (or reuses) the cache
    again = tasks.create("wikitext", "smoke", data_dir=str(heldout), cache_dir=str(cache))
    assert again.token_ids["train"].equal(first["train"])
    assert again.cache_hits == {"tokenizer": True, "token_ids": True}
    tok = again.tokenizer
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert len(tok) == 1024
    text = " The lobster is blue , only becoming \" lobster red \" on cooking . \n"
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: lossless
    # Ids are the concatenated train lines, line ends included.
    n = 200
    assert tok.decode(first["train"][:n].tolist()) == "".join(smoke.corpus.splits["train"])[
        :len(tok.decode(first["train"][:n].tolist()))]


def test_packing_shapes_and_overlap(smoke):
    ids = torch.arange(10, dtype=torch.int32)
    ds = BlockDataset(ids, seq_len=3)
    assert len(ds) == 3 and ds.n_tokens == 9  # 10 tokens -> 9 predicted; none left over
    assert ds[0].tolist() == [0, 1, 2, 3] and ds[1].tolist() == [3, 4, 5, 6]
    assert ds[2].dtype == torch.long
    assert len(BlockDataset(torch.arange(9), 3)) == 2  # ragged tail dropped
    with pytest.raises(IndexError):
        ds[3]

    train = smoke.train_dataset()
    batch = smoke.collate([train[i] for i in range(4)])
    assert batch.shape == (4, 65)
    val = smoke.eval_dataset("val")
    assert val.n_tokens == 16384  # smoke caps evaluation at 16,384 tokens
    with pytest.raises(ValueError, match="split"):
        smoke.eval_dataset("train")


def test_offline_without_data_fails_fast(monkeypatch, tmp_path, no_hub):
    monkeypatch.delenv("WDBENCH_DATA_WIKITEXT", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match="--data-dir") as err:  # at construction
        tasks.create("wikitext", "smoke", cache_dir=str(tmp_path))
    assert "\n" not in str(err.value)
    assert not any(tmp_path.iterdir())  # nothing tokenized or cached
    with pytest.raises(DataUnavailable, match="does not exist"):
        tasks.create("wikitext", "smoke", data_dir=str(tmp_path / "missing"))
    empty = tasks.create("wikitext", "smoke", data_dir=str(tmp_path), cache_dir=str(tmp_path))
    with pytest.raises(DataUnavailable, match="wiki.train.raw"):
        empty.train_dataset()


def test_env_var_points_at_data(monkeypatch, raw_dir, tmp_path):
    monkeypatch.setenv("WDBENCH_DATA_WIKITEXT", str(raw_dir))
    task = tasks.create("wikitext", "smoke", cache_dir=str(tmp_path / "c"))
    assert str(raw_dir) in task.describe()["data_source"]


def test_bad_options_are_rejected(heldout):
    with pytest.raises(ValueError, match="unknown wikitext option"):
        tasks.create("wikitext", "smoke", {"layer": 3}, data_dir=str(heldout))
    with pytest.raises(ValueError, match="wikitext-103-raw-v1"):
        tasks.create("wikitext", "smoke", {"config": "wikitext-5"}, data_dir=str(heldout))


def test_build_model_is_deterministic(smoke):
    rng = torch.get_rng_state()
    a, b, c = smoke.build_model(0), smoke.build_model(0), smoke.build_model(1)
    assert torch.equal(rng, torch.get_rng_state())  # global RNG untouched
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["transformer.h.0.attn.c_attn.weight"],
                           sc["transformer.h.0.attn.c_attn.weight"])
    assert all(m.p == 0.0 for m in a.modules() if isinstance(m, torch.nn.Dropout))
    assert a.config.attn_pdrop == 0.0


def test_masks_handle_tied_embeddings(smoke, heldout, cache):
    model = smoke.build_model(0)
    assert model.lm_head.weight is model.transformer.wte.weight
    mask = smoke.decay_mask(model, smoke.default_mask)
    assert "lm_head.weight" not in mask  # the tied tensor is listed (and decayed) once
    assert mask["transformer.wte.weight"] and mask["transformer.wpe.weight"]
    assert mask["transformer.h.0.mlp.c_fc.weight"]
    assert not mask["transformer.h.0.mlp.c_fc.bias"] and not mask["transformer.ln_f.weight"]
    no_emb = smoke.decay_mask(model, "matrices_no_embeddings")
    assert not no_emb["transformer.wte.weight"] and not no_emb["transformer.wpe.weight"]
    assert no_emb["transformer.h.1.attn.c_proj.weight"]
    assert all(smoke.decay_mask(model, "all").values())
    assert not any(smoke.decay_mask(model, "none").values())
    with pytest.raises(ValueError, match="matrices_no_embeddings"):
        smoke.decay_mask(model, "biases")

    untied = tasks.create("wikitext", "smoke", {"tie_embeddings": False},
                          data_dir=str(heldout), cache_dir=str(cache))
    model = untied.build_model(0)
    assert model.lm_head.weight is not model.transformer.wte.weight
    assert untied.decay_mask(model, "matrices")["lm_head.weight"]
    assert not untied.decay_mask(model, "matrices_no_embeddings")["lm_head.weight"]
    assert "untied" in untied.describe()["embeddings"]


def test_eval_outputs_are_token_weighted(smoke):
    model = smoke.build_model(0).eval()
    val = smoke.eval_dataset("val")
    batches = [smoke.collate([val[i] for i in range(j, j + 3)]) for j in (0, 3)]
    with torch.no_grad():
        outs = [smoke.eval_outputs(model, b) for b in batches]
        mean = torch.stack([smoke.loss(model, b) for b in batches]).mean().item()
    assert outs[0]["token_loss"].shape == (3, 64)
    metrics = smoke.summarize("val", {"token_loss": torch.cat([o["token_loss"] for o in outs])})
    assert metrics["val_loss"] == pytest.approx(mean, rel=1e-5)
    assert metrics["val_perplexity"] == pytest.approx(math.exp(metrics["val_loss"]))
    assert metrics["val_loss"] == pytest.approx(math.log(1024), rel=0.1)  # ~uniform at init


def test_a_few_steps_reduce_the_loss(smoke):
    model = smoke.build_model(0)
    loader = torch.utils.data.DataLoader(smoke.train_dataset(), batch_size=16, shuffle=True,
                                         generator=torch.Generator().manual_seed(0),
                                         collate_fn=smoke.collate)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    probe = smoke.probe_batches()
    with torch.no_grad():
        before = sum(smoke.loss(model, b).item() for b in probe)
    for step, batch in enumerate(loader):
        smoke.loss(model, batch).backward()
        opt.step()
        opt.zero_grad()
        if step == 40:
            break
    with torch.no_grad():
        after = sum(smoke.loss(model, b).item() for b in probe)
    assert after < before - 0.5 * len(probe)


def test_raw_files_and_small_vocab(raw_dir, tmp_path):
    task = tasks.create("wikitext", "smoke", data_dir=str(raw_dir), cache_dir=str(tmp_path))
    assert "wiki.*.raw" in task.corpus.source
    assert len(task.tokenizer) < 1024  # a few KB cannot fill the requested vocabulary
    model = task.build_model(0)
    assert model.config.vocab_size == len(task.tokenizer)
    batch = task.collate([task.train_dataset()[0]])
    assert torch.isfinite(task.loss(model, batch))
    # BPE training is deterministic: a cold cache elsewhere gives the same tokenizer.
    lines = task.corpus.splits["train"]
    assert train_bpe(lines, 300).to_str() == train_bpe(lines, 300).to_str()


def test_full_batch_option(raw_dir, tmp_path):
    task = tasks.create("wikitext", "smoke", {"full_batch_tokens": 256},
                        data_dir=str(raw_dir), cache_dir=str(tmp_path))
    assert task.budget.batch_size == 4 and len(task.train_dataset()) == 4
    (probe,) = task.probe_batches()
    assert probe.shape == (4, 65)
    assert sorted(map(tuple, probe.tolist())) == sorted(
        tuple(b.tolist()) for b in task.train_dataset())
    with pytest.raises(ValueError, match="full_batch_tokens"):
        tasks.create("wikitext", "smoke", {"full_batch_tokens": 10}, data_dir=str(raw_dir))


def test_hub_path_maps_splits_and_fingerprints_text(monkeypatch, raw_dir, tmp_path):
    """Online path, without a network: the hub loader is given a real DatasetDict holding the
    same lines (as `Salesforce/wikitext` serves them: one row per line)."""
    import datasets

    import tasks.text_data as text_data
    import tasks.wikitext as wikitext_module

    lines = {part: (raw_dir / f"wiki.{part}.raw").read_text().splitlines(keepends=True)
             for part in ("train", "valid", "test")}
    served = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": lines["train"]}),
        "validation": datasets.Dataset.from_dict({"text": lines["valid"]}),
        "test": datasets.Dataset.from_dict({"text": lines["test"]}),
    })
    calls = []

    def load_dataset(name, config):
        calls.append((name, config))
        return served

    monkeypatch.delenv("WDBENCH_DATA_WIKITEXT", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(text_data, "hub_reachable", lambda: True)
    monkeypatch.setattr(wikitext_module, "hub_reachable", lambda: True)
    task = tasks.create("wikitext", "smoke", {"config": "wikitext-103-v1"},
                        cache_dir=str(tmp_path))
    assert task.corpus.splits["val"] == lines["valid"]
    assert calls == [("Salesforce/wikitext", "wikitext-103-v1")]
    assert task.describe()["data_source"] == "hub:Salesforce/wikitext/wikitext-103-v1"
    local = tasks.create("wikitext", "smoke", data_dir=str(raw_dir), cache_dir=str(tmp_path))
    assert task.data_fingerprint != local.data_fingerprint  # source is part of provenance
    assert len(task.train_dataset()) == len(local.train_dataset())  # same text, same blocks
