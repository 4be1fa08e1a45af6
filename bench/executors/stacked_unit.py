"""A stacked group as one unit of an executor's work: it holds claims for all its members,
runs them stacked, and falls back to one-by-one runs (saying why, once per unit) where the
task's model cannot stack or the stacked run fails."""

from __future__ import annotations

import traceback
from typing import Any

from bench.executors.claimed import WorkerSettings, claim_store, progress_writer, summary
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import Heartbeat
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial


def run_group_claimed(group: TrialBatch, settings: WorkerSettings) -> list[dict[str, Any]]:
    """Summaries of the group's trials (as `run_claimed`'s); the first one of a fallback
    carries a `note` saying why the trials ran one by one."""
    store, ledger = claim_store(settings), Ledger(settings.out)
    out: list[dict[str, Any]] = []
    claims = {}
    for trial in group.trials:
        claim = store.acquire(trial.id)
        if claim is None:
            out.append(summary(trial, "claimed"))
        elif ledger.is_finished(trial):
            store.release(claim)
            out.append(summary(trial, "skipped"))
        else:
            claims[trial.id] = claim
    mine = [t for t in group.trials if t.id in claims]
    beats = {i: Heartbeat(store, c, settings.heartbeat_s) for i, c in claims.items()}
    try:
        for beat in beats.values():
            beat.__enter__()
        out.extend(_run(mine, settings, beats))
    except KeyboardInterrupt:
        lost = [t for t in mine if beats[t.id].lost]
        if lost:
            return out + [summary(t, "claimed" if t in lost else "pending",
                                  "lost its claim to another sweep" if t in lost else
                                  "its group stopped") for t in mine]
        raise
    finally:
        for beat in beats.values():
            beat.__exit__(None, None, None)
        for claim in claims.values():
            store.release(claim)
    return out


def _run(trials: list[Trial], settings: WorkerSettings, beats: dict[str, Heartbeat]
         ) -> list[dict[str, Any]]:
    from bench.engine.runner import tasks_errors
    from bench.engine.stacked.loop import run_group
    from bench.engine.stacked.models import NotStackable

    if not trials:
        return []
    note = None
    if len(trials) > 1:
        group = TrialBatch(tuple(trials))
        progress = progress_writer(settings, group, beats.values())
        try:
            records = run_group(group, settings.out, data_dir=settings.data_dir,
                                cache_dir=settings.cache_dir, suite=settings.suite,
                                on_step=progress)
            return [summary(t, r["status"], r.get("error") or "")
                    for t, r in zip(group.trials, records)]
        except tasks_errors():
            raise
        except NotStackable as err:
            note = f"stacking: task {group.trials[0].task} runs one by one: {err}"
        except Exception:
            last = traceback.format_exc().strip().splitlines()[-1]
            note = f"stacking: a stacked group failed ({last}); its trials run one by one"
        finally:
            progress.close()
        from bench.engine.checkpoints import GroupCheckpointer

        GroupCheckpointer(Ledger(settings.out), group).clear()
    out = [_solo(t, settings, beats[t.id]) for t in trials]
    if note and out:
        out[0]["note"] = note
    return out


def _solo(trial: Trial, settings: WorkerSettings, beat: Heartbeat) -> dict[str, Any]:
    from bench.engine.runner import run_trial

    progress = progress_writer(settings, TrialBatch.of(trial), [beat])
    try:
        record = run_trial(trial, settings.out, data_dir=settings.data_dir,
                           cache_dir=settings.cache_dir, show_progress=False,
                           suite=settings.suite, log_with=settings.log_with, on_step=progress)
    finally:
        progress.close()
    return summary(trial, record["status"], record.get("error") or "")
