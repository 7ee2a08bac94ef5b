"""`mab-doctor list`: every check with its category, title, fixability and source; plugin problems last."""

from __future__ import annotations

import re

from mab_doctor.commands.checking import registry
from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import as_json, color_on, emit, rich_text, width

HEADER = ("name", "category", "title", "fix", "source")
# Cells plain_table may lay out itself: printable ASCII without the [ and : that rich reads as markup
# and emoji codes in a str cell.
_PLAIN = re.compile(r"[ -9;-Z\\-~]*\Z")


def main(opts: Options) -> int:
    """Exit 1 when a plugin could not be loaded, else 0."""
    if opts.args:
        raise UsageError(f"list takes no arguments (got {' '.join(opts.args)[:60]}); "
                         f"`mab-doctor explain NAME` describes one check")
    reg = registry(opts)
    rows = [{"name": c.name, "category": c.category, "title": c.title, "fixable": c.fixable,
             "per_target": c.per_target, "requires": list(c.requires), "source": c.source}
            for c in reg.checks]
    problems = [{"name": p.name, "source": p.source, "message": p.message} for p in reg.problems]
    if opts.format == "json":
        emit(opts, lambda _f: as_json({"schema": "mab-doctor/list/v1", "checks": rows, "problems": problems}))
        return 1 if problems else 0
    table = [HEADER, *((r["name"], r["category"], r["title"], "yes" if r["fixable"] else "-", r["source"])
                       for r in rows)]

    def draw(console):
        from rich.text import Text

        rich_table(console, table)
        for p in problems:
            console.print(Text(f"ERROR {p['name']} ({p['source']}): {p['message']}", style="bold magenta"))

    def text(to_file: bool) -> str:
        plain = None
        if not problems and not (color_on(opts) and not to_file):  # rich_text's own colour rule
            plain = plain_table(table, width(opts, to_file))
        return rich_text(opts, draw, to_file) if plain is None else plain
    emit(opts, text)
    return 1 if problems else 0


def rich_table(console, table: list[tuple[str, ...]]) -> None:
    """Print the table (header row first) with rich: the layout of `list`."""
    from rich.table import Table
    from rich.text import Text

    out = Table(box=None, header_style="bold")
    for col in table[0]:
        out.add_column(col)
    for name, category, title, fix, source in table[1:]:
        out.add_row(Text(name), category, Text(title), fix, Text(source))
    console.print(out)


def plain_table(table: list[tuple[str, ...]], columns: int) -> str | None:
    """What rich_table prints without colour, when that is mere padding: every cell printable ASCII
    free of markup and the table within ``columns``; else None. Spares `list` importing rich and
    laying the table out (~20 ms, a third of it); tests/test_listing.py holds the two equal."""
    if not all(_PLAIN.match(cell) for row in table for cell in row):
        return None
    widths = [max(len(cell) for cell in col) for col in zip(*table)]
    if sum(w + 2 for w in widths) > columns:  # rich would wrap or shorten cells to fit
        return None
    return "".join("".join(f" {cell:<{w}} " for cell, w in zip(row, widths)) + "\n" for row in table)
