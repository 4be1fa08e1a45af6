"""WikiText language modelling: a GPT-2-style decoder trained from scratch on WikiText with a
locally trained byte-level BPE tokenizer; validation/test perplexity are token-weighted."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F

from tasks.base import Budget, Task
from tasks.data import DataUnavailable, default_cache_dir, hub_reachable, resolve_data_dir
from tasks.lm_model import LMShape, build_gpt2, embedding_param_names, embeddings_tied
from tasks.masks import MASK_POLICIES, NO_EMBEDDINGS
from tasks.options import OneOf, Range, TaskOption, at_least
from tasks.text_data import (
    HUB_DATASET,
    WIKITEXT_CONFIGS,
    BlockDataset,
    TextCorpus,
    load_token_ids,
    load_tokenizer,
    load_wikitext,
)

# Task options (`--set task.NAME=value`); budgets override some of them.
OPTIONS = (
    TaskOption("config", "wikitext-2-raw-v1", str, "hub config; with --data-dir it picks .raw "
               "vs .tokens files", OneOf(tuple(WIKITEXT_CONFIGS))),
    TaskOption("vocab_size", 4096, int, "BPE vocabulary (tiny data may give fewer tokens)",
               at_least(2)),
    TaskOption("seq_len", 128, int, "tokens per block", at_least(1)),
    TaskOption("layers", 4, int, "transformer blocks", at_least(1)),
    TaskOption("width", 128, int, "model width (a multiple of heads)", at_least(1)),
    TaskOption("heads", 4, int, "attention heads", at_least(1)),
    TaskOption("dropout", 0.0, float, "dropout (off, as in Xie & Li's experiment)",
               Range(0, 1, high_open=True)),
    TaskOption("tie_embeddings", True, bool, "output projection = token embedding"),
    TaskOption("max_eval_tokens", None, int, "evaluate on the first N tokens of val/test "
               "(null: all)", at_least(1), nullable=True),
    # Xie & Li §5.1: the batch is all of them, so the batch size becomes N // seq_len blocks.
    TaskOption("full_batch_tokens", None, int, "full-batch training on the first N training "
               "tokens (null: minibatches)", at_least(1), nullable=True),
)


def _budget(name: str, steps: int, batch_size: int, eval_every: int, eval_batch_size: int,
            probe_batches: int, **options: Any) -> Budget:
    return Budget(name, steps=steps, batch_size=batch_size, eval_every=eval_every,
                  eval_batch_size=eval_batch_size, probe_batches=probe_batches,
                  options=MappingProxyType(options))


class WikiTextTask(Task):
    name = "wikitext"
    budgets = MappingProxyType({
        # ~0.17M parameters, seconds: for tests.
        "smoke": _budget("smoke", steps=30, batch_size=16, eval_every=15, eval_batch_size=64,
                         probe_batches=2, vocab_size=1024, seq_len=64, layers=2, width=64,
                         heads=4, max_eval_tokens=16384),
        # ~1.33M parameters, seq 128, 2,048-token batches; sized so the default suite (32
        # trials) fits 20 minutes on 2 cores, and evaluation (at steps 0 and 100: 16k
        # validation tokens + a 4k-token probe gradient) stays near 10% of the run
        # (docs/results/speed.md).
        "cpu": _budget("cpu", steps=100, batch_size=16, eval_every=100, eval_batch_size=64,
                       probe_batches=2, vocab_size=4096, seq_len=128, layers=4, width=128,
                       heads=4, max_eval_tokens=16384),
        # GPT-2 small-like (~100M parameters with a 32k vocabulary), for GPUs.
        "full": _budget("full", steps=20000, batch_size=64, eval_every=1000,
                        eval_batch_size=64, probe_batches=8, vocab_size=32768, seq_len=512,
                        layers=12, width=768, heads=12),
    })
    declared_options = OPTIONS
    default_mask = "matrices"
    mask_policies = (*MASK_POLICIES, NO_EMBEDDINGS)
    # torch.func over task.loss; dropout > 0 is refused by bench/engine/stacked (random streams).
    stacking = "func"
    selection_metric = "val_loss"
    selection_mode = "min"
    # val_loss 6.2 = perplexity 493: reached by the default suite's adamw and adam_l2 at
    # their best settings in the 100-step cpu budget (docs/results/wikitext-cpu.md), not by
    # every configuration.
    targets = MappingProxyType({"cpu": 6.2})

    def __init__(self, budget: Budget, options: dict[str, Any] | None = None,
                 data_dir: str | None = None, cache_dir: str | None = None) -> None:
        super().__init__(budget, options, data_dir=data_dir, cache_dir=cache_dir)
        self.seq_len = int(self.options["seq_len"])
        # Fail now (not after minutes of setup) when there is neither local data nor a hub.
        self._data_path = resolve_data_dir(self.name, data_dir)
        if self._data_path is None and not hub_reachable():
            raise DataUnavailable(
                f"WikiText is not available offline: the hub ({HUB_DATASET}) cannot be "
                "reached; download the official wiki.{train,valid,test}.raw files and pass "
                "--data-dir DIR or set WDBENCH_DATA_WIKITEXT=DIR")
        full = self.options["full_batch_tokens"]
        if full is not None:
            blocks = int(full) // self.seq_len
            if blocks < 1:
                raise ValueError(f"task.full_batch_tokens ({full}) must be >= task.seq_len "
                                 f"({self.seq_len})")
            self.budget = replace(self.budget, batch_size=blocks, probe_batches=1)
        self._cache = Path(cache_dir) if cache_dir else default_cache_dir()
        self.cache_hits: dict[str, bool] = {}

    # --- data (loaded on first use, cached on disk) ---------------------------------------
    @cached_property
    def corpus(self) -> TextCorpus:
        return load_wikitext(self.options["config"], self._data_path)

    @cached_property
    def tokenizer(self):
        """The transformers fast tokenizer trained on this corpus's train split."""
        tok, self.cache_hits["tokenizer"] = load_tokenizer(
            self.corpus, int(self.options["vocab_size"]), self._cache / "wikitext")
        return tok

    @cached_property
    def token_ids(self) -> dict[str, torch.Tensor]:
        ids, self.cache_hits["token_ids"] = load_token_ids(
            self.corpus, self.tokenizer, int(self.options["vocab_size"]),
            self._cache / "wikitext")
        return ids

    @property
    def data_fingerprint(self) -> str:
        return self.corpus.fingerprint

    @cached_property
    def shape(self) -> LMShape:
        o = self.options
        return LMShape(vocab_size=len(self.tokenizer), seq_len=self.seq_len,
                       layers=int(o["layers"]), width=int(o["width"]), heads=int(o["heads"]),
                       dropout=float(o["dropout"]), tie_embeddings=bool(o["tie_embeddings"]))

    def train_dataset(self) -> BlockDataset:
        ids = self.token_ids["train"]
        full = self.options["full_batch_tokens"]
        if full is not None:
            ids = ids[:int(full) + 1]
        return BlockDataset(ids, self.seq_len)

    def eval_dataset(self, split: str) -> BlockDataset:
        if split not in ("val", "test"):
            raise ValueError(f"unknown split {split!r}; use 'val' or 'test'")
        ids = self.token_ids[split]
        cap = self.options["max_eval_tokens"]
        if cap is not None:
            ids = ids[:int(cap) + 1]
        return BlockDataset(ids, self.seq_len)

    # --- model ----------------------------------------------------------------------------
    def build_model(self, seed: int) -> torch.nn.Module:
        return build_gpt2(self.shape, seed, eos_token_id=self.tokenizer.eos_token_id)

    def decay_mask(self, model: torch.nn.Module, policy: str) -> dict[str, bool]:
        """Policies of tasks.masks plus `matrices_no_embeddings`. A tied output projection is
        the token embedding tensor: named_parameters lists it once (as transformer.wte.weight)
        so it gets one entry and is decayed (under `matrices`/`all`) exactly once."""
        if policy == NO_EMBEDDINGS:
            embeddings = embedding_param_names(model)
            mask = super().decay_mask(model, "matrices")
            return {name: decayed and name not in embeddings for name, decayed in mask.items()}
        if policy not in self.mask_policies:
            raise ValueError(f"unknown mask {policy!r}; use one of: "
                             f"{', '.join(self.mask_policies)}")
        return super().decay_mask(model, policy)

    # --- computation ----------------------------------------------------------------------
    def _token_losses(self, model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        logits = model(input_ids=batch[:, :-1]).logits
        # float32 cross-entropy even under bf16 autocast: the loss is what we compare.
        losses = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten(),
                                 reduction="none")
        return losses.view(batch.shape[0], -1)

    def loss(self, model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return self._token_losses(model, batch).mean()

    def eval_outputs(self, model: torch.nn.Module, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        # (blocks, seq_len): blocks on dim 0 so gather_for_metrics drops DDP padding exactly.
        return {"token_loss": self._token_losses(model, batch)}

    def summarize(self, split: str, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        # Every block has seq_len tokens: the mean over all entries is token-weighted.
        loss = outputs["token_loss"].double().mean().item()
        return {f"{split}_loss": loss, f"{split}_perplexity": math.exp(min(loss, 700.0))}

    # --- provenance -----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        shape = self.shape
        with torch.device("meta"):  # shapes only: no memory, no init time
            model = build_gpt2(shape, 0)
        n_params = sum(p.numel() for p in model.parameters())  # tied tensor counted once
        return {
            "data_source": self.corpus.source,
            "data_fingerprint": self.data_fingerprint,
            "options": dict(self.options),
            "model": "GPT2LMHeadModel (transformers config, random init)",
            "n_params": n_params,
            "vocab_size": shape.vocab_size,
            "tokenizer": f"byte-level BPE trained on the train split, {len(self.tokenizer)} "
                         "tokens",
            "tokens": {"train": len(self.train_dataset()) * self.seq_len,
                       "val": self.eval_dataset("val").n_tokens,
                       "test": self.eval_dataset("test").n_tokens},
            "batch_tokens": self.budget.batch_size * self.seq_len,
            "flops_per_token": shape.flops_per_token(),
            "embeddings": ("tied: lm_head.weight is transformer.wte.weight, one tensor listed "
                           "once; " if embeddings_tied(model) else "untied; ")
                          + "embeddings are decayed under the default mask 'matrices' "
                            f"('{NO_EMBEDDINGS}' exempts them)",
        }
