"""`mab-doctor list`: every check with its category, title, fixability and source; plugin problems last."""

from __future__ import annotations

from mab_doctor.commands.checking import registry
from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import as_json, emit, rich_text


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

    def draw(console):
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, header_style="bold")
        for col in ("name", "category", "title", "fix", "source"):
            table.add_column(col)
        for r in rows:
            table.add_row(Text(r["name"]), r["category"], Text(r["title"]), "yes" if r["fixable"] else "-",
                          Text(r["source"]))
        console.print(table)
        for p in problems:
            console.print(Text(f"ERROR {p['name']} ({p['source']}): {p['message']}", style="bold magenta"))
    emit(opts, lambda to_file: rich_text(opts, draw, to_file))
    return 1 if problems else 0
