"""`mab-doctor list`: every check with its category, title, fixability and source; plugin problems last."""

from __future__ import annotations

from mab_doctor.commands.checking import registry
from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import as_json, color_on, emit, width
from mab_doctor.report.lines import Line, Table, plain_text

HEADER = ("name", "category", "title", "fix", "source")


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
    table = check_table([(r["name"], r["category"], r["title"], "yes" if r["fixable"] else "-", r["source"])
                         for r in rows])
    errors: list[Line] = [((f"ERROR {p['name']} ({p['source']}): {p['message']}", "bold magenta"),)
                          for p in problems]

    def text(to_file: bool) -> str:
        columns, color = width(opts, to_file), color_on(opts) and not to_file
        # Problem lines wrap at the width as rich wraps them, which the plain writer does not do.
        plain = None if color or errors else plain_text([table], columns)
        if plain is not None:
            return plain
        from mab_doctor.report.richlines import rich_text

        return rich_text([table, *errors], columns, color, wrap=True)
    emit(opts, text)
    return 1 if problems else 0


def check_table(rows: list[tuple[str, str, str, str, str]]) -> Table:
    """The table of `list`: HEADER over one row per check, a blank at each outer edge."""
    return Table(HEADER, tuple(tuple((cell, "") for cell in row) for row in rows), pad_edge=True)
