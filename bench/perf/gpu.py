"""`make gpu-check` (`python -m bench.perf gpu`): the prepared GPU check, one command that
measures what a GPU session needs to know and writes `results/gpu-check.md` and `.json`.

Stages (each timed; one failing stage is recorded and the others still run):
  1. cuda_tests      `pytest -m cuda`: CUDA steps of every built-in against the CPU reference,
                     fused CUDA AdamW against torch.optim.AdamW, bf16 autocast, checkpoint
                     resume on the GPU.
  2. optimizer_step  bytes/s of every built-in's step (10M and 100M parameters; fp32, and bf16
                     parameters with fp32 state) against fused CUDA AdamW and against a
                     device-to-device copy's bandwidth measured in the same run.
  3. wikitext        the `full` budget (GPT-2-small-like) in bf16 for a few hundred steps:
                     tokens/s and model FLOP/s as a share of the bf16 matmul peak measured in
                     the same run, the runner against a bare loop over the same model and data.
  4. small_grid      trials per hour of the KKT suite's 2-layer model with K = 1, 4, 8
                     workers per GPU (`--trials-per-gpu K`).
  5. memory          peak GPU memory of a few training steps per wikitext budget.
  6. stacked         T = 1, 8, 64 stacked wikitext GPT members (`cpu` budget; the engine's
                     vmap/loop choice and the other one) against T sequential lone runs:
                     tokens/s, their ratio and peak GPU memory (bench/perf/gpu_stacked.py).

`--dry-run` runs every stage on CPU at tiny sizes in seconds (a test runs it, so the script
cannot rot); its numbers mean nothing. GPU timings use a clock that synchronizes the device.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from bench.perf import markdown_table
from bench.perf.gpu_config import CheckConfig, StageResult, synced_clock
from bench.perf.gpu_stacked import stacked
from bench.perf.gpu_stages import memory, small_grid, wikitext

REPO = Path(__file__).resolve().parents[2]
# The test files holding `cuda`-marked tests; the real check runs `pytest -m cuda tests`.
CUDA_TEST_FILES = ("tests/optimizers/test_compiled_steps.py",
                   "tests/bench/engine/test_cuda_runner.py")


def stage_cuda_tests(cfg: CheckConfig, result: StageResult) -> None:
    targets = list(CUDA_TEST_FILES) if cfg.dry_run else ["tests"]
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", *targets]
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    result.data = {"command": " ".join(cmd[2:]), "returncode": proc.returncode,
                   "outcome": last}
    result.summary = f"`pytest -m cuda`: {last} (exit {proc.returncode})"
    # 0: all passed; 5: nothing selected. Anything else is a failure worth its output.
    if proc.returncode not in (0, 5):
        result.status = "failed"
        result.error = proc.stdout[-4000:] + proc.stderr[-2000:]


def copy_bandwidth(device: str, n_bytes: int, repeats: int = 10) -> float:
    """Bytes/s of a device-to-device copy (read + write counted), the memory's practical peak."""
    src = torch.empty(n_bytes // 4, dtype=torch.float32, device=device).normal_()
    dst = torch.empty_like(src)
    clock = synced_clock(device)
    dst.copy_(src)
    start = clock()
    for _ in range(repeats):
        dst.copy_(src)
    return 2 * n_bytes * repeats / (clock() - start)


def stage_optimizer_step(cfg: CheckConfig, result: StageResult) -> None:
    from bench.perf import optimizer_step as step

    clock = synced_clock(cfg.device)
    peak = copy_bandwidth(cfg.device, cfg.copy_bytes)
    rows, data = [], []
    for n_params in cfg.step_sizes:
        ref_rate = None  # fused AdamW on fp32 parameters of this size
        for dtype in (torch.float32, torch.bfloat16):
            for i, c in enumerate(step.contestants()):
                # bf16: the built-ins' default paths (torch's AdamW keeps bf16 state there)
                if dtype == torch.bfloat16 and (c.name == step.REFERENCE or "impl=" in c.name):
                    continue
                first = clock()
                step.setup(c, n_params, cfg.step_tensors, seed=i, device=cfg.device,
                           dtype=dtype)
                setup_s = clock() - first  # includes compiling a compiled step
                start = clock()
                for _ in range(cfg.step_repeats):
                    c.optimizer.step()
                seconds = (clock() - start) / cfg.step_repeats
                rate = c.bytes_per_step / seconds
                if c.name == step.REFERENCE:
                    ref_rate = rate
                entry = {"optimizer": c.name, "params": n_params, "dtype": str(dtype)[6:],
                         "ms_per_step": seconds * 1e3, "bytes_per_s": rate,
                         "vs_fused_adamw": rate / ref_rate if ref_rate else None,
                         "of_copy_bandwidth": rate / peak, "setup_s": setup_s}
                data.append(entry)
                rows.append((c.name, f"{n_params / 1e6:g}M", entry["dtype"],
                             f"{seconds * 1e3:.3f}", f"{rate / 1e9:.1f}",
                             "" if ref_rate is None or c.name == step.REFERENCE
                             else f"{rate / ref_rate:.2f}", f"{rate / peak:.0%}",
                             f"{setup_s:.1f}"))
                c.params = c.optimizer = None  # free before the next contestant
    result.data = {"copy_bandwidth_bytes_per_s": peak, "rows": data}
    result.summary = (f"device-to-device copy: {peak / 1e9:.1f} GB/s; every built-in in "
                      f"nominal bytes/s (optimizer_step's count)")
    result.tables.append(markdown_table(
        ("optimizer", "params", "dtype", "ms/step", "GB/s", "vs fused AdamW", "of copy",
         "setup s"), rows))


STAGES: dict[str, Callable[[CheckConfig, StageResult], None]] = {
    "cuda_tests": stage_cuda_tests,
    "optimizer_step": stage_optimizer_step,
    "wikitext": wikitext,
    "small_grid": small_grid,
    "memory": memory,
    "stacked": stacked,
}


def run_check(cfg: CheckConfig, stages: list[str]) -> list[StageResult]:
    results = []
    for name in stages:
        result = StageResult(name)
        start = time.perf_counter()
        try:
            STAGES[name](cfg, result)
        except Exception:  # noqa: BLE001 - a broken stage is reported, the others still run
            result.status, result.error = "failed", traceback.format_exc()
        result.seconds = time.perf_counter() - start
        print(f"[gpu-check] {name}: {result.status} in {result.seconds:.1f} s", flush=True)
        results.append(result)
    return results


def describe_device(device: str) -> str:
    if torch.device(device).type == "cuda":
        props = torch.cuda.get_device_properties(0)
        return f"{props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    return f"CPU ({os.cpu_count()} cores)"


def write_report(results: list[StageResult], cfg: CheckConfig, out: Path,
                 started: str, total_s: float) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    header = {"date": started, "device": describe_device(cfg.device), "torch": torch.__version__,
              "dry_run": cfg.dry_run, "total_s": total_s, "config": asdict(cfg)}
    json_path = out / "gpu-check.json"
    json_path.write_text(json.dumps({**header, "stages": [asdict(r) for r in results]},
                                    indent=1, default=str))
    lines = [f"# gpu-check {started}", "",
             f"{header['device']}; torch {torch.__version__}; total {total_s:.0f} s"
             + ("; **dry run on CPU: sizes are tiny, the numbers mean nothing**"
                if cfg.dry_run else ""), ""]
    lines.append(markdown_table(("stage", "status", "seconds", "summary"), [
        (r.name, r.status, f"{r.seconds:.1f}", r.summary.replace("|", "/")) for r in results]))
    for r in results:
        lines += ["", f"## {r.name}", "", r.summary, ""]
        for table in r.tables:
            lines += [table, ""]
        if r.error:
            lines += ["```", r.error.strip()[-3000:], "```", ""]
    md_path = out / "gpu-check.md"
    md_path.write_text("\n".join(lines))
    return md_path, json_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf gpu",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="every stage on CPU at tiny sizes (seconds), to test the script")
    parser.add_argument("--out", default="results",
                        help="directory for gpu-check.md and gpu-check.json (default results)")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated stages to run (default all: {','.join(STAGES)})")
    parser.add_argument("--data-dir", default=os.environ.get("WDBENCH_DATA_WIKITEXT"),
                        help="WikiText files (default $WDBENCH_DATA_WIKITEXT; without them, "
                             "generated text of the same shape)")
    parser.add_argument("--wikitext-steps", type=int, default=None,
                        help="training steps of stage 3 (default 200; dry run 3)")
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage {unknown[0]!r}; choose from {', '.join(STAGES)}")
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu-check needs a CUDA GPU and torch sees none; on a CPU machine run "
              "`python -m bench.perf gpu --dry-run` to test the script", file=sys.stderr)
        return 2
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        options: dict[str, Any] = {"data_dir": args.data_dir, "cache_dir": scratch}
        if args.wikitext_steps:
            options["wikitext_steps"] = args.wikitext_steps
        cfg = (CheckConfig.dry_run_config(**options) if args.dry_run
               else CheckConfig(**options))
        if cfg.dry_run:
            torch.set_num_threads(1)  # tiny sizes: threads only contend on a shared machine
        start = time.perf_counter()
        results = run_check(cfg, stages)
        total = time.perf_counter() - start
    md, js = write_report(results, cfg, Path(args.out), started, total)
    print(f"[gpu-check] {total:.0f} s; wrote {md} and {js}")
    return 0 if all(r.status != "failed" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

