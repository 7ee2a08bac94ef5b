"""Text laid out as lines of (text, style) segments and box-less tables, and their plain writer without rich."""

from __future__ import annotations

import re
from typing import Union

from mab_doctor.core.record import record

# One run of text and its rich style ("" for none); the style only shows with colour.
Segment = tuple[str, str]
# One printed line (a "\n" inside one of its texts starts a new line, as rich prints it).
Line = tuple[Segment, ...]
TAB_SIZE = 8  # rich's Console.tab_size: tabs stop every 8 cells
# What rich's Text drops from any text it is given (bell, backspace, VT, FF, CR): the plain writer
# leaves text holding one to rich rather than repeat that rule.
_DROPPED = re.compile("[\x07\x08\x0b\x0c\x0d]")
# Table cells the plain writer can only pad when rich would neither measure nor wrap them otherwise:
# no tab (expanded when drawn, not when measured), no control character and no line separator
# (str.splitlines, which rich measures with, splits at more than "\n"), no zero-width joiner or
# variation selector (cell_len of a string is then not the sum over its words, which rich wraps by),
# no blank at the end (rich crops those by character count, not by cells).
_ODD_CELL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200d\ufe0f]|\\s\\Z")
# Printable ASCII takes one cell a character: measured without importing rich, which the plain
# `list` table never needs otherwise.
_NARROW = re.compile("[ -~]*\\Z")


@record
class Table:
    """A grid as rich draws Table(box=None, show_edge=False): a bold header row, then rows of one
    segment per column; columns left-aligned, two blanks apart; ``no_wrap`` columns never wrap;
    ``pad_edge`` adds a blank before the first column and after the last."""

    header: tuple[str, ...]
    rows: tuple[tuple[Segment, ...], ...]
    no_wrap: tuple[int, ...] = ()
    pad_edge: bool = False


Block = Union[Line, Table]


def cell_len(text: str) -> int:
    """The cells ``text`` takes as rich counts them."""
    if _NARROW.match(text):
        return len(text)
    from rich.cells import cell_len as cells

    return cells(text)


def expand_tabs(text: str) -> str:
    """``text`` (one line) with each tab turned into blanks up to the next tab stop, counted in cells
    of what comes before it the way rich counts them (a tab right at a stop moves a whole stop)."""
    *tabbed, last = text.split("\t")
    out, column = [], 0
    for part in tabbed:
        part += " "  # rich turns the tab into a blank, measures, then pads to the stop
        column += cell_len(part)
        pad = -column % TAB_SIZE
        column += pad
        out.append(part + " " * pad)
    out.append(last)
    return "".join(out)


def plain_line(line: Line) -> str | None:
    """What rich prints for ``line`` without colour and without wrapping (soft wrap), with its "\\n";
    None when rich would change more than tabs."""
    text = "".join(part for part, _style in line)
    if _DROPPED.search(text):
        return None
    return "".join((expand_tabs(piece) if "\t" in piece else piece) + "\n" for piece in text.split("\n"))


def plain_table(table: Table, width: int) -> str | None:
    """What rich prints for ``table`` without colour in ``width`` columns, when that is mere padding:
    the table fits and no cell is one rich would measure or wrap differently; else None."""
    grid = [table.header, *(tuple(text for text, _style in row) for row in table.rows)]
    if len(table.header) < 2 or any(len(row) != len(table.header) or any(map(_ODD_CELL.search, row))
                                    for row in grid):
        return None
    widths = [max(cell_len(cell) for cell in column) for column in zip(*grid)]
    # Each column has a blank of padding on each inner side: two between neighbours; one at each
    # edge only with pad_edge.
    edge = " " if table.pad_edge else ""
    if sum(widths) + 2 * (len(widths) - 1) + 2 * len(edge) > width:  # rich would shrink and wrap columns
        return None
    if 0 in widths:  # a column of zero-width text only (a lone U+200B, a combining mark): rich drops it
        return None
    return "".join(edge + "  ".join(cell + " " * (w - cell_len(cell)) for cell, w in zip(row, widths)) + edge
                   + "\n" for row in grid)


def plain_text(blocks: list[Block], width: int) -> str | None:
    """All ``blocks`` as rich prints them without colour, or None as soon as one needs rich itself."""
    out = []
    for block in blocks:
        text = plain_table(block, width) if isinstance(block, Table) else plain_line(block)
        if text is None:
            return None
        out.append(text)
    return "".join(out)
