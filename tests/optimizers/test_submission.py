"""Submissions: the example of docs/how-to/submit-an-optimizer.md works as printed, from
optimizers/contrib/ and from an entry point, and the tables of docs/reference/optimizers.md are
the registry's."""

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

import optimizers
import optimizers.contrib
import optimizers.registry
from optimizers.builtins import GRID

DOCS = Path(__file__).resolve().parents[2] / "docs"
SUBMISSION_PAGE = DOCS / "how-to" / "submit-an-optimizer.md"
OPTIMIZERS_PAGE = DOCS / "reference" / "optimizers.md"


def _table(page: Path, header: str) -> str:
    """The Markdown table of `page` whose header row starts with `header`."""
    lines = page.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def _docs_example() -> str:
    return re.search(r"```python\n(.*?)```", SUBMISSION_PAGE.read_text(), re.S).group(1)


@pytest.fixture
def fresh_registry(monkeypatch):
    """The global registry with plugins not yet loaded; restored afterwards."""
    registry = optimizers.REGISTRY
    monkeypatch.setattr(registry, "_specs", dict(registry._specs))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    before = set(sys.modules)
    yield registry
    for name in set(sys.modules) - before:
        if name.startswith(("optimizers.contrib.", "wdbench_test_")):
            del sys.modules[name]


def test_docs_example_is_discovered_in_contrib_and_passes_the_checks(
        tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "rmsprop_docs.py").write_text(_docs_example())
    monkeypatch.setattr(optimizers.contrib, "__path__",
                        [*optimizers.contrib.__path__, str(tmp_path)])
    assert {"rmsprop_decoupled", "rmsprop_coupled"} <= set(optimizers.available())
    assert optimizers.spec("rmsprop_coupled").decay_style.value == "coupled"

    from bench.conformance.checks import resolve, run_checks

    for style in ("decoupled", "coupled"):
        report = run_checks(resolve(f"rmsprop_{style}", {}))
        assert report.decay_semantics == style
        assert report.passed, report.checks


def test_entry_points_register_modules_and_classes(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "wdbench_test_plugin.py").write_text(_docs_example())
    monkeypatch.syspath_prepend(str(tmp_path))
    group = optimizers.registry.ENTRY_POINT_GROUP
    eps = [importlib.metadata.EntryPoint("rmsprop", "wdbench_test_plugin", group),
           importlib.metadata.EntryPoint(
               "mislabelled", "tests.bench.defective_optimizers:MislabelledCoupled", group)]
    monkeypatch.setattr(optimizers.registry, "entry_points",
                        lambda group: eps if group == optimizers.registry.ENTRY_POINT_GROUP
                        else [])
    names = optimizers.available()
    assert {"rmsprop_decoupled", "rmsprop_coupled", "mislabelled"} <= set(names)
    spec = optimizers.spec("mislabelled")
    assert spec.decay_style.value == "coupled"  # from the class's decay_style attribute
    assert "entry point" in spec.source


# The implied radius at λ = 2, η_t = 0.25, η_max = 0.5, where each formula gives its own value.
RADIUS_FORMULAS = {0.5: "1/λ", 0.25: "η_max/λ", 0.125: "η_t/λ", 1.0: "η_max/(λ η_t)",
                   None: "none"}


def _radius(spec) -> str:
    return RADIUS_FORMULAS[spec.radius(2.0, 0.25, 0.5)]


def test_docs_optimizer_table_matches_the_registry():
    rows = {}
    for line in _table(OPTIMIZERS_PAGE, "| name | direction").splitlines():
        m = re.match(r"\| `(\w+)` \|(.*)\|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    assert set(rows) == {row.name for row in GRID} | {"muon", "muon_l2"}  # optimizers/muon.py
    for name, cells in rows.items():
        spec = optimizers.spec(name)
        extra = ", ".join(f"{k}={v}" for k, v in spec.defaults.items()
                          if k not in ("lr", "weight_decay"))
        direction = spec.direction + (f" ({extra})" if extra else "")
        expected = [direction, spec.decay_style.value, _radius(spec),
                    f"{spec.defaults['lr']:g}, {spec.defaults['weight_decay']:g}",
                    ", ".join(f"{v:g}" for v in spec.lr_grid),
                    ", ".join(f"{v:g}" for v in spec.weight_decay_grid)]
        assert cells == expected, name


def test_docs_style_table_lists_every_decay_style_with_its_radius():
    from optimizers.decay import DecayStyle

    table = _table(OPTIMIZERS_PAGE, "| style | update")
    rows = dict(re.findall(r"^\| `(\w+)` \|.*\| ([^|]+) \|$", table, flags=re.M))
    assert set(rows) == {s.value for s in DecayStyle}
    for style, cell in rows.items():
        radius = optimizers.implied_radius(style, 2.0, 0.25, 0.5)
        assert cell.split(" (")[0].strip() == RADIUS_FORMULAS[radius], style
