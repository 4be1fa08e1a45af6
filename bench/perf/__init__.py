"""`make perf`: speed benchmarks of the hot paths. Each entry is a module with
`main(argv: list[str] | None = None) -> int`; `python -m bench.perf [NAME ...]` runs them all or
the named ones. Benchmarks print tables; none of them asserts a timing. This package runs from
a checkout (it reads fixtures from tests/) and is left out of the installed distribution."""

BENCHMARKS: dict[str, str] = {
    "optimizer_step": "bench.perf.optimizer_step",
    "metrics_overhead": "bench.perf.metrics_overhead",
    "report_render": "bench.perf.report_render",
    "wikitext_step": "bench.perf.wikitext_step",
    "runner_overhead": "bench.perf.runner_overhead",
    "stacked": "bench.perf.stacked",
}
# Run only when named (`python -m bench.perf gpu [--dry-run]`, `make gpu-check`): they need
# hardware `make perf` does not assume.
ON_REQUEST: dict[str, str] = {
    "gpu": "bench.perf.gpu",
}


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table with aligned columns (first left-aligned, the rest right-aligned)."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(r: tuple[str, ...]) -> str:
        cells = [r[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(r[1:], widths[1:])]
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *map(line, rows)])
