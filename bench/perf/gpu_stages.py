"""The gpu-check's training stages (3 wikitext, 4 small_grid, 5 memory; 6 stacked is in
bench/perf/gpu_stacked.py); bench/perf/gpu.py drives them. Each takes the CheckConfig and fills
a StageResult.

Without WikiText files (`--data-dir`, $WDBENCH_DATA_WIKITEXT) the stages train on generated
text in the official file layout, so a GPU machine without the data still measures speed and
memory; the record names the data source either way.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from bench.perf import markdown_table

if TYPE_CHECKING:
    from bench.perf.gpu_config import CheckConfig, StageResult

# The KKT suite's model (bench/suites/wikitext_kkt.yaml): 2 layers, width 64, full batch.
KKT_MODEL = {"task.layers": 2, "task.width": 64, "task.heads": 4, "task.seq_len": 128,
             "task.vocab_size": 512, "task.full_batch_tokens": 4096,
             "task.max_eval_tokens": 16384}


def generated_wikitext(root: Path, train_words: int, seed: int = 0) -> Path:
    """WikiText-shaped raw files of random words (Zipf-like frequencies): speed and memory
    do not depend on what the words say."""
    rng = random.Random(seed)
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    vocab = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(20_000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    root.mkdir(parents=True, exist_ok=True)
    for split, words in (("train", train_words), ("valid", train_words // 20),
                         ("test", train_words // 20)):
        text = rng.choices(vocab, weights, k=words)
        lines = [" = Generated = \n"] + [" " + " ".join(text[i:i + 25]) + " .\n"
                                        for i in range(0, len(text), 25)]
        (root / f"wiki.{split}.raw").write_text("".join(lines), encoding="utf-8")
    return root


def wikitext_data(cfg: CheckConfig) -> tuple[str, str]:
    """(directory, what it is): the real files when given, else generated ones."""
    if cfg.data_dir:
        return cfg.data_dir, f"WikiText files in {cfg.data_dir}"
    root = Path(cfg.cache_dir or tempfile.mkdtemp()) / "generated-wikitext"
    words = 20_000 if cfg.dry_run else 3_000_000
    if not (root / "wiki.train.raw").exists():
        generated_wikitext(root, words)
    return str(root), f"generated text ({words:,} training words; no WikiText files given)"


def wikitext_task(cfg: CheckConfig, budget: str, options: dict[str, Any] | None = None):
    """The wikitext task of `budget` on the check's data, tokenized before any timing."""
    import tasks

    data_dir, _ = wikitext_data(cfg)
    task = tasks.create("wikitext", budget, options or {}, data_dir=data_dir,
                        cache_dir=cfg.cache_dir)
    task.token_ids  # noqa: B018 - tokenizer and ids built before any timing
    return task


def fresh_accelerate() -> None:
    """Forget Accelerate's process-wide state: a later in-process trial may use another
    mixed precision (Accelerate refuses to change it otherwise)."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)


def wikitext(cfg: CheckConfig, result: StageResult) -> None:
    """Stage 3: the runner against a bare loop, bf16, the `full` budget."""
    from bench.perf import wikitext_step as ws
    from bench.perf.gpu_config import synced_clock

    clock = synced_clock(cfg.device)
    data_dir, source = wikitext_data(cfg)
    task = wikitext_task(cfg, cfg.wikitext_budget)
    steps = cfg.wikitext_steps
    tokens = task.budget.batch_size * task.seq_len
    flops = task.shape.flops_per_token()
    peak = ws.matmul_peak(torch.bfloat16, clock, sizes=(1024, 4096, 8192) if not cfg.dry_run
                          else (128,), device=cfg.device)
    bare = ws.plain_loop(task, steps, clock, bf16=True, device=cfg.device)
    fresh_accelerate()
    timing = ws.runner_timing({}, cfg.wikitext_budget, steps, data_dir, clock,
                              mixed_precision="bf16", cache_dir=cfg.cache_dir)
    fresh_accelerate()
    runner = timing["step_s"]
    runner_all = (timing["step_s"] * timing["steps_done"] + timing["eval_s"]) / steps
    rows, data = [], {}
    for name, seconds in (("bare loop (bf16)", bare), ("runner, training steps", runner),
                          ("runner, incl. evaluations", runner_all)):
        rate = flops * tokens / seconds
        data[name] = {"s_per_step": seconds, "tokens_per_s": tokens / seconds,
                      "flop_per_s": rate, "of_bf16_peak": rate / peak}
        rows.append((name, f"{seconds * 1e3:.1f}", f"{tokens / seconds:,.0f}",
                     f"{rate / 1e12:.2f}", f"{rate / peak:.0%}", f"{seconds / bare:.3f}x"))
    n_params = sum(p.numel() for p in task.build_model(0).parameters())
    result.data = {"budget": cfg.wikitext_budget, "steps": steps, "params": n_params,
                   "tokens_per_step": tokens, "flop_per_token": flops,
                   "bf16_matmul_peak": peak, "data": source, "loops": data,
                   "runner_vs_bare": runner / bare}
    result.summary = (f"`{cfg.wikitext_budget}` budget, {n_params / 1e6:.1f}M parameters, "
                      f"{tokens:,} tokens/step, {steps} steps, bf16; runner {runner / bare:.3f}x "
                      f"the bare loop per step (target <= 1.05x); bf16 matmul peak "
                      f"{peak / 1e12:.1f} TFLOP/s; data: {source}")
    result.tables.append(markdown_table(
        ("loop", "ms/step", "tokens/s", "TFLOP/s", "of bf16 peak", "vs bare"), rows))


def small_grid(cfg: CheckConfig, result: StageResult) -> None:
    """Stage 4: trials per hour of small trials with K workers per GPU."""
    from bench.executors.sweep import SweepOptions, run_sweep
    from bench.trial.config import Trial

    data_dir, source = wikitext_data(cfg)
    rows, data = [], []
    for k in cfg.grid_workers:
        n_trials = k * cfg.grid_trials_per_worker
        trials = [Trial(task="wikitext", optimizer="adamw", lr=1e-3, weight_decay=wd,
                        budget="cpu", steps=cfg.grid_steps, eval_every=cfg.grid_steps,
                        seed=seed).with_settings(KKT_MODEL)
                  for seed in range(n_trials) for wd in (1.0,)]
        fresh_accelerate()
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            counts = run_sweep(trials, SweepOptions(out=Path(out), workers=k, quiet=True,
                                                    trials_per_gpu=k, data_dir=data_dir,
                                                    cache_dir=cfg.cache_dir))
            wall = time.perf_counter() - start
        per_hour = counts["done"] * 3600 / wall
        data.append({"workers_per_gpu": k, "trials": n_trials, "wall_s": wall,
                     "trials_per_hour": per_hour, "counts": counts})
        rows.append((str(k), str(n_trials), f"{wall:.1f}", f"{per_hour:,.0f}",
                     f"{counts['done']}/{n_trials}"))
        if counts["done"] != n_trials:
            result.status = "failed"
            result.error = f"K={k}: {counts}"
    base = data[0]["trials_per_hour"]
    result.data = {"steps": cfg.grid_steps, "model": KKT_MODEL, "data": source, "runs": data}
    result.summary = (f"KKT suite's 2-layer model, {cfg.grid_steps} steps a trial, wall time "
                      f"including worker start-up; best K: "
                      f"{max(data, key=lambda d: d['trials_per_hour'])['workers_per_gpu']} "
                      f"({max(d['trials_per_hour'] for d in data) / base:.1f}x K=1)")
    result.tables.append(markdown_table(
        ("workers per GPU", "trials", "wall s", "trials/hour", "done"), rows))


def memory(cfg: CheckConfig, result: StageResult) -> None:
    """Stage 5: peak GPU memory of a few AdamW training steps per wikitext budget."""
    from bench.perf import wikitext_step as ws
    from bench.perf.gpu_config import synced_clock

    cuda = torch.device(cfg.device).type == "cuda"
    rows, data = [], []
    for budget in cfg.memory_budgets:
        task = wikitext_task(cfg, budget)
        n_params = sum(p.numel() for p in task.build_model(0).parameters())
        for bf16 in (False, True):
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            ws.plain_loop(task, cfg.memory_steps, synced_clock(cfg.device), bf16=bf16,
                          warmup=0, device=cfg.device)
            peak = torch.cuda.max_memory_allocated() if cuda else None
            # fp32 weights, grads and AdamW's two moments: what no activation saving removes
            state = 16 * n_params
            precision = "bf16 autocast" if bf16 else "fp32"
            data.append({"budget": budget, "precision": precision, "params": n_params,
                         "batch": task.budget.batch_size, "seq_len": task.seq_len,
                         "peak_bytes": peak, "weights_grads_adam_bytes": state})
            rows.append((budget, precision, f"{n_params / 1e6:.2f}M",
                         f"{task.budget.batch_size} x {task.seq_len}", f"{state / 2**30:.2f}",
                         f"{peak / 2**30:.2f}" if peak is not None else "n/a (CPU)"))
    result.data = {"rows": data, "measured": cuda}
    result.summary = ("peak `torch.cuda.max_memory_allocated` over a few adamw steps (one "
                      "process, no evaluation) per wikitext budget"
                      + ("" if cuda else "; on CPU only the computed part"))
    result.tables.append(markdown_table(
        ("budget", "precision", "params", "batch", "weights+grads+AdamW GiB", "peak GiB"),
        rows))
