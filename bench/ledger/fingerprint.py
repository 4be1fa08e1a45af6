"""Code fingerprint of a trial: a hash of the source files that determine its numbers.

Two parts, written 'harness+optimizer' (12 + 12 hex digits):
  harness    the task's module and the local modules it imports (tasks/base.py, the data
             helpers, ...), and the engine files a trial's numbers go through (runner,
             metrics, sampling, schedules, config)
  optimizer  the optimizer's module and the local modules it imports (optimizers/base.py,
             decay.py, ...), plus the numba sign kernels base.py loads by name
Documentation (README.md, docs/), report, CLI or sweep code are not in it: editing them never
makes a record stale.
Only local imports are followed (the packages `optimizers` and `tasks`, and a submission's
own directory), found by reading the import statements, not by importing.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE_FILES = ("bench/engine/runner.py", "bench/engine/context.py", "bench/engine/record.py",
                "bench/engine/checkpoints.py", "bench/measures/metrics.py",
                "bench/engine/sampling.py",
                "bench/trial/schedules.py", "bench/trial/config.py", "bench/engine/divergence.py",
                "bench/engine/evaluation.py", "bench/measures/geometry.py",
                "bench/measures/rotation.py", "bench/measures/grad_ratio.py",
                "bench/measures/timescale.py", "bench/engine/param_groups.py",
                # A stacked member's record must equal its lone run's: its code counts too.
                "bench/engine/stacked/loop.py", "bench/engine/stacked/members.py",
                "bench/engine/stacked/batches.py",
                "bench/engine/stacked/models.py", "bench/engine/stacked/func.py",
                "bench/engine/stacked/linear.py", "bench/engine/stacked/choice.py")
OPTIMIZER_FILES = ("optimizers/base.py", "optimizers/decay.py", "optimizers/sign_kernels.py",
                   "optimizers/compiled_steps.py", "optimizers/stacked.py",
                   "optimizers/stacked_steps.py", "optimizers/stacked_fused.py")
LOCAL_PACKAGES = ("optimizers", "tasks")


@dataclass(frozen=True)
class Fingerprint:
    harness: str
    optimizer: str

    def __str__(self) -> str:
        return f"{self.harness}+{self.optimizer}"

    @classmethod
    def parse(cls, text: str | None) -> Fingerprint | None:
        if not text or "+" not in text:
            return None
        harness, _, optimizer = text.partition("+")
        return cls(harness, optimizer)


def of_trial(task: str, optimizer: str, root: Path = ROOT) -> Fingerprint:
    """The fingerprint of trials of `task` with `optimizer` under the code as it is now."""
    import optimizers
    import tasks

    return of_files(_source_file(tasks.get(task)),
                    _source_file(optimizers.spec(optimizer).factory), root)


def recorded(task: str, optimizer: str) -> str | None:
    """What a record stores: str(of_trial(...)), or None when the task or optimizer cannot be
    found (the trial then fails, and its record is never fresh)."""
    try:
        return str(of_trial(task, optimizer))
    except (KeyError, OSError, SyntaxError, TypeError):
        return None


def of_files(task_file: Path, optimizer_file: Path, root: Path = ROOT) -> Fingerprint:
    """The fingerprint from the files defining a task and an optimizer, under `root`."""
    harness, opt = files_of(task_file, optimizer_file, root)
    return Fingerprint(digest(harness, root), digest(opt, root))


def files_of(task_file: Path, optimizer_file: Path,
             root: Path = ROOT) -> tuple[list[Path], list[Path]]:
    """(harness files, optimizer files) the two parts of the fingerprint hash. The imports of
    the engine files are not followed (the runner imports every optimizer's package)."""
    engine = [(root / f).resolve() for f in ENGINE_FILES if (root / f).is_file()]
    shared = [(root / f).resolve() for f in OPTIMIZER_FILES if (root / f).is_file()]
    return (sorted({*_closure([task_file], root), *engine}),
            sorted({*_closure([optimizer_file], root), *shared}))


def _source_file(obj: object) -> Path:
    """The file defining a class or factory (through functools.partial and decorators)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return Path(inspect.getsourcefile(inspect.unwrap(obj)) or "")  # type: ignore[arg-type]


def digest(files: list[Path], root: Path = ROOT) -> str:
    """sha256 over (relative path, content) of each file, in path order (12 hex digits)."""
    h = hashlib.sha256()
    for path in sorted(set(files)):
        h.update(_name(path, root).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def _name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:  # a submission outside the repository: its file name only
        return path.name


def _closure(start: list[Path], root: Path) -> list[Path]:
    """`start` and every local module they import, transitively."""
    seen: set[Path] = set()
    todo = [p.resolve() for p in start if p.is_file()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo += [p for p in local_imports(path, root) if p not in seen]
    return sorted(seen)


def local_imports(path: Path, root: Path = ROOT) -> list[Path]:
    """Files of the modules `path` imports from LOCAL_PACKAGES or from its own directory."""
    stat = path.stat()
    # Parsed once per file version: a sweep asks for every trial, a stacked group per member.
    return list(_parsed_imports(path, root, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=1024)
def _parsed_imports(path: Path, root: Path, mtime_ns: int, size: int) -> tuple[Path, ...]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{a.name}" for a in node.names]
            found = [n for n in submodules if _module_files(n, path, root)]
            # `from optimizers import validation` depends on validation.py, not on every
            # module the package's __init__ registers.
            names += found or [node.module]
    return tuple(f for name in names for f in _module_files(name, path, root))


def _module_files(name: str, path: Path, root: Path) -> list[Path]:
    """The file of a local module name (a .py file or a package's __init__), or []."""
    parts = name.split(".")
    if parts[0] in LOCAL_PACKAGES:
        base = root
    elif (path.parent / f"{parts[0]}.py").is_file():
        base = path.parent  # a sibling module of a submission
    else:
        return []
    candidate = base.joinpath(*parts)
    return [f.resolve() for f in (candidate.with_suffix(".py"), candidate / "__init__.py")
            if f.is_file() and f.resolve() != path]
