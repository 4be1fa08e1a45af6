"""The documentation stays true to itself and to the code: every relative link and anchor in
README.md and docs/ resolves, every "SPEC §n" cited anywhere names a section of docs/spec.md,
every `wdbench` command shown parses, every repository path named exists, the reference tables
equal the code's tables, and the README stays short.

`python -m tests.test_docs` rewrites the generated tables: the columns of
docs/reference/record-columns.md from bench/schema.py, the trial keys of
docs/reference/settings.md from the Trial's field declarations."""

from __future__ import annotations

import re
import shlex
import sys
import unicodedata
from dataclasses import fields
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SPEC = DOCS / "spec.md"
COLUMNS_PAGE = DOCS / "reference" / "record-columns.md"
README_MAX_LINES = 200
# Where "SPEC §n" may be cited: the packages, their tests and data files, and the docs.
CITING_DIRS = ("bench", "optimizers", "tasks", "tests", "docs")
CITING_SUFFIXES = {".py", ".md", ".yaml", ".j2", ".html", ".toml"}


def markdown_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def without_code(text: str) -> str:
    """The text with fenced code blocks and inline code spans blanked (links there are not
    links); line numbers are kept."""
    text = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text,
                  flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """A heading's anchor as MkDocs (Python-Markdown's toc) makes it; for the ASCII headings
    these pages use, GitHub makes the same one."""
    text = re.sub(r"[`*]", "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    """Heading slugs and explicit `id="..."` anchors of a Markdown page."""
    text = page.read_text()
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    found = {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", prose, re.M)}
    found |= set(re.findall(r"""\bid=["']([^"']+)["']""", prose))
    return found


def relative_links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link that is not a URL."""
    out = []
    for n, line in enumerate(without_code(page.read_text()).splitlines(), start=1):
        for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", line):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                out.append((n, target))
    return out


def link_problem(page: Path, target: str) -> str | None:
    """Why `target`, linked from `page`, does not resolve; None when it does."""
    path_part, _, anchor = target.partition("#")
    dest = (page.parent / path_part).resolve() if path_part else page
    if not dest.is_file():
        return f"{target}: no file {dest.relative_to(ROOT) if ROOT in dest.parents else dest}"
    if anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
        return f"{target}: no heading or id {anchor!r} in {dest.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("page", markdown_pages(), ids=_ids(markdown_pages()))
def test_every_relative_link_resolves(page):
    problems = [f"{page.relative_to(ROOT)}:{n}: {why}" for n, target in relative_links(page)
                if (why := link_problem(page, target))]
    assert not problems, "\n".join(problems)


def test_the_link_check_catches_a_broken_file_and_a_broken_anchor(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "a.md").write_text("# Title\n\n## §3b Claims\n\n<a id=\"s3b\"></a>\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#title) [ok](a.md#3b-claims) [ok](a.md#s3b) `[no](x.md)`\n"
                    "[bad](missing.md) [bad](a.md#nowhere) [url](https://example.org/x.md)\n")
    problems = [t for _, t in relative_links(page) if link_problem(page, t)]
    assert problems == ["missing.md", "a.md#nowhere"]


# --- "SPEC §n" -----------------------------------------------------------------------------


def spec_sections() -> set[str]:
    """The n of every '## §n ...' heading of docs/spec.md."""
    return set(re.findall(r"^#{1,6}\s+§(\d\w*)\b", SPEC.read_text(), re.M))


def spec_citations() -> list[tuple[str, str]]:
    """(file:line, n) for every "SPEC §n" (and the "§m" listed after it: "SPEC §3, §5")."""
    out = []
    files = [ROOT / "README.md", *(p for d in CITING_DIRS for p in sorted((ROOT / d).rglob("*"))
                                   if p.suffix in CITING_SUFFIXES and p.is_file())]
    for path in files:
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for m in re.finditer(r"SPEC (§\d\w*(?:(?:,\s*| and | or )§\d\w*)*)", line):
                for section in re.findall(r"§(\d\w*)", m.group(1)):
                    out.append((f"{path.relative_to(ROOT)}:{n}", section))
    return out


def test_every_spec_citation_names_a_section_of_docs_spec():
    sections = spec_sections()
    citations = spec_citations()
    assert len(citations) > 30  # the code cites SPEC throughout; finding none is a bug here
    missing = [f"{where}: SPEC §{n}" for where, n in citations if n not in sections]
    assert not missing, "no such section in docs/spec.md:\n" + "\n".join(missing)


def test_spec_keeps_its_numbered_sections_with_stable_anchors():
    assert {"1", "2", "3", "3b", "4", "5", "6"} <= spec_sections()
    assert {f"s{n}" for n in spec_sections()} <= anchors(SPEC)


# --- the README ------------------------------------------------------------------------------


def test_readme_is_at_most_200_lines():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


# --- commands shown ---------------------------------------------------------------------------


def code_lines(text: str) -> list[str]:
    """Lines of fenced and indented code blocks, backslash continuations joined."""
    lines, in_fence, in_indented, previous_blank = [], False, False, True
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif in_fence:
            lines.append(line)
        elif line.startswith("    ") and (in_indented or previous_blank):
            in_indented = True
            lines.append(line)
        elif line.strip():
            in_indented = False
        previous_blank = not line.strip()
    joined, buffer = [], ""
    for line in lines:
        buffer += line.strip()
        if buffer.endswith("\\"):
            buffer = buffer[:-1] + " "
            continue
        joined.append(buffer)
        buffer = ""
    return joined


def shown_commands() -> list[tuple[str, list[str]]]:
    """(page, argv) of every `wdbench VERB ...` or `python -m bench VERB ...` in a code block."""
    out = []
    for page in markdown_pages():
        for line in code_lines(page.read_text()):
            line = re.sub(r"^\s*(?:\w+=\S+\s+)*", "", line)  # leading VAR=value assignments
            m = re.match(r"(?:wdbench|(?:\S*/)?python3? -m bench)\s+(.*)$", line)
            if m:
                words = shlex.split(m.group(1), comments=True)
                out.append((str(page.relative_to(ROOT)), words))
    return out


def test_every_wdbench_command_shown_parses():
    from bench.cli import build_parser

    commands = shown_commands()
    assert len(commands) > 20
    bad = []
    for page, argv in commands:
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            bad.append(f"{page}: wdbench {shlex.join(argv)}")
    assert not bad, "commands that do not parse:\n" + "\n".join(bad)


# --- paths named -----------------------------------------------------------------------------


def named_paths(page: Path) -> list[str]:
    """Repository paths written as code (`bench/...`, `tasks/...`, ...), patterns left out."""
    text = page.read_text()
    spans = re.findall(r"`([^`\n]+)`", text)
    found = []
    for span in spans:
        m = re.match(r"((?:bench|optimizers|tasks|tests|docs)/[\w./-]*)", span.strip())
        if m and not re.search(r"[*<>{]", span.split()[0]):
            found.append(m.group(1).rstrip("."))
    return found


@pytest.mark.parametrize("page", markdown_pages(), ids=_ids(markdown_pages()))
def test_every_repository_path_named_exists(page):
    missing = sorted({p for p in named_paths(page) if not (ROOT / p).exists()})
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


# --- reference tables against the code ----------------------------------------------------------


def table_keys(page: Path, header: str) -> list[str]:
    """The backticked first cells of the Markdown table whose header row is `header`."""
    lines = page.read_text().splitlines()
    start = lines.index(header)
    keys = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        m = re.match(r"\|\s*`([^`]+)`", line)
        if m:
            keys.append(m.group(1))
    return keys


SETTINGS = DOCS / "reference" / "settings.md"


# What each statistics role of a Trial field means for a reader (bench/trial/fields.py).
ROLE_WORDS = {"axis": "configuration", "variant": "configuration (a variant where it varies)",
              "seed": "the seed", "bookkeeping": "bookkeeping: not the configuration"}
SETTINGS_START, SETTINGS_END = "<!-- trial keys: start -->", "<!-- trial keys: end -->"


def cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("<", "&lt;")


def settings_table() -> str:
    """The trial-key table of docs/reference/settings.md, rendered from the declaration of
    each Trial field (bench/trial/config.py)."""
    from bench.trial.config import FIELDS

    rows = ["| key | meaning | allowed | in statistics |", "|---|---|---|---|"]
    rows += [f"| `{f.name}` | {cell(f.help)} | {cell(f.allowed())} | {ROLE_WORDS[f.role]} |"
             for f in FIELDS.values() if f.setting]
    return "\n".join(rows)


def test_settings_page_trial_keys_are_the_declaration():
    text = SETTINGS.read_text()
    shown = text[text.index(SETTINGS_START) + len(SETTINGS_START):text.index(SETTINGS_END)]
    assert shown.strip() == settings_table(), ("docs/reference/settings.md differs from the "
                                               "Trial's declaration; run "
                                               "`python -m tests.test_docs`")


def test_settings_page_lists_every_suite_key():
    from bench.trial.config import TRIAL_KEYS
    from bench.trial.suite import TOP_KEYS

    keys = set(table_keys(SETTINGS, "| key | meaning |"))  # plus a row "any Trial key"
    assert keys <= TOP_KEYS
    assert keys | set(TRIAL_KEYS) == TOP_KEYS | set(TRIAL_KEYS)


def test_settings_page_lists_every_executor_key():
    from bench.trial.executor_options import ExecutorOptions

    expected = {f.name for f in fields(ExecutorOptions)} - {"kind"}
    assert sorted(table_keys(SETTINGS, "| key | flag | meaning (default) |")) == sorted(expected)


def test_settings_page_lists_every_schedule_with_its_theorem_flag():
    from bench.trial.schedules import SCHEDULES

    lines = SETTINGS.read_text().splitlines()
    start = lines.index(next(x for x in lines if x.startswith("| schedule | η_t")))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[-1] == "yes"
    assert rows == {name: s.schedule_theorem for name, s in SCHEDULES.items()}


def column_table() -> str:
    """The column table of docs/reference/record-columns.md, rendered from bench/schema.py."""
    from bench import schema

    rows = ["| key | symbol | unit | better | from | definition |", "|---|---|---|---|---|---|"]
    for c in schema.COLUMNS:
        rows.append(f"| `{c.key}` | {cell(c.symbol)} | {cell(c.unit)} | {cell(c.better)} | "
                    f"{c.origin} | {cell(c.definition)} |")
    return "\n".join(rows)


COLUMNS_START, COLUMNS_END = "<!-- columns: start -->", "<!-- columns: end -->"


def test_record_columns_page_is_the_schema():
    text = COLUMNS_PAGE.read_text()
    shown = text[text.index(COLUMNS_START) + len(COLUMNS_START):text.index(COLUMNS_END)]
    assert shown.strip() == column_table(), ("docs/reference/record-columns.md differs from "
                                             "bench/schema.py; run `python -m tests.test_docs`")


def write_table(page: Path, start: str, end: str, table: str) -> None:
    text = page.read_text()
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    page.write_text(f"{head}{start}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    write_table(COLUMNS_PAGE, COLUMNS_START, COLUMNS_END, column_table())
    write_table(SETTINGS, SETTINGS_START, SETTINGS_END, settings_table())
