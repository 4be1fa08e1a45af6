"""Cheap CPU probes that tell whether an optimizer can join the benchmark, and where its weight
decay really enters (the `wdbench check-optimizer OPTIMIZER` verb is
`bench/cli/check_optimizer.py`).

OPTIMIZER is a registered name or `module:attr` (an Optimizer class or a factory called as
`make(params, lr=..., weight_decay=..., **extra)`). Exit 0 when every check passes, 1 when one
fails, 2 when OPTIMIZER cannot be imported or constructed (it raises an error saying why).
The command imports and constructs it in a forked child first (bench/conformance/bounded.py).
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from bench.errors import UsageError

# The tiny problem of the non-decay checks: least squares with a weight and a bias.
TINY_LR = 1e-2
TINY_WEIGHT_DECAY = 0.1
TINY_STEPS = 10
RESERVED = ("lr", "weight_decay")  # the probes set these themselves


@dataclass(frozen=True)
class Subject:
    """The optimizer under test, ready to construct as make(params, lr=, weight_decay=)."""

    spec: str
    make: Callable[..., Any]
    declared: str  # a decay style, or 'undeclared'
    source: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool | None  # None: not applicable (counts as no failure)
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    spec: str
    source: str
    declared_decay_style: str
    decay_semantics: str
    consistent_with: tuple[str, ...]
    explanation: str
    checks: list[Check]
    probes: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(c.passed is not False for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["consistent_with"] = list(self.consistent_with)
        d["checks"] = {c.name: {"passed": c.passed, "detail": c.detail, **c.data}
                       for c in self.checks}
        d["passed"] = self.passed
        return d


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def resolve(text: str, settings: dict[str, Any]) -> Subject:
    """A registered name or module:attr -> Subject, imported and constructed in this process;
    UsageError when it cannot be used."""
    subject = import_subject(text, settings)
    _try_construct(subject)
    return subject


def import_subject(text: str, settings: dict[str, Any]) -> Subject:
    """`resolve` without the construction."""
    refuse_reserved(settings)
    if ":" in text:
        return _resolve_import(text, settings)
    return _resolve_registered(text, settings)


def refuse_reserved(settings: dict[str, Any]) -> None:
    reserved = sorted(set(settings) & set(RESERVED))
    if reserved:
        raise UsageError(f"--set {', '.join(reserved)} is not allowed: the probes choose lr and "
                         "weight_decay themselves; pass only other constructor arguments")


def _resolve_registered(name: str, settings: dict[str, Any]) -> Subject:
    import optimizers

    try:
        spec = optimizers.spec(name)
    except KeyError:
        names = ", ".join(optimizers.available())
        raise UsageError(f"unknown optimizer {name!r}: use a registered name ({names}) or "
                         "module:attr for an Optimizer class or factory") from None
    extra = {k: v for k, v in spec.defaults.items() if k not in RESERVED}
    extra.update(settings)
    declared = spec.decay_style.value
    if "decay" in settings:  # the built-ins take the style as an argument: --set decay=...
        try:
            declared = optimizers.DecayStyle.parse(settings["decay"]).value
        except ValueError as err:
            raise UsageError(f"--set decay: {err}") from None
    factory = getattr(spec.factory, "func", spec.factory)  # see through functools.partial
    where = spec.source if spec.source != "builtin" else getattr(factory, "__module__", "?")
    return Subject(name, partial(spec.factory, **extra), declared, f"registered, {where}", extra)


def _resolve_import(text: str, settings: dict[str, Any]) -> Subject:
    module_name, _, attr = text.partition(":")
    if not module_name or not attr:
        raise UsageError(f"optimizer {text!r} must be a registered name or module:attr, "
                         "e.g. torch.optim:AdamW")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - any import failure is the user's optimizer reference
        raise UsageError(f"cannot import module {module_name!r} of optimizer {text!r} "
                         f"({_one_line(err)}); check the name and that it is on the path"
                         ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"module {module_name!r} has no attribute {attr!r} "
                             f"(optimizer {text!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"{text} is a {type(obj).__name__}, not an Optimizer class or factory")
    declared = getattr(obj, "decay_style", None)
    declared = "undeclared" if declared is None else str(getattr(declared, "value", declared))
    return Subject(text, partial(obj, **settings), declared, f"import {text}", dict(settings))


def _try_construct(subject: Subject) -> None:
    import torch

    try:
        from bench.conformance.decay_probe import probe_shapes

        shape = probe_shapes(subject.make)[-1]  # a vector, or a matrix for matrix-only ones
        opt = subject.make([torch.nn.Parameter(torch.zeros(shape))], lr=TINY_LR,
                           weight_decay=TINY_WEIGHT_DECAY)
    except Exception as err:  # noqa: BLE001 - report any constructor failure as one line
        raise UsageError(
            f"{subject.spec}(params, lr=..., weight_decay=...{_kwargs(subject.extra)}) failed: "
            f"{_one_line(err)}; a submission must accept make(params, lr=, weight_decay=, "
            "**extra)") from None
    if not isinstance(opt, torch.optim.Optimizer):
        raise UsageError(f"{subject.spec} returned a {type(opt).__name__}, "
                         "not a torch.optim.Optimizer")


def _kwargs(extra: dict[str, Any]) -> str:
    return "".join(f", {k}={v!r}" for k, v in extra.items())


# --- the tiny problem ------------------------------------------------------------------------

def _tiny_params(matrices_only: bool = False) -> list[Any]:
    import torch

    gen = torch.Generator().manual_seed(0)
    bias = (1, 3) if matrices_only else (3,)  # a 1 x 3 row broadcasts as the bias does
    return [torch.nn.Parameter(torch.randn(4, 3, generator=gen)),
            torch.nn.Parameter(torch.randn(*bias, generator=gen))]


def _tiny_loss(params: list[Any]) -> Any:
    import torch

    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 4, generator=gen), torch.randn(16, 3, generator=gen)
    return torch.nn.functional.mse_loss(x @ params[0] + params[1], y)


def _tiny_groups(params: list[Any]) -> list[dict[str, Any]]:
    # Two groups with their own lr and weight decay, as the runner builds them.
    return [{"params": [params[0]]},
            {"params": [params[1]], "lr": TINY_LR / 2, "weight_decay": 0.0}]


def _train(opt: Any, params: list[Any], steps: int) -> float:
    loss = float("nan")
    for _ in range(steps):
        opt.zero_grad()
        loss_t = _tiny_loss(params)
        loss_t.backward()
        opt.step()
        loss = loss_t.item()
    return loss


def _fresh(subject: Subject) -> tuple[Any, list[Any]]:
    from bench.conformance.decay_probe import MATRIX_SHAPES, probe_shapes

    params = _tiny_params(probe_shapes(subject.make) == MATRIX_SHAPES)
    return subject.make(_tiny_groups(params), lr=TINY_LR, weight_decay=TINY_WEIGHT_DECAY), params


def _max_diff(a: list[Any], b: list[Any]) -> float:
    return max((x.detach() - y.detach()).abs().max().item() for x, y in zip(a, b))


# --- the checks ------------------------------------------------------------------------------

def check_declared(declared: str, semantics: str, consistent: tuple[str, ...]) -> Check:
    if declared == "undeclared":
        return Check("declared_style", None,
                     f"no decay_style declared; measured {semantics} (declare it with a "
                     "`decay_style` attribute or register the optimizer)")
    ok = declared in consistent
    relation = "agrees with" if ok else "DISAGREES with"
    return Check("declared_style", ok, f"declared {declared} {relation} measured {semantics}")


def check_state_dict(subject: Subject) -> Check:
    """Train, save, continue; a fresh optimizer loaded from the save must continue identically."""
    import torch

    opt, params = _fresh(subject)
    _train(opt, params, TINY_STEPS)
    saved = [p.detach().clone() for p in params]
    buffer = io.BytesIO()
    try:
        torch.save(opt.state_dict(), buffer)
        _train(opt, params, TINY_STEPS)
        resumed_params = [torch.nn.Parameter(s.clone()) for s in saved]
        resumed = subject.make(_tiny_groups(resumed_params), lr=TINY_LR,
                               weight_decay=TINY_WEIGHT_DECAY)
        buffer.seek(0)
        resumed.load_state_dict(torch.load(buffer, weights_only=True))
        _train(resumed, resumed_params, TINY_STEPS)
    except Exception as err:  # noqa: BLE001 - a failing round-trip is a check result
        return Check("state_dict", False, f"save/load failed: {_one_line(err)}")
    diff = _max_diff(params, resumed_params)
    ok = all(torch.equal(a, b) for a, b in zip(params, resumed_params))
    detail = ("resume from state_dict continues bit-identically" if ok else
              f"resumed run drifts from the uninterrupted one (max |diff| {diff:.3g})")
    return Check("state_dict", ok, detail, {"max_abs_diff": diff})


def check_per_group_weight_decay(subject: Subject, expect_decay: bool = True) -> Check:
    """A λ = 0 group with zero gradient is untouched; the λ group differs from a λ = 0 run
    (unless the optimizer declares, and shows, no decay at all).

    Both ways round: λ set as the default with a group override to 0, and 0 as the default
    with a group override to λ (catches reading `defaults` instead of the group)."""
    import torch

    from bench.conformance.decay_probe import ProbeSettings, initial_params, probe_shapes

    settings = ProbeSettings()
    x0 = initial_params(settings.seed, probe_shapes(subject.make))
    gen = torch.Generator().manual_seed(2)
    grads = [torch.randn(x0[0].shape, generator=gen) for _ in range(settings.steps)]
    lam = settings.weight_decay

    def run(default_wd: float, group_wds: tuple[float | None, float | None]) -> list[Any]:
        params = [torch.nn.Parameter(x.clone()) for x in x0]
        groups = [{"params": [p]} if wd is None else {"params": [p], "weight_decay": wd}
                  for p, wd in zip(params, group_wds)]
        opt = subject.make(groups, lr=settings.lr, weight_decay=default_wd)
        for g in grads:
            params[0].grad, params[1].grad = g.clone(), torch.zeros_like(params[1])
            opt.step()
        return [p.detach() for p in params]

    reference = run(0.0, (None, None))
    problems, data = [], {}
    for label, default_wd, group_wds in (("group override to 0", lam, (None, 0.0)),
                                         ("group override to λ", 0.0, (lam, None))):
        decayed, untouched = run(default_wd, group_wds)
        moved = (untouched - x0[1]).abs().max().item()
        effect = (decayed - reference[0]).abs().max().item()
        data[label] = {"zero_wd_group_moved": moved, "wd_group_effect": effect}
        if moved != 0.0:
            problems.append(f"{label}: the λ=0 group moved by {moved:.3g} under zero gradient")
        if effect == 0.0 and expect_decay:
            problems.append(f"{label}: the λ group was not decayed")
    done = "λ group decayed" if expect_decay else "no decay, as declared"
    detail = "; ".join(problems) or f"λ=0 group untouched, {done} (both override ways)"
    return Check("per_group_weight_decay", not problems, detail, data)


def check_determinism(subject: Subject) -> Check:
    import torch

    runs = []
    for _ in range(2):
        opt, params = _fresh(subject)
        _train(opt, params, TINY_STEPS)
        runs.append(params)
    ok = all(torch.equal(a, b) for a, b in zip(*runs))
    diff = _max_diff(*runs)
    detail = ("two identical runs give bit-identical parameters" if ok else
              f"two identical runs differ (max |diff| {diff:.3g})")
    return Check("deterministic", ok, detail, {"max_abs_diff": diff})


def check_finite(subject: Subject) -> Check:
    import torch

    opt, params = _fresh(subject)
    start = [p.detach().clone() for p in params]
    first = _tiny_loss(params).item()
    last = _train(opt, params, 2 * TINY_STEPS)
    finite = all(torch.isfinite(p).all().item() for p in params)
    moved = _max_diff(params, start)
    ok = finite and moved > 0.0
    detail = (f"{2 * TINY_STEPS} steps on least squares: loss {first:.4g} -> {last:.4g}"
              + ("" if finite else "; NON-FINITE parameters")
              + ("" if moved > 0.0 else "; parameters never moved"))
    return Check("finite", ok, detail, {"loss_start": first, "loss_end": last,
                                        "max_param_change": moved})


def check_closure(subject: Subject) -> Check:
    opt, params = _fresh(subject)
    calls = []

    def closure() -> Any:
        opt.zero_grad()
        loss = _tiny_loss(params)
        loss.backward()
        calls.append(loss.item())
        return loss

    try:
        returned = opt.step(closure)
    except Exception as err:  # noqa: BLE001
        return Check("closure", False, f"step(closure) failed: {_one_line(err)}")
    value = getattr(returned, "detach", lambda: returned)()
    ok = bool(calls) and returned is not None and float(value) == calls[-1]
    detail = ("step(closure) evaluates the closure and returns its loss" if ok else
              f"step(closure) called the closure {len(calls)} time(s) and returned {returned!r}")
    return Check("closure", ok, detail)


def run_checks(subject: Subject, timeout_s: float | None = None) -> Report:
    """Every probe; with `timeout_s`, each in a forked child under that limit
    (bench/isolation/time_limit.py), so a hang, a crash or a SystemExit becomes a failed
    check."""
    from bench.conformance.decay_probe import DecayVerdict, measure_decay

    def bounded(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        if timeout_s is None:
            return fn(*args)
        from bench.isolation.time_limit import ProbeFailed, call_with_limit

        try:
            return call_with_limit(fn, args, timeout_s)
        except ProbeFailed as err:
            return Check(name, False, f"the probe {err}")

    verdict = bounded("decay_semantics", measure_decay, subject.make)
    if isinstance(verdict, Check):
        verdict = DecayVerdict("unknown", (), verdict.detail, {})
    # `none` is a bug (weight_decay accepted, nothing happens) unless declared: a no-decay
    # baseline registered as decay_style="none".
    declared_none = subject.declared == "none"
    recognised = verdict.semantics != "unknown" and (verdict.semantics != "none" or declared_none)
    checks = [
        Check("decay_semantics", recognised, verdict.explanation),
        check_declared(subject.declared, verdict.semantics, verdict.consistent_with),
        bounded("state_dict", check_state_dict, subject),
        bounded("per_group_weight_decay", check_per_group_weight_decay, subject,
                not declared_none),
        bounded("determinism", check_determinism, subject),
        bounded("finite", check_finite, subject),
        bounded("closure", check_closure, subject),
    ]
    return Report(spec=subject.spec, source=subject.source,
                  declared_decay_style=subject.declared, decay_semantics=verdict.semantics,
                  consistent_with=verdict.consistent_with, explanation=verdict.explanation,
                  checks=checks, probes=verdict.measurements)


def format_report(report: Report) -> str:
    mark = {True: "PASS", False: "FAIL", None: "n/a "}
    lines = [f"{report.spec}  ({report.source}; declared decay style: "
             f"{report.declared_decay_style})",
             f"  decay_semantics: {report.decay_semantics}"]
    shapes = report.probes.get("shapes")
    if shapes:
        lines.append("  probe shapes: " + ", ".join("x".join(map(str, s)) for s in shapes)
                     + (" (matrices only: vectors refused)" if all(len(s) == 2 for s in shapes)
                        else ""))
    lines += [f"  {mark[c.passed]}  {c.name:<24} {c.detail}" for c in report.checks]
    failed = [c.name for c in report.checks if c.passed is False]
    lines.append("verdict: PASS" if report.passed else f"verdict: FAIL ({', '.join(failed)})")
    return "\n".join(lines)
