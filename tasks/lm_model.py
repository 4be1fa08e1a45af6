"""GPT-2-style decoder language models built from a transformers config (no pretrained weights),
and the facts about their parameters a decay mask needs (tied and embedding tensors)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LMShape:
    """Architecture of a GPT-2-style decoder."""

    vocab_size: int
    seq_len: int
    layers: int
    width: int
    heads: int
    dropout: float = 0.0
    tie_embeddings: bool = True

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads}); "
                             "set task.width / task.heads accordingly")

    def flops_per_token(self) -> float:
        """Training FLOPs per token (forward + backward = 3 x forward), counting the matmuls:
        6 x (non-embedding matmul params + output projection) + attention scores/values."""
        matmul_params = self.layers * 12 * self.width ** 2 + self.vocab_size * self.width
        attention = self.layers * 2 * self.seq_len * self.width  # QK^T and AV, per token
        return 6.0 * matmul_params + 6.0 * attention


def build_gpt2(shape: LMShape, seed: int, eos_token_id: int | None = None) -> torch.nn.Module:
    """A freshly initialised GPT2LMHeadModel; the same seed gives the same weights, and the
    global RNG state is left as it was."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=shape.vocab_size, n_positions=shape.seq_len, n_embd=shape.width,
        n_layer=shape.layers, n_head=shape.heads, resid_pdrop=shape.dropout,
        embd_pdrop=shape.dropout, attn_pdrop=shape.dropout,
        tie_word_embeddings=shape.tie_embeddings, use_cache=False,
        bos_token_id=eos_token_id, eos_token_id=eos_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT2LMHeadModel(config)


def embeddings_tied(model: torch.nn.Module) -> bool:
    """True when the output projection is the token embedding (one tensor, two roles)."""
    out = model.get_output_embeddings()
    return out is not None and out.weight is model.get_input_embeddings().weight


def embedding_param_names(model: torch.nn.Module) -> set[str]:
    """Names (as in named_parameters) of the token and position embeddings, and of the output
    projection when it is a separate tensor."""
    tensors = {id(model.get_input_embeddings().weight)}
    tensors |= {id(m.weight) for name, m in model.named_modules()
                if isinstance(m, torch.nn.Embedding)}
    out = model.get_output_embeddings()
    if out is not None:
        tensors.add(id(out.weight))
    return {name for name, p in model.named_parameters() if id(p) in tensors}
