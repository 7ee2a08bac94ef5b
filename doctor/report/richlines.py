"""Lines and tables of segments (report.lines) drawn through rich: colour, and tables rich must shrink."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from mab_doctor.report.lines import Block, Table


def _table(block: Table) -> RichTable:
    table = RichTable(box=None, pad_edge=block.pad_edge, show_edge=False, header_style="bold")
    for index, label in enumerate(block.header):
        table.add_column(label, no_wrap=index in block.no_wrap)
    for row in block.rows:
        table.add_row(*(Text(text, style=style) for text, style in row))
    return table


def rich_text(blocks: list[Block], width: int, color: bool, *, wrap: bool = False) -> str:
    """What rich prints for ``blocks`` in ``width`` columns: lines as they are (never wrapped or
    cropped: a copy-paste of a command gets all of it) unless ``wrap`` asks rich to wrap them at
    the width, tables laid out by rich."""
    out = io.StringIO()
    # Explicit settings and an empty environment: the caller decides, not TERM, COLUMNS or NO_COLOR.
    console = Console(file=out, width=width, color_system="standard" if color else None,
                      force_terminal=color, no_color=not color, highlight=False, markup=False, emoji=False,
                      legacy_windows=False, _environ={})
    for block in blocks:
        if isinstance(block, Table):
            console.print(_table(block))
        else:
            console.print(Text.assemble(*block), soft_wrap=not wrap)
    return out.getvalue()
