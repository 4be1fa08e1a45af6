"""Text data for language-model tasks: WikiText loading (local official files or the hub), a
byte-level BPE tokenizer trained locally, and token ids packed into fixed-length blocks.

Tokenizer and token ids are cached under the cache dir, keyed by the data fingerprint and the
vocabulary size, so only the first start of a configuration pays for training and encoding.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from tasks.data import DataUnavailable, fingerprint_files, hub_reachable

HUB_DATASET = "Salesforce/wikitext"
# Hub config -> which official local files hold the same text ('raw' keeps the original
# spelling; 'tokens' is the tokenized release with <unk> and ' @-@ ').
WIKITEXT_CONFIGS = {
    "wikitext-2-raw-v1": "raw",
    "wikitext-2-v1": "tokens",
    "wikitext-103-raw-v1": "raw",
    "wikitext-103-v1": "tokens",
}
# Our split names -> (official file part, hub split name).
SPLITS = {"train": ("train", "train"), "val": ("valid", "validation"), "test": ("test", "test")}
EOS = "<|endoftext|>"
CACHE_FORMAT = 1  # bump when tokenizer training or packing changes
_ENCODE_CHUNK = 20_000  # lines per encode_batch call: bounds memory on wikitext-103


@dataclass(frozen=True)
class TextCorpus:
    """Lines of text per split (line ends kept), where they came from and their fingerprint."""

    splits: dict[str, list[str]]
    source: str
    fingerprint: str


def local_wikitext_files(data_dir: Path, config: str) -> dict[str, Path]:
    """The official wiki.{train,valid,test}.{raw,tokens} files in `data_dir`: the kind the
    config names if present, else the other kind (recorded in the data source)."""
    preferred = WIKITEXT_CONFIGS[config]
    for kind in (preferred, "tokens" if preferred == "raw" else "raw"):
        files = {split: data_dir / f"wiki.{part}.{kind}" for split, (part, _) in SPLITS.items()}
        if all(p.is_file() for p in files.values()):
            return files
    raise DataUnavailable(
        f"no WikiText files in {data_dir}: expected wiki.train.raw, wiki.valid.raw, "
        "wiki.test.raw (or the .tokens release); point --data-dir at the unpacked official "
        "WikiText archive")


def load_wikitext(config: str, data_dir: Path | None) -> TextCorpus:
    """WikiText lines from `data_dir` if given, else from the hub; DataUnavailable otherwise."""
    if config not in WIKITEXT_CONFIGS:
        raise ValueError(f"unknown WikiText config {config!r}; use one of: "
                         f"{', '.join(WIKITEXT_CONFIGS)}")
    if data_dir is not None:
        files = local_wikitext_files(data_dir, config)
        splits = {s: _read_lines(p) for s, p in files.items()}
        kind = files["train"].suffix
        return TextCorpus(splits, f"local:{data_dir} (wiki.*{kind})",
                          fingerprint_files(files.values()))
    if not hub_reachable():
        raise DataUnavailable(
            f"WikiText is not available offline: the hub ({HUB_DATASET}) cannot be reached; "
            "download the official wiki.{train,valid,test}.raw files and pass --data-dir DIR "
            "or set WDBENCH_DATA_WIKITEXT=DIR")
    import datasets

    ds = datasets.load_dataset(HUB_DATASET, config)
    splits = {s: list(ds[hub_split]["text"]) for s, (_, hub_split) in SPLITS.items()}
    h = hashlib.sha256(f"{HUB_DATASET}/{config}".encode())
    for s in SPLITS:
        for line in splits[s]:
            h.update(line.encode())
    return TextCorpus(splits, f"hub:{HUB_DATASET}/{config}", h.hexdigest()[:16])


def _read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines(keepends=True)


# --- tokenizer ----------------------------------------------------------------------------

def train_bpe(lines: Iterable[str], vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2 style: no unknown tokens) trained on `lines`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def load_tokenizer(corpus: TextCorpus, vocab_size: int, cache_dir: Path):
    """The corpus's tokenizer as a transformers fast tokenizer, trained once and cached.
    Returns (tokenizer, cache_hit)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    path = cache_dir / f"bpe-{corpus.fingerprint}-v{vocab_size}-f{CACHE_FORMAT}.json"
    hit = path.is_file()
    if hit:
        tok = Tokenizer.from_file(str(path))
    else:
        tok = train_bpe(corpus.splits["train"], vocab_size)
        _atomic_write(path, lambda f: f.write(tok.to_str().encode()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS), hit


def encode_lines(tokenizer, lines: list[str]) -> torch.Tensor:
    """Token ids of the concatenated lines (line ends are part of the text), as int32."""
    backend = tokenizer.backend_tokenizer
    parts: list[np.ndarray] = []
    for start in range(0, len(lines), _ENCODE_CHUNK):
        for enc in backend.encode_batch(lines[start:start + _ENCODE_CHUNK],
                                        add_special_tokens=False):
            parts.append(np.asarray(enc.ids, dtype=np.int32))
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    return torch.from_numpy(ids)


def load_token_ids(corpus: TextCorpus, tokenizer, vocab_size: int, cache_dir: Path):
    """Token ids of every split, encoded once and cached next to the tokenizer.
    Returns ({split: int32 tensor}, cache_hit)."""
    path = cache_dir / f"ids-{corpus.fingerprint}-v{vocab_size}-f{CACHE_FORMAT}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True), True
    ids = {split: encode_lines(tokenizer, lines) for split, lines in corpus.splits.items()}
    _atomic_write(path, lambda f: torch.save(ids, f))
    return ids, False


def _atomic_write(path: Path, write) -> None:
    """Write via a temp file + rename: parallel workers building the same cache never see a
    half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- packing ------------------------------------------------------------------------------

class BlockDataset(Dataset):
    """Fixed-length blocks of a token stream. Block i is ids[i*T : i*T + T + 1] (inputs are
    its first T tokens, targets its last T), so consecutive blocks share one token and every
    token after the first is predicted exactly once; the ragged tail is dropped."""

    def __init__(self, ids: torch.Tensor, seq_len: int) -> None:
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1 (got {seq_len})")
        self.ids = ids
        self.seq_len = seq_len
        self.n_blocks = max(0, (len(ids) - 1) // seq_len)

    def __len__(self) -> int:
        return self.n_blocks

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.n_blocks:
            raise IndexError(i)
        start = i * self.seq_len
        return self.ids[start:start + self.seq_len + 1].long()

    def __iter__(self) -> Iterator[torch.Tensor]:
        return (self[i] for i in range(len(self)))

    @property
    def n_tokens(self) -> int:
        """Predicted tokens over all blocks."""
        return self.n_blocks * self.seq_len
