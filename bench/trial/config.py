"""Trial: one fully specified training run. Its content hash is its id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.errors import UsageError

# Trial fields settable with `--set key=value` and in suite files; anything else is an
# optimizer option (e.g. betas, momentum) or, prefixed `task.`, a task option.
TRIAL_KEYS = ("lr", "weight_decay", "tau", "schedule", "warmup", "mask", "seed", "budget", "steps",
              "mixed_precision", "grad_accum", "eval_every", "checkpoint_every", "compile")
ID_SALT = "0.1.0"
# Fields added after ids were first made: left out of the id at their default, so that every
# earlier trial keeps its id (and its record).
LATER_FIELDS = {"compile": False, "tau": None}


@dataclass(frozen=True)
class Trial:
    task: str
    optimizer: str
    lr: float
    weight_decay: float
    # The EMA timescale τ_iter (steps) the user asked for instead of weight_decay, which is
    # then derived from it per lr (bench/measures/timescale.py); None: weight_decay was given.
    tau: float | None = None
    schedule: str = "constant"
    warmup: int = 0  # steps of linear warmup (schedule 'warmup_cosine')
    mask: str | None = None  # None: the task's default policy
    seed: int = 0
    budget: str = "cpu"
    steps: int | None = None  # None: the budget's
    eval_every: int | None = None  # None: the budget's
    checkpoint_every: int | None = None  # None: no mid-trial checkpoints
    mixed_precision: str = "no"
    grad_accum: int = 1
    compile: bool = False  # torch.compile the model (a speed setting)
    optimizer_options: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    task_options: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        from bench.trial.validation import check_fields

        check_fields(self)  # types and ranges; bench/trial/validation.py checks the rest

    @property
    def id(self) -> str:
        """Content hash of the full config (12 hex digits). The code that ran is not in the id
        but in the record's `code_fingerprint` (bench/ledger/fingerprint.py), which the sweep
        checks.
        The constant "0.1.0" is the package version ids hashed before fingerprints existed:
        kept, so that an old record and its re-run share one file."""
        fields_ = {k: v for k, v in self.to_dict().items()
                   if k not in LATER_FIELDS or v != LATER_FIELDS[k]}
        blob = json.dumps({"trial": fields_, "version": ID_SALT}, sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

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
                trial_updates[key] = _coerce(key, value)
            elif key.startswith("task."):
                task[key[5:]] = value
            elif key in ("task", "optimizer"):
                trial_updates[key] = value
            else:
                opt[key] = value
        return replace(self, **trial_updates, optimizer_options=_frozen(opt),
                       task_options=_frozen(task))


def _coerce(key: str, value: Any) -> Any:
    from bench.trial.validation import coerce

    return coerce(key, value)


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
