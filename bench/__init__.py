"""wdbench: the benchmark engine (runner, sweeps, metrics, ledger, report, CLI)."""

__version__ = "0.1.0"
