"""`make perf`: speed benchmarks of the hot paths. Each entry is a module with
`main(argv: list[str] | None = None) -> int`; `python -m bench.perf [NAME ...]` runs them all or
the named ones. Benchmarks print tables; none of them asserts a timing."""

BENCHMARKS: dict[str, str] = {
    "optimizer_step": "bench.perf.optimizer_step",
    "metrics_overhead": "bench.perf.metrics_overhead",
    "report_render": "bench.perf.report_render",
}
