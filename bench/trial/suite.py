"""Suite files: a task's optimizers x lr x weight_decay grid x seeds, in YAML.

    task: wikitext
    budget: cpu                 # optional (default: cpu, full with a GPU)
    executor: {partition: gpu, time_min: 120}   # optional: bench.executors.ExecutorOptions
    schedule: cosine            # any Trial key here applies to every trial
    seeds: [0, 1]
    settings: {task.vocab_size: 2048}   # `--set`-style settings for every trial
    optimizers:
      adamw:   {lr: [1e-3, 3e-3], weight_decay: [0.01, 0.1], betas: [0.9, 0.95]}
      adam_l2: {lr: [1e-3, 3e-3], weight_decay: [1e-4, 1e-3]}
      lion:    {lr: [1e-4, 3e-4], tau: [1000, 4000]}   # λ = 1/(lr·tau) per lr

`tau` is the EMA timescale τ_iter in steps (bench/measures/timescale.py), given instead of
weight_decay: each trial gets the λ that gives it that timescale at its lr, and keeps `tau`.

Under an optimizer, a list is a grid axis, except for options whose value is itself a
sequence (`betas`): those are axes only when given as a list of lists.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.trial.config import FIELDS, TRIAL_KEYS, Trial
from bench.trial.fields import SettingError

SUITES_DIR = Path(__file__).parents[1] / "suites"
SEQUENCE_OPTIONS = {"betas"}
# A grid this large is a mistake (a sweep of it would run for years): refused in one line,
# before a trial is built (validating one takes ~1 ms).
MAX_TRIALS = 100_000
TOP_KEYS = {"name", "task", "budget", "seeds", "settings", "optimizers", "description",
            "executor", "log_with"} | set(TRIAL_KEYS)


@dataclass(frozen=True)
class Suite:
    name: str
    task: str
    optimizers: dict[str, dict[str, Any]]
    seeds: tuple[int, ...] = (0,)
    budget: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    executor: dict[str, Any] = field(default_factory=dict)  # bench.executors.ExecutorOptions
    log_with: tuple[str, ...] = ()  # experiment trackers (`--log-with`)
    path: str = ""  # the file, and each key's line in it, for error messages
    lines: dict[str, int] = field(default_factory=dict)

    def trials(self, budget: str, overrides: dict[str, Any] | None = None) -> list[Trial]:
        """Every trial of the grid, de-duplicated, in a stable order, each validated whole
        (bench/trial/validation.py) before the first runs; errors name the file and line.
        A grid of more than MAX_TRIALS is refused before any is built; trials that differ
        only in their seed are validated once."""
        from bench.trial.validation import SettingError, build, coerce

        overrides = overrides or {}
        grids = {name: self._axes(name, grid) for name, grid in self.optimizers.items()}
        self._check_size(grids, overrides)
        seeds = self.seeds[:1] if "seed" in overrides else self.seeds
        out: dict[str, Trial] = {}
        for opt_name, (axes, fixed) in grids.items():
            grid = self.optimizers[opt_name]
            sources = {**{k: self.source(k) for k in self.settings},
                       **{k: self.source(f"{opt_name}.{k}") for k in grid},
                       "budget": self.source("budget"), "seed": self.source("seeds"),
                       **{k: "--set" for k in overrides}}
            for values in itertools.product(*axes.values()):
                settings = {**self.settings, **fixed, **dict(zip(axes, values)),
                            "seed": seeds[0], "budget": budget, **overrides}
                if "lr" not in settings or not ({"weight_decay", "tau"} & set(settings)):
                    raise UsageError(f"suite {self.name!r}: optimizer {opt_name!r} needs lr "
                                     "and weight_decay or tau (a value or a list)")
                first = build(self.task, opt_name, settings, sources)
                out.setdefault(first.id, first)
                for seed in seeds[1:]:  # the seed changes nothing else that is checked
                    try:
                        trial = replace(first, seed=coerce("seed", seed))
                    except SettingError as err:
                        raise err.at(sources.get(err.key)) from None
                    out.setdefault(trial.id, trial)
        return list(out.values())

    def _axes(self, opt_name: str, grid: dict[str, Any]
              ) -> tuple[dict[str, list[Any]], dict[str, Any]]:
        """An optimizer's grid axes (non-empty lists) and fixed settings."""
        axes = {k: v for k, v in grid.items() if _is_axis(k, v)}
        for key, values in axes.items():
            if not values:
                raise UsageError(f"{self.source(f'{opt_name}.{key}')}: key "
                                 f"{opt_name}.{key}: the list is empty; give at least one "
                                 "value")
        return axes, {k: v for k, v in grid.items() if k not in axes}

    def _check_size(self, grids: dict[str, tuple[dict[str, list[Any]], dict[str, Any]]],
                    overrides: dict[str, Any]) -> None:
        """One line, before any trial is built, where the grid is too large to run."""
        seeds = 1 if "seed" in overrides else len(self.seeds)
        sizes = {name: math.prod(len(v) for k, v in axes.items() if k not in overrides) * seeds
                 for name, (axes, _) in grids.items()}
        total = sum(sizes.values())
        if total > MAX_TRIALS:
            largest = max(sizes, key=sizes.__getitem__)
            axes = grids[largest][0]
            shape = " x ".join(f"{len(v)} {k}" for k, v in axes.items() if k not in overrides)
            raise UsageError(f"suite {self.name!r} has {total} trials ({largest}: "
                             f"{shape or '1 setting'} x {seeds} seeds), more than "
                             f"{MAX_TRIALS} in one sweep; use fewer values or split it into "
                             "several suites")

    def source(self, key: str) -> str:
        """'file:line' of a key of the suite file ('file' where unknown)."""
        line = self.lines.get(key) or self.lines.get(key.rpartition(".")[2])
        return f"{self.path}:{line}" if self.path and line else (self.path or self.name)


def with_submissions(suite: Suite, names: list[str]) -> Suite:
    """The suite's baselines plus each named optimizer (registered or module:attr) on its
    declared lr x weight_decay grid (`OptimizerSpec.search_space`), same seeds and settings."""
    import optimizers

    grids = dict(suite.optimizers)
    for name in names:
        if name in grids:
            raise UsageError(f"optimizer {name!r} is already a baseline of suite {suite.name}; "
                             "drop it from --with")
        try:
            space = optimizers.spec(name).search_space()
        except KeyError as err:
            raise UsageError(err.args[0]) from None
        grids[name] = {key: list(values) for key, values in space.items()}
    return replace(suite, optimizers=grids)


def _is_axis(key: str, value: Any) -> bool:
    if not isinstance(value, list):
        return False
    if key in SEQUENCE_OPTIONS:
        return bool(value) and isinstance(value[0], list)
    return True


def resolve(suite: str | None, task: str | None) -> Path:
    """A suite argument (path or name under bench/suites/) or a task's default suite."""
    if suite:
        path = Path(suite)
        if path.exists():
            return path
        named = SUITES_DIR / f"{suite}.yaml"
        if named.exists():
            return named
        raise UsageError(f"no suite file {suite!r}; give a path or one of: {', '.join(names())}")
    if task:
        named = SUITES_DIR / f"{task}.yaml"
        if named.exists():
            return named
        raise UsageError(f"task {task!r} has no default suite; pass a suite file "
                         f"(available: {', '.join(names())})")
    raise UsageError("give a suite file or --task TASK")


def names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def load(path: str | Path) -> Suite:
    """Parse and validate a suite file; errors name the file, line and key."""
    import yaml

    from bench.trial import yaml_loader
    path = Path(path)
    text = _read_text(path)
    try:
        yaml_loader.refuse_aliases(text)
        node = yaml_loader.compose(text)
        data = yaml_loader.load(text)
    except yaml_loader.AliasRefused as err:
        raise UsageError(f"{path}:{err.line}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UsageError(f"{where}: malformed YAML ({getattr(err, 'problem', err)})") from None
    lines = _key_lines(node)

    def fail(key: str, problem: str) -> UsageError:
        return UsageError(f"{path}:{lines.get(key, 1)}: key {key!r}: {problem}")

    if not isinstance(data, dict):
        raise UsageError(f"{path}:1: a suite is a mapping with task and optimizers")
    for key in data:
        if key not in TOP_KEYS:
            raise fail(key, f"unknown key; use one of: {', '.join(sorted(TOP_KEYS))}")
    for key in ("task", "optimizers"):
        if key not in data:
            raise UsageError(f"{path}:1: missing key {key!r}")
    if not isinstance(data["optimizers"], dict) or not data["optimizers"]:
        raise fail("optimizers", "must map optimizer names to their grids")
    for name, grid in data["optimizers"].items():
        if not isinstance(grid, dict):
            raise fail(name, "must be a mapping such as {lr: [1e-3], weight_decay: [0.1]}")
        if "weight_decay" in grid and "tau" in grid:
            raise fail(f"{name}.tau", "give weight_decay or tau, not both (λ is derived from "
                                      "tau per lr: λ = 1/(lr·tau) for decoupled decay)")
        for hp in ("lr", "weight_decay", "tau"):
            if hp == ("weight_decay" if "tau" in grid else "tau"):
                continue  # a grid gives one of the two
            values = grid.get(hp)
            values = values if isinstance(values, list) else [values]
            if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values):
                raise fail(f"{name}.{hp}", f"must be a number or a list of numbers, "
                                           f"got {grid.get(hp)!r}")
            if hp == "lr" and any(v <= 0 for v in values):
                raise fail(f"{name}.lr", "learning rates must be > 0")
            if hp == "weight_decay" and any(v < 0 for v in values):
                raise fail(f"{name}.weight_decay", "weight decay must be >= 0")
            if hp == "tau" and any(v <= 0 for v in values):
                raise fail(f"{name}.tau", "tau is a timescale in steps and must be > 0")
    seeds = data.get("seeds", [0])
    seeds = seeds if isinstance(seeds, list) else [seeds]
    if not seeds:
        raise fail("seeds", "the list is empty; give at least one seed, e.g. seeds: [0]")
    if not all(map(_seed, seeds)):
        raise fail("seeds", f"must be {FIELDS['seed'].allowed()}, or a list of them, got "
                            f"{data['seeds']!r}")
    if not isinstance(data.get("settings") or {}, dict):
        raise fail("settings", "must be a mapping of --set-style keys, e.g. "
                               "{task.vocab_size: 2048}")
    if not isinstance(data["task"], str):
        raise fail("task", "must be a task name (wdbench list)")
    for key in ("name", "description", "budget"):
        if key in data and not isinstance(data[key], str):
            raise fail(key, f"must be text, got {data[key]!r}")
    name = data.get("name", path.stem)
    if not _folder_name(name):
        raise fail("name", f"{name!r} is not a folder name (the default output directory "
                           f"is results/<name>); use one name without '/', '\\' or control "
                           f"characters, not '.' or '..', e.g. name: my_suite")
    settings = dict(data.get("settings") or {})
    settings.update({k: v for k, v in data.items() if k in TRIAL_KEYS and k != "budget"})
    return Suite(name=name, task=str(data["task"]),
                 optimizers={k: dict(v) for k, v in data["optimizers"].items()},
                 seeds=tuple(seeds), budget=data.get("budget"), settings=settings,
                 description=data.get("description", ""),
                 executor=_executor_mapping(data.get("executor"), fail),
                 log_with=_log_with(data.get("log_with"), fail), path=str(path),
                 lines=lines)


MAX_SUITE_BYTES = 1 << 20


def _seed(value: Any) -> bool:
    """An integer in the range the Trial's `seed` field declares (bench/trial/config.py)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    try:
        FIELDS["seed"].coerce(value)
    except SettingError:
        return False
    return True


def _folder_name(name: str) -> bool:
    """One plain path component: no separator, not `.` or `..`, no control characters (the
    default --out is results/<name>: it must stay inside results/)."""
    return (0 < len(name) <= 255 and name not in (".", "..") and "/" not in name
            and "\\" not in name and not any(ord(c) < 32 or c == "\x7f" for c in name))


def _read_text(path: Path) -> str:
    """The suite file as text, or one line: a directory, a named pipe, a device, a binary or
    huge file is refused before it is read."""
    from bench import input_files

    try:
        raw = input_files.read_bytes(path, MAX_SUITE_BYTES)
    except input_files.Unreadable as err:
        raise UsageError(f"{path} is no suite file ({err}); give a suite YAML file") from None
    except OSError as err:
        raise UsageError(f"cannot read suite file {path} ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\0" in text:
        raise UsageError(f"{path} is not a text file; give a suite YAML file")
    return text


def _log_with(value: Any, fail: Any) -> tuple[str, ...]:
    """The suite's `log_with:` tracker names (a name or a list), checked against Accelerate's."""
    from bench.trial import tracking
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise fail("log_with", "must be a tracker name or a list of them")
    try:
        return tracking.check_names(names)
    except ValueError as err:
        raise fail("log_with", str(err)) from None


def _executor_mapping(value: Any, fail: Any) -> dict[str, Any]:
    """The suite's `executor:` keys, checked here so errors name the line."""
    from bench.trial.executor_options import parse_mapping

    if value is None:
        return {}
    try:
        return parse_mapping(value, "executor")
    except UsageError as err:
        raise fail("executor", str(err).removeprefix("executor: ")) from None


def _key_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """Map 'key' and 'parent.key' to 1-based line numbers in the YAML source."""
    import yaml

    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            out[key] = key_node.start_mark.line + 1
            out.setdefault(key_node.value, key_node.start_mark.line + 1)
            sub = "" if prefix == "" and key_node.value == "optimizers" else f"{key}."
            out.update({k: v for k, v in _key_lines(value_node, sub).items() if k not in out})
    return out
