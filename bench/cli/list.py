"""`wdbench list`: tasks, optimizers and suites; `--task T`: that task's budgets and options."""

from __future__ import annotations

import argparse

from bench.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list tasks, budgets, optimizers and suites")
    p.add_argument("--task", default=None,
                   help="show one task's budgets (steps, batch size) and options")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.task:
        common.check_task(args.task)
        print_task(args.task)
        return 0
    import optimizers
    import tasks
    from bench.trial import suite as suites
    print("tasks:")
    for name in tasks.available():
        print(f"  {name:14s} budgets: {', '.join(tasks.get(name).budgets)}")
    print("optimizers:")
    for name in optimizers.available():
        spec = optimizers.spec(name)
        print(f"  {name:14s} {spec.direction:6s} {spec.decay_style.value:11s} "
              f"{spec.description}")
    print(f"suites: {', '.join(suites.names())}")
    return 0


def print_task(name: str) -> None:
    import tasks

    cls = tasks.get(name)
    print(f"task {name}: selection metric {cls.selection_metric} ({cls.selection_mode}), "
          f"default mask {cls.default_mask}")
    print("budgets:")
    print(f"  {'name':6s} {'steps':>7s} {'batch_size':>10s} {'eval_every':>10s}  options")
    for budget in cls.budgets.values():
        options = ", ".join(f"{k}={v}" for k, v in budget.options.items())
        print(f"  {budget.name:6s} {budget.steps:7d} {budget.batch_size:10d} "
              f"{budget.eval_every:10d}  {options}")
    print("options (--set task.NAME=value):")
    rows = [(o.name, o.type.__name__, _show(o.default), f"{o.help} (allowed: {o.allowed()})")
            for o in cls.declared_options]
    header = ("name", "type", "default", "help")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print(f"  {row[0]:{widths[0]}s} {row[1]:{widths[1]}s} {row[2]:{widths[2]}s} {row[3]}")


def _show(value: object) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)
