"""`make gpu-check`'s stacked stage (bench/perf/gpu_stacked.py) in process at dry-run size:
the rows it reports, and a group size that runs out of GPU memory becoming a row."""

from dataclasses import replace

import pytest
import torch

from bench.engine.stacked.models import NotStackable
from bench.perf import gpu_stacked
from bench.perf.gpu_config import CheckConfig, StageResult


def _config(tmp_path, **kw):
    cfg = CheckConfig.dry_run_config(cache_dir=str(tmp_path))
    return replace(cfg, stacked_steps=1, stacked_warmup=0, **kw)


def test_a_size_out_of_memory_is_a_row_and_the_other_sizes_still_run(tmp_path, monkeypatch):
    real = gpu_stacked.group_run

    def short_of_memory_at_two(task, size, strategy, cfg):
        if size == 2 and strategy is None:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        # the engine's own choice is timed by the dry run (test_gpu_check.py); here: loop
        return real(task, size, strategy or "loop", cfg)

    monkeypatch.setattr(gpu_stacked, "group_run", short_of_memory_at_two)
    result = StageResult("stacked")
    gpu_stacked.stacked(_config(tmp_path, stacked_sizes=(2, 1), stacked_strategies=("loop",)),
                        result)
    oom, loop, chosen = rows = result.data["rows"]  # T = 1's loop: chosen, not timed again
    assert [(r["trials"], r["status"]) for r in rows] == [
        (2, "out of memory"), (2, "ok"), (1, "ok")]
    assert "Tried to allocate" in oom["error"] and "tokens_per_s" not in oom
    assert loop["strategy"] == "loop" and not loop["engine_choice"]
    assert chosen["engine_choice"] and chosen["strategy"] == "loop"
    assert chosen["optimizer"] == "member calls"  # fused AdamW per member, as alone
    assert loop["tokens_per_s"] > 0 and loop["peak_bytes"] is None  # CPU: no GPU memory
    # T members make T x one member's tokens a step; sequential: the lone run's tokens/s
    assert loop["tokens_per_s"] == pytest.approx(
        2 * result.data["tokens_per_member_step"] / loop["s_per_step"])
    assert loop["vs_sequential"] == pytest.approx(
        loop["tokens_per_s"] / result.data["lone"]["tokens_per_s"])
    assert result.data["engine_choice"] == {2: "out of memory", 1: "loop"}
    table = result.tables[0].replace(" ", "")
    assert "|2|engine'schoice||outofmemory|" in table
    assert "|1|loop(engine'schoice)|membercalls|" in table


def test_any_other_failure_fails_the_stage(tmp_path, monkeypatch):
    def broken(task, size, strategy, cfg):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(gpu_stacked, "group_run", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        gpu_stacked.group_runs(None, 1, _config(tmp_path))


def test_out_of_memory_is_recognised_through_the_builds_wrappers():
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
    try:
        raise NotStackable("wikitext: the model does not run stacked (vmap)") from oom
    except NotStackable as wrapped:
        assert gpu_stacked.out_of_memory(wrapped)
    choice = RuntimeError("no stacking strategy ran on this device (vmap: OutOfMemoryError: "
                          "CUDA out of memory. Tried; loop: OutOfMemoryError: CUDA out of memory)")
    assert gpu_stacked.out_of_memory(choice)
    assert not gpu_stacked.out_of_memory(NotStackable("wikitext: the model has dropout p=0.1"))
