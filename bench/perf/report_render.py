"""Report render time over a generated 1,000+-trial ledger (issue: < 30 s on a 2-core CPU).

    python -m bench.perf report_render        (or: python -m bench.perf.report_render)

Generates 3 tasks x 8 optimizers x 4 x 4 (lr, λ) x 3 seeds = 1,152 trials with curves and
per-tensor metrics, then times `wdbench report` (HTML with every plot, and Markdown)."""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from bench.report import render
from tests.bench.report.synthetic import OPTIMIZERS, write_synthetic_ledger


def main(argv: list[str] | None = None) -> int:
    measure(argv)
    return 0


def measure(argv: list[str] | None = None) -> dict[str, float]:
    """Generate the ledger, time the builds, print and return the numbers."""
    parser = argparse.ArgumentParser(prog="python -m bench.perf.report_render",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ledger"
        start = time.perf_counter()
        records = write_synthetic_ledger(root, tasks=("quadratic", "wikitext", "cifar10"),
                                         optimizers=tuple(OPTIMIZERS), grid=4,
                                         seeds=tuple(range(args.seeds)), evals=20, failed=3)
        gen_s = time.perf_counter() - start
        html, md, cpu = [], [], []
        for i in range(args.repeat):
            start, cpu0 = time.perf_counter(), _cpu_s()
            render([root], Path(tmp) / f"html{i}")
            html.append(time.perf_counter() - start)
            cpu.append(_cpu_s() - cpu0)
            start = time.perf_counter()
            render([root], Path(tmp) / f"md{i}", fmt="md")
            md.append(time.perf_counter() - start)
        n_plots = len(list((Path(tmp) / "html0" / "plots").glob("*.png")))
    result = {"trials": len(records), "plots_png": n_plots, "generate_s": gen_s,
              "html_s_best": min(html), "html_s_worst": max(html),
              "html_cpu_s": min(cpu), "md_s_best": min(md),
              "load_avg_1min": os.getloadavg()[0], "cpus": os.cpu_count() or 0}
    print(f"{'benchmark':<28}{'value':>12}")
    for key, value in result.items():
        print(f"{'report_render.' + key:<28}{value:>12.3g}" if isinstance(value, float)
              else f"{'report_render.' + key:<28}{value:>12}")
    return result


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the figure workers): a
    number other jobs on a shared machine disturb less than wall time."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    raise SystemExit(main())
