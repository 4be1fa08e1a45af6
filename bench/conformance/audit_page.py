"""The audit's outputs: an HTML page (a sortable table, a filter for disagreements, a line of
evidence per row, the library's version and the date), a CSV, a Markdown summary and the JSON.

Every text cell comes from the audited package (class names, docstrings, error messages), so
the page escapes it (Jinja2 autoescape), the Markdown escapes it (`md_escape`) and the CSV
defuses cells a spreadsheet would run as a formula (`csv_cell`; both bench/untrusted_text.py)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from bench.conformance.audit import Audit, AuditRow
from bench.ledger.shared_files import write_text
from bench.untrusted_text import csv_cell, md_escape

FILES = ("index.html", "audit.csv", "audit.json", "audit.md")
SORTABLE_JS = Path(__file__).resolve().parents[1] / "report" / "templates" / "sortable.js"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Decay audit: {{ audit.package }} {{ audit.version }}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left;
         vertical-align: top; }
th { cursor: pointer; background: #f4f4f4; position: sticky; top: 0; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
tr.disagrees td { background: #fde8e8; }
td.evidence { color: #444; font-size: 12px; max-width: 48em; }
code { font-size: 12px; }
</style>
</head>
<body>
<h1>Decay audit of <code>{{ audit.package }}</code> {{ audit.version }}</h1>
<p id="provenance">{{ audit.date }}; {{ classes }} optimizer classes, {{ audit.rows|length }}
(optimizer, settings) rows in {{ "%.0f"|format(audit.seconds) }} s. Each is probed at
lr = {{ audit.probe.lr }}, weight_decay = {{ audit.probe.weight_decay }} (the lr halves after
step {{ audit.probe.steps // 2 }} of {{ audit.probe.steps }}), under a
{{ audit.probe.timeout_s }} s limit, at its defaults and with each decay-related boolean flag
flipped once. <em>declared</em> is what the flags, the class or its docstring promise;
<em>agrees</em> whether the measurement fits it.</p>
<p id="counts">{% for name, n in counts.items() %}{{ name }}: {{ n }}{% if not loop.last %};
{% endif %}{% endfor %}. Disagreements: {{ disagreements }}.</p>
<p><label><input type="checkbox" id="only-disagreements"> show only the disagreements</label>
<span id="shown"></span></p>
<table class="sortable" id="audit">
<thead><tr><th>optimizer</th><th>settings</th><th>measured</th><th>declared</th>
<th>declared from</th><th>agrees</th><th>note</th><th>evidence</th></tr></thead>
<tbody>
{% for row in audit.rows %}
<tr data-agrees="{{ agrees_text(row.agrees) }}"{% if row.agrees is false %}
 class="disagrees"{% endif %}>
<td><code>{{ row.optimizer }}</code></td><td>{{ row.settings_label }}</td>
<td>{{ row.decay_semantics or "not probed" }}</td><td>{{ row.declared or "—" }}</td>
<td>{{ row.declared_from or "—" }}</td><td>{{ agrees_text(row.agrees) }}</td>
<td>{{ row.reason or "" }}</td><td class="evidence">{{ row.evidence }}</td></tr>
{% endfor %}
</tbody>
</table>
<script>{{ sortable_js }}</script>
<script>
(function () {
  var box = document.getElementById("only-disagreements");
  var rows = document.querySelectorAll("#audit tbody tr");
  function apply() {
    var shown = 0;
    rows.forEach(function (r) {
      var show = !box.checked || r.getAttribute("data-agrees") === "no";
      r.hidden = !show;
      if (show) { shown++; }
    });
    document.getElementById("shown").textContent = "(" + shown + " of " + rows.length + " rows)";
  }
  box.addEventListener("change", apply);
  apply();
})();
</script>
</body>
</html>
"""


def agrees_text(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "—"}[value]


def render_html(audit: Audit) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    # Our own script, inlined so the page works offline from one file; never the package's text.
    script = Markup(SORTABLE_JS.read_text().replace("</", "<\\/"))
    return env.from_string(PAGE).render(
        audit=audit, counts=audit.counts(), disagreements=len(audit.disagreements()),
        classes=len({r.optimizer for r in audit.rows}), agrees_text=agrees_text,
        sortable_js=script)


CSV_COLUMNS = ("optimizer", "settings", "decay_semantics", "consistent_with", "declared",
               "declared_from", "agrees", "reason", "evidence", "defined_in", "deviations")


def _csv_values(row: AuditRow) -> list[Any]:
    d = row.to_dict()
    d["settings"] = row.settings_label
    d["consistent_with"] = "|".join(row.consistent_with)
    d["deviations"] = json.dumps(row.deviations, sort_keys=True) if row.deviations else ""
    return [csv_cell("" if d[c] is None else d[c]) for c in CSV_COLUMNS]


def render_csv(audit: Audit) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_values(r) for r in audit.rows)
    return out.getvalue()


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_escape("" if c is None else c) for c in r) + " |"
              for r in rows]
    return "\n".join(lines) + "\n"


def _md_row(row: AuditRow) -> list[Any]:
    return [row.optimizer, row.settings_label, row.decay_semantics or "not probed",
            row.declared or "—", row.declared_from or "—", agrees_text(row.agrees)]


def render_markdown(audit: Audit) -> str:
    """Counts, the disagreements, the rows measured `none`, and every row (folded)."""
    head = ["optimizer", "settings", "measured", "declared", "declared from", "agrees"]
    rows = audit.rows
    none = [r for r in rows if r.decay_semantics == "none"]
    skipped = [r for r in rows if r.decay_semantics is None]
    parts = [
        f"`{audit.package}` {audit.version}, audited {audit.date}: "
        f"{len({r.optimizer for r in rows})} optimizer classes, {len(rows)} (optimizer, "
        f"settings) rows, {audit.seconds:.0f} s; probe lr = {audit.probe['lr']}, weight_decay "
        f"= {audit.probe['weight_decay']}, {audit.probe['steps']} steps.\n",
        "**Rows per measured semantics**\n",
        _md_table(["measured", "rows"], [[k, v] for k, v in audit.counts().items()]),
        f"**Disagreements ({len(audit.disagreements())})**\n",
        _md_table(head, [_md_row(r) for r in audit.disagreements()]),
        f"**weight_decay accepted, no effect measured ({len(none)})**\n",
        _md_table(head, [_md_row(r) for r in none]),
        f"**Not probed ({len(skipped)})**\n",
        _md_table(["optimizer", "settings", "reason"],
                  [[r.optimizer, r.settings_label, r.reason] for r in skipped]),
        "<details><summary>Every row</summary>\n",
        _md_table(head + ["note"], [_md_row(r) + [r.reason or ""] for r in rows]),
        "</details>\n",
    ]
    return "\n".join(parts)


def render_json(audit: Audit) -> str:
    return json.dumps(audit.to_dict(), indent=1, default=str)


def write_outputs(audit: Audit, out: Path) -> list[Path]:
    """index.html, audit.csv, audit.json and audit.md in `out`; each is written whole to a
    temporary name and renamed, so a failure leaves no half-written file."""
    out.mkdir(parents=True, exist_ok=True)
    texts = dict(zip(FILES, (render_html(audit), render_csv(audit), render_json(audit),
                             render_markdown(audit))))
    written = []
    for name, text in texts.items():
        written.append(write_text(out / name, text))
    return written
