"""One validation of a whole Trial against the declared settings, before anything is built.

Every Trial key is checked for type and range as its field declares (bench/trial/config.py),
τ against its λ, task options against the task's `TaskOption`s, and optimizer options against
what the optimizer's constructor accepts (its signature, then a construction on a one-element
parameter, which runs the optimizer's own range checks: betas, momentum, decay style, impl; a
submission is imported and constructed in a child process under a time limit first:
bench/trial/untrusted_optimizer.py). Errors name the key, the bad value, the allowed values and
where the value came from."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from bench.errors import UsageError
from bench.trial.config import FIELDS, TRIAL_KEYS, Trial, coerce
from bench.trial.fields import SettingError
from bench.trial.untrusted_optimizer import construction_error
from bench.trial.untrusted_optimizer import spec as optimizer_spec


def validate(trial: Any, sources: Mapping[str, str] | None = None) -> None:
    """The whole trial, or one line naming the key, value, allowed values and source."""
    sources = sources or {}
    try:
        for f in FIELDS.values():
            f.coerce(getattr(trial, f.name))
        _check_tau(trial)
        _check_task(trial)
        _check_optimizer(trial)
    except SettingError as err:
        raise err.at(sources.get(err.key)) from None


def decay_style(trial: Any, spec: Any) -> str:
    """The decay style the trial's optimizer will run with: a `decay` option, else the
    optimizer's default, else its declared style (as the runner reads it back)."""
    return {**spec.defaults, **dict(trial.optimizer_options)}.get("decay", spec.decay_style)


def _check_tau(trial: Any) -> None:
    """A trial that records a τ must carry the λ it implies at its lr (a changed lr or
    weight_decay after the derivation would break the pair)."""
    if trial.tau is None:
        return
    from bench.measures import timescale
    try:
        wd = timescale.weight_decay_for(decay_style(trial, optimizer_spec(trial.optimizer)),
                                        trial.tau, trial.lr)
    except (KeyError, ValueError):
        return  # the optimizer's own check names the problem
    if not math.isclose(wd, trial.weight_decay, rel_tol=1e-9):
        raise SettingError("weight_decay", trial.weight_decay,
                           f"{wd:.6g}, the λ of tau={trial.tau:g} at lr={trial.lr:g}, or give "
                           "weight_decay without tau")


def _check_task(trial: Any) -> None:
    import tasks
    from tasks.options import parse_options

    try:
        cls = tasks.get(trial.task)
    except KeyError as err:
        raise UsageError(err.args[0]) from None
    if trial.budget not in cls.budgets:
        raise SettingError("budget", trial.budget, f"one of {', '.join(cls.budgets)}")
    budget = cls.budgets[trial.budget]
    given = dict(trial.task_options)
    try:
        cls.check_options(parse_options(cls.name, cls.declared_options,
                                        {**budget.options, **given}))
    except ValueError as err:
        bad = next((k for k in given if f"task.{k}=" in str(err)), None)
        if bad is None:
            raise UsageError(f"task {trial.task!r}: {err}") from None
        raise _Wrapped(f"task.{bad}", str(err)) from None
    if trial.mask is not None and trial.mask not in cls.mask_policies:
        raise SettingError("mask", trial.mask,
                           f"one of {', '.join(cls.mask_policies)} (task {trial.task})")
    if budget.batch_size % trial.grad_accum:
        raise SettingError("grad_accum", trial.grad_accum,
                           f"a divisor of the batch size {budget.batch_size}")


class _Wrapped(SettingError):
    """A message written elsewhere (task options), attributed to its key."""

    def __init__(self, key: str, message: str) -> None:
        UsageError.__init__(self, message)
        self.key, self.value, self.allowed = key, None, ""


def accepted_options(factory: Any) -> tuple[list[str], bool]:
    """Keyword names the optimizer's constructor takes (after `params`), and whether it also
    takes **kwargs (then any name passes the signature check)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return [], True
    params = list(sig.parameters.values())
    names = [p.name for p in params[1:]
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def _check_optimizer(trial: Any) -> None:
    try:
        spec = optimizer_spec(trial.optimizer)
    except KeyError as err:
        raise UsageError(err.args[0]) from None
    options = dict(trial.optimizer_options)
    names, open_ended = accepted_options(spec.factory)
    for key in options:
        if key not in names and not open_ended:
            raise SettingError(key, options[key],
                               f"a key of the trial ({', '.join(TRIAL_KEYS)}), task.NAME, "
                               f"or an option of {trial.optimizer} ("
                               f"{', '.join(n for n in names if n not in ('lr', 'weight_decay'))})")
    _construct(spec, trial, options)


def _construct(spec: Any, trial: Any, options: dict[str, Any]) -> None:
    """Build the optimizer over one tiny tensor: its own checks run, no model is made. A
    failure that the trial's own options do not cause (the optimizer wants matrices, say) is
    left to the trial."""
    text = _construction_error(spec, trial, options)
    if text is None or not options or _construction_error(spec, trial, {}) is not None:
        return
    key = next((k for k in options if k in text), None)
    if key is None:
        raise UsageError(f"optimizer {trial.optimizer!r} rejects these settings: {text}")
    raise SettingError(key, options[key], f"what {trial.optimizer} accepts ({text})")


def _construction_error(spec: Any, trial: Any, options: dict[str, Any]) -> str | None:
    return construction_error(spec, {**spec.defaults, "lr": trial.lr,
                                     "weight_decay": trial.weight_decay, **options})


def build(task: str, optimizer: str, settings: Mapping[str, Any],
          sources: Mapping[str, str] | None = None) -> Any:
    """The Trial of these `--set`-style settings (lr and weight_decay default to the
    optimizer's), validated whole; errors name the source of the bad key."""
    sources = sources or {}
    settings = dict(settings)
    try:
        spec = optimizer_spec(optimizer)
    except KeyError as err:
        raise UsageError(err.args[0]) from None
    defaults = spec.defaults
    tau = settings.pop("tau", None)
    if tau is not None and "weight_decay" in settings:
        raise UsageError(f"weight_decay (from {sources.get('weight_decay', '--set')}) and tau "
                         f"(from {sources.get('tau', '--set')}) are both given; give one: "
                         "λ is derived from tau per lr")
    try:
        lr = coerce("lr", settings.pop("lr", defaults.get("lr", 1e-3)))
        wd = coerce("weight_decay", settings.pop("weight_decay", defaults.get("weight_decay", 0.0)))
        trial = Trial(task=task, optimizer=optimizer, lr=lr, weight_decay=wd)
        trial = trial.with_settings(settings)
        if tau is not None:
            trial = _from_tau(trial, spec, coerce("tau", tau))
    except SettingError as err:
        raise err.at(sources.get(err.key)) from None
    validate(trial, sources)
    return trial


def _from_tau(trial: Any, spec: Any, tau: float) -> Any:
    """The trial with λ derived from τ_iter at its lr, in the real decay style (a `decay`
    option overrides the optimizer's declared one)."""
    from dataclasses import replace

    from bench.measures import timescale
    try:
        wd = timescale.weight_decay_for(decay_style(trial, spec), tau, trial.lr)
    except ValueError as err:
        raise SettingError("tau", tau, f"weight_decay instead: {trial.optimizer} "
                                       f"({err})") from None
    return replace(trial, weight_decay=wd, tau=tau)
