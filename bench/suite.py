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

Under an optimizer, a list is a grid axis, except for options whose value is itself a
sequence (`betas`): those are axes only when given as a list of lists.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.config import TRIAL_KEYS, Trial
from bench.errors import UsageError

SUITES_DIR = Path(__file__).parent / "suites"
SEQUENCE_OPTIONS = {"betas"}
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

    def trials(self, budget: str, overrides: dict[str, Any] | None = None) -> list[Trial]:
        """Every trial of the grid, de-duplicated, in a stable order."""
        out: dict[str, Trial] = {}
        for opt_name, grid in self.optimizers.items():
            axes = {k: v for k, v in grid.items() if _is_axis(k, v)}
            fixed = {k: v for k, v in grid.items() if k not in axes}
            for values in itertools.product(*axes.values()):
                for seed in self.seeds:
                    settings = {**self.settings, **fixed, **dict(zip(axes, values)),
                                "seed": seed, "budget": budget, **(overrides or {})}
                    if "lr" not in settings or "weight_decay" not in settings:
                        raise UsageError(f"suite {self.name!r}: optimizer {opt_name!r} needs lr "
                                         "and weight_decay (a value or a list)")
                    base = Trial(task=self.task, optimizer=opt_name,
                                 lr=float(settings.pop("lr")),
                                 weight_decay=float(settings.pop("weight_decay")))
                    trial = base.with_settings(settings)
                    out.setdefault(trial.id, trial)
        return list(out.values())


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

    from bench import yaml_loader

    path = Path(path)
    text = path.read_text()
    try:
        node = yaml_loader.compose(text)
        data = yaml_loader.load(text)
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
        for hp in ("lr", "weight_decay"):
            values = grid.get(hp)
            values = values if isinstance(values, list) else [values]
            if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values):
                raise fail(f"{name}.{hp}", f"must be a number or a list of numbers, "
                                           f"got {grid.get(hp)!r}")
            if hp == "lr" and any(v <= 0 for v in values):
                raise fail(f"{name}.lr", "learning rates must be > 0")
            if hp == "weight_decay" and any(v < 0 for v in values):
                raise fail(f"{name}.weight_decay", "weight decay must be >= 0")
    seeds = data.get("seeds", [0])
    seeds = seeds if isinstance(seeds, list) else [seeds]
    if any(not isinstance(s, int) for s in seeds):
        raise fail("seeds", "must be an integer or a list of integers")
    settings = dict(data.get("settings") or {})
    settings.update({k: v for k, v in data.items() if k in TRIAL_KEYS and k != "budget"})
    return Suite(name=data.get("name", path.stem), task=str(data["task"]),
                 optimizers={k: dict(v) for k, v in data["optimizers"].items()},
                 seeds=tuple(seeds), budget=data.get("budget"), settings=settings,
                 description=data.get("description", ""),
                 executor=_executor_mapping(data.get("executor"), fail),
                 log_with=_log_with(data.get("log_with"), fail))


def _log_with(value: Any, fail: Any) -> tuple[str, ...]:
    """The suite's `log_with:` tracker names (a name or a list), checked against Accelerate's."""
    from bench import tracking

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
    from bench.executors.options import parse_mapping

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
