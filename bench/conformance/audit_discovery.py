"""What `wdbench audit PACKAGE` probes: every `torch.optim.Optimizer` subclass a package
exports, its decay-related boolean constructor flags, how to build it for the decay probe (or
why it cannot be), and the decay style its flags, class or documentation declare.

Nothing here runs an optimizer; `bench/conformance/audit.py` probes what this finds."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bench.errors import UsageError

# A boolean constructor flag is decay-related when its name holds one of these.
DECAY_WORDS = ("decay", "decoupl", "cautious", "fixed", "wd", "l2")
# When the top level exports this few classes, the package's public submodules are read too.
FEW_EXPORTS = 1
WRAPPED_PARAM = ("optimizer", "base_optimizer")
WRAP_BASE = "torch.optim.AdamW"


@dataclass(frozen=True)
class Candidate:
    """One optimizer class to audit, and how."""

    name: str  # module:ExportedName, as `wdbench check-optimizer` takes it
    cls: type
    aliases: tuple[str, ...] = ()
    flags: dict[str, bool] = field(default_factory=dict)  # decay-related bool flags: defaults
    wraps: str | None = None  # the constructor argument that takes a base optimizer
    wrapper_takes_decay: bool = False  # the wrapper has its own weight_decay
    skip: str | None = None  # why the probe cannot drive it (not probed)
    hint: str | None = None  # what a failing probe most likely means

    @property
    def defined_in(self) -> str:
        return f"{self.cls.__module__}.{self.cls.__qualname__}"


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def import_package(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as err:  # noqa: BLE001 - any import failure is the user's PACKAGE
        raise UsageError(f"cannot import package {name!r} ({one_line(err)}); pass an installed "
                         "package or module, e.g. torch.optim or pytorch_optimizer") from None


def _optimizer_classes(module: ModuleType) -> dict[type, list[str]]:
    import torch

    found: dict[type, list[str]] = {}
    public = getattr(module, "__all__", None)
    names = public if public is not None else [n for n in vars(module) if not n.startswith("_")]
    for attr in sorted(set(names)):
        obj = getattr(module, attr, None)
        if (inspect.isclass(obj)
                and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer
                and not inspect.isabstract(obj)):
            found.setdefault(obj, []).append(attr)
    return found


def _submodule_classes(package: ModuleType) -> dict[type, list[str]]:
    found: dict[type, list[str]] = {}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".",
                                      onerror=lambda _name: None):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - an optional dependency missing: skip that module
            continue
        for cls, names in _optimizer_classes(module).items():
            found.setdefault(cls, []).extend(f"{info.name}:{n}" for n in names)
    return found


def discover(package: str) -> tuple[ModuleType, list[Candidate]]:
    """The package and one Candidate per distinct Optimizer subclass it exports (its public
    attributes; its public submodules' too when it re-exports little)."""
    module = import_package(package)
    found = {cls: [f"{package}:{n}" for n in names]
             for cls, names in _optimizer_classes(module).items()}
    if len(found) <= FEW_EXPORTS and hasattr(module, "__path__"):
        for cls, names in _submodule_classes(module).items():
            found.setdefault(cls, []).extend(names)
    if not found:
        raise UsageError(f"package {package!r} exports no torch.optim.Optimizer subclass; pass "
                         "a package or module that does, e.g. torch.optim or pytorch_optimizer")
    # The shortest way to import it names the row; the rest are its aliases.
    candidates = [_candidate(cls, sorted(set(names), key=lambda n: (n.count("."), n)))
                  for cls, names in found.items()]
    return module, sorted(candidates, key=lambda c: c.name.lower())


def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(cls).parameters)
    except (TypeError, ValueError):  # a C extension class without a signature
        return {}


def _required(params: dict[str, inspect.Parameter]) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params.values() if p.kind in kinds and p.default is p.empty]


def decay_flags(params: dict[str, inspect.Parameter]) -> dict[str, bool]:
    """Boolean constructor flags whose names speak of decay, with their defaults."""
    return {name: p.default for name, p in params.items()
            if isinstance(p.default, bool) and any(w in name.lower() for w in DECAY_WORDS)}


def _source(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return ""


def _candidate(cls: type, names: list[str]) -> Candidate:
    """`names`: module:attr spellings of the class, the first naming the row."""
    params = _parameters(cls)
    required = [n for n in _required(params) if n != "self"]
    wraps = next((n for n in WRAPPED_PARAM if n in required), None)
    skip = None
    if (hasattr(cls, "first_step") and hasattr(cls, "second_step")) or \
            ("params" in params and "base_optimizer" in params):
        skip = ("SAM-style two-step: step() needs a closure that recomputes the loss at "
                "perturbed weights (first_step/second_step); not probed")
        wraps = None
    elif "model" in required:
        skip = "the constructor takes the model, not parameters; not probed"
    elif "weight_decay" not in params and not wraps:
        other = [n for n in params if any(w in n.lower() for w in ("decay", "l2", "lambda"))]
        skip = "takes no weight_decay argument" + (f" (has {', '.join(other)})" if other else "")
    else:
        extra = [n for n in required if n not in ("params", wraps)]
        if extra:
            skip = f"the constructor requires {', '.join(extra)} (no default); not probed"
    hint = None
    if re.search(r"create_graph|hessian", _source(cls), re.IGNORECASE):
        hint = "needs gradients built with create_graph=True (Hessian estimates)"
    return Candidate(name=names[0], cls=cls, aliases=tuple(n.split(":")[1] for n in names[1:]),
                     flags=decay_flags(params), wraps=wraps,
                     wrapper_takes_decay=bool(wraps) and "weight_decay" in params,
                     skip=skip, hint=hint)


def settings_to_probe(candidate: Candidate) -> list[dict[str, bool]]:
    """The defaults ({}), then each decay flag flipped once."""
    return [{}] + [{name: not default} for name, default in candidate.flags.items()]


# --- the declared style ------------------------------------------------------------------

def param_doc(cls: type, name: str) -> str:
    """The docstring line describing constructor argument `name` (Google, numpy or Sphinx
    style), lower-cased; '' when undocumented."""
    doc = inspect.getdoc(cls) or ""
    pattern = re.compile(rf"^\s*(:param\s+)?{re.escape(name)}\b\s*(\(.*?\))?\s*:(.*)$")
    for line in doc.splitlines():
        match = pattern.match(line)
        if match and match.group(3).strip():
            return match.group(3).strip().lower()
    return ""


def _is_decouple_flag(name: str) -> bool:
    name = name.lower()
    return "decoupl" in name and ("decay" in name or "weight" in name or name == "decouple")


def flag_style(cls: type, name: str) -> str | None:
    """The decay style flag `name` names when True, from its name and its docstring line."""
    lower, doc = name.lower(), param_doc(cls, name)
    if "initial_lr" in doc or "independent of the lr" in doc:
        return "independent"  # FlashAdamW's decouple_lr: λ·lr/initial_lr
    if "fixed" in lower and "decay" in lower:
        return "fixed"
    # `cautious` alone may mask the update, not the decay (MARS): its doc must say decay.
    if "cautious" in lower and ("decay" in lower or "decay" in doc):
        return "cautious"
    if _is_decouple_flag(lower):
        return "decoupled"
    return None


# A flag that refines decoupled decay wins over the flag that merely switches it on.
REFINES = ("independent", "fixed", "cautious", "decoupled")


def declared_style(cls: type, flags: dict[str, bool], settings: dict[str, bool]
                   ) -> tuple[str | None, str | None]:
    """(style, where it is declared) for the class built with `settings` over its flag
    defaults; (None, None) when nothing declares one."""
    attr = getattr(cls, "decay_style", None)
    if attr is not None:
        return str(getattr(attr, "value", attr)), "class attribute decay_style"
    values = {**flags, **settings}
    off = [n for n, v in values.items() if v is False and _is_decouple_flag(n)]
    if off:  # weight_decouple=False: ℓ2 through the gradient, whatever else is set
        return "coupled", f"{off[0]}=False"
    named = {flag_style(cls, n): n for n, v in values.items() if v is True}
    for style in REFINES:
        if style in named:
            return style, f"{named[style]}=True"
    if re.search(r"AdamW|W$", cls.__name__):
        return "decoupled", f"class name {cls.__name__} (AdamW's decoupled decay)"
    doc = param_doc(cls, "weight_decay")
    if "l2 penalty" in doc:
        return "coupled", "docstring: weight_decay is an 'L2 penalty'"
    if "decoupled" in doc:
        return "decoupled", "docstring: weight_decay is 'decoupled'"
    return None, None


def wrapper_kwargs(candidate: Candidate, lr: float, weight_decay: float) -> dict[str, Any]:
    """What the inner AdamW gets: λ goes to the wrapper when it has its own weight_decay."""
    inner = 0.0 if candidate.wrapper_takes_decay else weight_decay
    return {"lr": lr, "weight_decay": inner}
