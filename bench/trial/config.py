"""Trial: one fully specified training run. Its content hash is its id.

Each field is declared once, here (bench/trial/fields.py says what a declaration holds); the
settings keys, checks, grouping, columns and statistics keys below and elsewhere derive from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.errors import UsageError
from bench.trial.fields import (
    AXIS,
    BOOKKEEPING,
    SEED,
    VARIANT,
    TrialField,
    declare,
    declared,
    mask_policies,
    precisions,
    schedules,
)

ID_SALT = "0.1.0"


@dataclass(frozen=True)
class Trial:
    """The declaration of every field: declare(help, role, default=..., range, null=what None
    means, per_member, setting, column, ...); bench/trial/fields.py says what each one drives.
    Roles: AXIS and VARIANT fields make the configuration, SEED the replicate, BOOKKEEPING
    fields change the id only."""

    task: str = declare("task name (wdbench list) or module:Class", AXIS, setting=False,
                        words="a task name (wdbench list) or module:Class")
    optimizer: str = declare("registered optimizer name (wdbench list) or module:attr", AXIS,
                             setting=False,
                             words="an optimizer name (wdbench list) or module:attr")
    lr: float = declare("peak learning rate", AXIS, low=0.0, strict=True, example="1e-3",
                        symbol="η", per_member=True)
    weight_decay: float = declare("weight decay in PyTorch's convention", AXIS, low=0.0,
                                  example="0.1", symbol="λ", per_member=True)
    # The λ a τ gives at the trial's lr is its weight_decay: (lr, λ) name the configuration.
    tau: float | None = declare(
        "EMA timescale τ_iter in steps, given instead of `weight_decay`: λ is derived from it "
        "at the trial's lr (bench/measures/timescale.py)", BOOKKEEPING, default=None,
        low=0.0, strict=True, example="1000", null="`weight_decay` was given", symbol="τ",
        per_member=True, id_omits_default=True)
    schedule: str = declare("learning-rate schedule", VARIANT, default="constant",
                            choices=schedules)
    warmup: int = declare("steps of linear warmup (schedule `warmup_cosine`)", VARIANT,
                          default=0, low=0)
    mask: str | None = declare("decay mask policy", VARIANT, default=None,
                               choices=mask_policies, null="the task's default",
                               column_note="resolved (the task's default where none was set)")
    seed: int = declare("seed of the initialization and the data order", SEED, default=0,
                        low=0, per_member=True)
    budget: str = declare("task budget", AXIS, default="cpu",
                          words="a budget of the task (smoke, cpu, full; wdbench list)")
    steps: int | None = declare("training steps", VARIANT, default=None, low=1,
                                null="the budget's")
    eval_every: int | None = declare("steps between evaluations", BOOKKEEPING, default=None,
                                     low=1, null="the budget's", column=False)
    checkpoint_every: int | None = declare("steps between mid-trial checkpoints", BOOKKEEPING,
                                           default=None, low=1, null="no checkpoints",
                                           column=False)
    mixed_precision: str = declare("autocast precision", VARIANT, default="no",
                                   choices=precisions)
    grad_accum: int = declare("gradient accumulation steps (dividing the budget's batch size)",
                              VARIANT, default=1, low=1)
    compile: bool = declare("compile the model with `torch.compile` (a speed setting)",
                            BOOKKEEPING, default=False, id_omits_default=True)
    optimizer_options: tuple[tuple[str, Any], ...] = declare(
        "optimizer options: any other `--set` key", VARIANT, default=(), setting=False,
        column=False)
    task_options: tuple[tuple[str, Any], ...] = declare(
        "task options: `--set task.NAME=value`", VARIANT, default=(), setting=False,
        column=False)

    def __post_init__(self) -> None:
        for f in FIELDS.values():  # types and ranges; bench/trial/validation.py checks the rest
            f.coerce(getattr(self, f.name))

    @classmethod
    def declared(cls) -> tuple[TrialField, ...]:
        """Every field's declaration, in field order."""
        return tuple(FIELDS.values())

    @property
    def id(self) -> str:
        """Content hash of the full config (12 hex digits). The code that ran is not in the id
        but in the record's `code_fingerprint` (bench/ledger/fingerprint.py), which the sweep
        checks.
        The constant "0.1.0" is the package version ids hashed before fingerprints existed:
        kept, so that an old record and its re-run share one file."""
        fields_ = {k: v for k, v in self.to_dict().items()
                   if not (FIELDS[k].id_omits_default and v == FIELDS[k].default)}
        blob = json.dumps({"trial": fields_, "version": ID_SALT}, sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def config_key(self) -> str:
        """The (configuration, seed) this trial is a sample of (see `config_key`)."""
        return config_key(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["optimizer_options"] = dict(self.optimizer_options)
        d["task_options"] = dict(self.task_options)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trial:
        d = dict(d)
        d["optimizer_options"] = _frozen(d.get("optimizer_options", {}))
        d["task_options"] = _frozen(d.get("task_options", {}))
        return cls(**d)

    def with_settings(self, settings: dict[str, Any]) -> Trial:
        """Apply `--set`-style settings: trial keys, `task.NAME`, else optimizer options."""
        trial_updates: dict[str, Any] = {}
        opt = dict(self.optimizer_options)
        task = dict(self.task_options)
        for key, value in settings.items():
            if key in TRIAL_KEYS:
                trial_updates[key] = FIELDS[key].coerce(value)
            elif key.startswith("task."):
                task[key[5:]] = value
            elif key in ("task", "optimizer"):
                trial_updates[key] = value
            else:
                opt[key] = value
        return replace(self, **trial_updates, optimizer_options=_frozen(opt),
                       task_options=_frozen(task))


FIELDS: dict[str, TrialField] = {f.name: f for f in declared(Trial)}
# `--set key=value` keys and suite keys; any other key is an optimizer option or, prefixed
# `task.`, a task option.
TRIAL_KEYS = tuple(f.name for f in FIELDS.values() if f.setting)
# Trial fields in the record's flat table (bench/ledger/store.py) and bench/schema.py.
COLUMNS = tuple(f.name for f in FIELDS.values() if f.column)


def coerce(key: str, value: Any) -> Any:
    """A Trial key's value in its type and range (SettingError otherwise)."""
    return FIELDS[key].coerce(value) if key in FIELDS else value


def config_key(config: Mapping[str, Any]) -> str:
    """The (configuration, seed) a trial's config is a sample of (12 hex digits): every field
    but the bookkeeping ones (when it evaluates or checkpoints, compile, τ beside its λ), with
    defaults for fields an older record lacks. Two records with one key are one sample: the
    analysis counts the latest (bench/ledger/freshness.py)."""
    sample = {f.name: f.normal(config.get(f.name, f.default)) for f in FIELDS.values()
              if f.role != BOOKKEEPING}
    sample.update({k: v for k, v in config.items() if k not in FIELDS})  # a newer field
    blob = json.dumps(sample, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _frozen(d: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Sorted (key, value) pairs, lists turned into tuples, so a Trial stays hashable."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in d.items()))


def parse_value(text: str) -> Any:
    """`--set` values: YAML scalars/lists (1e-3 -> float, [0.9, 0.99] -> list, true -> bool)."""
    import yaml

    from bench.trial import yaml_loader
    try:
        return yaml_loader.load(text)
    except yaml.YAMLError:
        return text


def parse_settings(items: list[str] | None) -> dict[str, Any]:
    """['lr=1e-3', 'task.vocab_size=512'] -> {'lr': 0.001, 'task.vocab_size': 512}."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects key=value (got {item!r}); e.g. --set lr=1e-3")
        out[key.strip()] = parse_value(value.strip())
    return out

