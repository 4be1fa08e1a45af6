"""Benchmarks (`make perf`, `python -m bench.perf`): each module exposes `main() -> dict`.

Timings are printed, never asserted: a shared CI machine is too noisy for that."""

BENCHMARKS = ["bench.perf.report_render"]
