"""Stage 6 of `make gpu-check` (issue #25): T stacked wikitext GPT members (T = 1, 8, 64 by
default) against T sequential lone runs, in tokens/s and peak GPU memory.

A group is built as the engine builds one (bench/engine/stacked/loop.py::build_stacked: the
members stacked by bench/engine/stacked/models.py, vmap or loop chosen by timing both on this
device, bench/engine/stacked/choice.py; the stacked AdamW of optimizers/stacked.py); each
strategy in `cfg.stacked_strategies` the engine did not choose is timed too. A step is the
group's training step without its bookkeeping: forward and backward of every member, the
optimizer step, zero_grad, on one fixed batch per member already on the device (the sampler
and the divergence watch are not timed). The sequential side is one lone run (the runner's
AdamW over its two param groups, member 0's batch), timed once: T lone runs one after another
take T times its step, so their tokens/s is the lone run's for every T, and their peak memory
is one run's. A size that runs out of GPU memory is a row saying so; the other sizes still run.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from bench.perf import markdown_table

if TYPE_CHECKING:
    from bench.perf.gpu_config import CheckConfig, StageResult

OUT_OF_MEMORY = "out of memory"


def stacked(cfg: CheckConfig, result: StageResult) -> None:
    """Stage 6: tokens/s and peak memory of stacked groups against sequential lone runs."""
    from bench.perf.gpu_stages import wikitext_data, wikitext_task

    _, source = wikitext_data(cfg)
    task = wikitext_task(cfg, cfg.stacked_budget)
    tokens = task.budget.batch_size * task.seq_len  # one member's step
    lone_s, lone_peak, n_params = lone_run(task, cfg)
    sequential = tokens / lone_s
    rows, data = [], []
    for size in cfg.stacked_sizes:
        for entry in group_runs(task, size, cfg):
            if entry["status"] == "ok":
                entry["tokens_per_s"] = size * tokens / entry["s_per_step"]
                entry["vs_sequential"] = entry["tokens_per_s"] / sequential
            data.append(entry)
            rows.append(_row(entry, sequential, lone_peak))
    chosen = {d["trials"]: d["strategy"] if d["status"] == "ok" else d["status"]
              for d in data if d["engine_choice"]}
    result.data = {"budget": cfg.stacked_budget, "params_per_member": n_params,
                   "tokens_per_member_step": tokens, "steps": cfg.stacked_steps,
                   "warmup": cfg.stacked_warmup, "data": source, "measured_memory": _cuda(cfg),
                   "lone": {"s_per_step": lone_s, "tokens_per_s": sequential,
                            "peak_bytes": lone_peak},
                   "engine_choice": chosen, "rows": data}
    result.summary = (
        f"`{cfg.stacked_budget}` budget GPT, {n_params / 1e6:.2f}M parameters a member, "
        f"{task.budget.batch_size} x {task.seq_len} tokens a member-step, AdamW, fp32; mean of "
        f"{cfg.stacked_steps} steps after {cfg.stacked_warmup} warm-up, fixed batches on the "
        f"device; sequential = T x one lone run's step (timed once: "
        f"{lone_s * 1e3:.2f} ms, {sequential:,.0f} tokens/s); engine's choice: "
        + (", ".join(f"T={t} {s}" for t, s in chosen.items()) or "none ran")
        + f"; data: {source}")
    result.tables.append(markdown_table(
        ("T", "strategy", "optimizer", "ms/group step", "stacked tokens/s",
         "T sequential tokens/s", "stacked / sequential", "peak GiB stacked",
         "peak GiB one lone run"), rows))


def lone_run(task: Any, cfg: CheckConfig) -> tuple[float, int | None, int]:
    """(seconds per step, peak bytes, parameters) of one trial alone, as the runner builds it:
    its model from its seed, the decay mask, AdamW over the two param groups (decay_setup)."""
    import optimizers
    from bench.engine.param_groups import decay_setup
    from bench.engine.stacked.choice import training_batches
    from bench.engine.stacked.models import batch_to

    _free(cfg)
    trial = _trials(cfg, 1)[0]
    model = task.build_model(trial.seed)
    mask = task.decay_mask(model, trial.mask or task.default_mask)
    optimizer = decay_setup(trial, task, optimizers.spec(trial.optimizer), model, mask).optimizer
    model.to(cfg.device).train()  # in place, as accelerator.prepare moves it
    batch = batch_to(training_batches(task, 1)[0], cfg.device)

    def step() -> None:
        task.loss(model, batch).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return (*_timed(step, cfg), sum(p.numel() for p in model.parameters()))


def group_runs(task: Any, size: int, cfg: CheckConfig) -> list[dict[str, Any]]:
    """The rows of one group size: the engine's own choice first, then each other strategy
    of `cfg.stacked_strategies`; a run out of GPU memory is a row saying so."""
    runs: list[dict[str, Any]] = []
    for strategy in (None, *cfg.stacked_strategies):
        if strategy is not None and any(r["strategy"] == strategy for r in runs):
            continue  # the engine chose it: timed already
        entry = {"trials": size, "strategy": strategy or "engine's choice",
                 "engine_choice": strategy is None, "status": "ok"}
        try:
            entry.update(group_run(task, size, strategy, cfg))
        except Exception as err:  # noqa: BLE001 - only running out of memory is a row
            if not out_of_memory(err):
                raise
            entry.update(status=OUT_OF_MEMORY, error=_first_line(err))
        runs.append(entry)
    return runs


def group_run(task: Any, size: int, strategy: str | None, cfg: CheckConfig) -> dict[str, Any]:
    """One stacked group of `size` members, built as the engine builds it and timed."""
    from bench.engine.stacked.choice import training_batches
    from bench.engine.stacked.loop import build_stacked
    from bench.engine.stacked.models import batch_to, stack_batches

    _free(cfg)
    model, _, optimizer = build_stacked(task, _trials(cfg, size), cfg.device, strategy)
    batch = stack_batches([batch_to(b, cfg.device) for b in training_batches(task, size)])

    def step() -> None:
        model.backward(batch)
        optimizer.step()
        optimizer.zero_grad()

    seconds, peak = _timed(step, cfg)
    native = getattr(optimizer, "native", False)
    return {"strategy": model.mode, "s_per_step": seconds, "peak_bytes": peak,
            "optimizer": ("member calls" if getattr(optimizer, "member_calls", False)
                          else "stacked ops") if native else "views"}


def out_of_memory(err: BaseException | None) -> bool:
    """Whether `err` is the device running out of memory: raised as such, or wrapped on the
    way (the build's trial forward raises NotStackable from it; the vmap/loop choice, where
    every strategy failed, a RuntimeError naming each failure)."""
    while err is not None:
        if isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err):
            return True
        err = err.__cause__
    return False


def _timed(step: Callable[[], None], cfg: CheckConfig) -> tuple[float, int | None]:
    """Mean wall seconds of a step (bench/perf/stacked_timing.py's clock, synchronized on a
    GPU) and the peak bytes allocated while stepping (None on CPU). The peak counts from
    after the build: what was live then (weights, batches) and what the steps add (gradients,
    optimizer state, activations), not the build's own temporaries."""
    from bench.perf.stacked_timing import mean_seconds

    if _cuda(cfg):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    seconds, _ = mean_seconds(step, cfg.device, cfg.stacked_steps, cfg.stacked_warmup)
    return seconds, torch.cuda.max_memory_allocated() if _cuda(cfg) else None


def _trials(cfg: CheckConfig, size: int) -> list[Any]:
    """`size` adamw trials of the stage's budget, seeds 0..size-1 (the lone run is seed 0)."""
    from bench.perf.wikitext_step import LR, WEIGHT_DECAY
    from bench.trial.config import Trial

    return [Trial(task="wikitext", optimizer="adamw", lr=LR, weight_decay=WEIGHT_DECAY,
                  seed=seed, budget=cfg.stacked_budget) for seed in range(size)]


def _row(entry: dict[str, Any], sequential: float, lone_peak: int | None) -> tuple[str, ...]:
    strategy = entry["strategy"] + (" (engine's choice)" if entry["engine_choice"]
                                    and entry["status"] == "ok" else "")
    if entry["status"] != "ok":
        return (str(entry["trials"]), strategy, "", entry["status"], "", f"{sequential:,.0f}",
                "", "", _gib(lone_peak))
    return (str(entry["trials"]), strategy, entry["optimizer"],
            f"{entry['s_per_step'] * 1e3:.2f}", f"{entry['tokens_per_s']:,.0f}",
            f"{sequential:,.0f}", f"{entry['vs_sequential']:.2f}", _gib(entry["peak_bytes"]),
            _gib(lone_peak))


def _gib(n_bytes: int | None) -> str:
    return "n/a (CPU)" if n_bytes is None else f"{n_bytes / 2**30:.2f}"


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def _cuda(cfg: CheckConfig) -> bool:
    return torch.device(cfg.device).type == "cuda"


def _free(cfg: CheckConfig) -> None:
    """Give back what earlier runs held, before a build (a group of 64 beside what a smaller
    one or a failed try left behind may not fit). Only device memory is worth a collection:
    on a CPU the host's allocator frees a tensor as its last reference goes, and a full
    collection over a process that imported torch takes about a second."""
    if _cuda(cfg):
        gc.collect()
        torch.cuda.empty_cache()
