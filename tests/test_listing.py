"""`list` text: the plain table is byte for byte what rich lays out, and rich takes over where it cannot be."""

from __future__ import annotations

import io

import pytest

from mab_doctor.checks import BUILTIN
from mab_doctor.cli import main
from mab_doctor.commands.listing import HEADER, check_table
from mab_doctor.core.registry import discover
from mab_doctor.report import lines

BUILTIN_ROWS = [HEADER, *((c.name, c.category, c.title, "yes" if c.fixable else "-", c.source)
                          for c in discover(BUILTIN, plugins=False).checks)]
PLUGIN_ROWS = [*BUILTIN_ROWS, ("fake-good", "plugins", "Fake good check", "-", "fake-mab-plugin 1.0"),
               ("x", "odd-category", "", "yes", "a-much-longer-distribution-name 12.0.1.dev3")]


def drawn_by_rich(table, columns: int) -> str:
    # The layout `list` has always had, drawn by rich itself: rich's default edge padding, cells as
    # text (never markup), in the Console rich draws uncoloured output with.
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    drawn = Table(box=None, header_style="bold")
    for col in table[0]:
        drawn.add_column(col)
    for row in table[1:]:
        drawn.add_row(*map(Text, row))
    buf = io.StringIO()
    Console(file=buf, highlight=False, width=columns, force_terminal=False, no_color=True,
            color_system=None).print(drawn)
    return buf.getvalue()


def plain_table(table, columns: int) -> str | None:
    assert table[0] == HEADER
    return lines.plain_table(check_table(table[1:]), columns)


@pytest.mark.parametrize("table", [BUILTIN_ROWS, PLUGIN_ROWS, [HEADER]])
def test_plain_table_equals_rich_at_every_width_where_it_fits(table):
    natural = sum(max(len(cell) for cell in col) + 2 for col in zip(*table))
    for columns in range(natural - 3, natural + 40):
        plain = plain_table(table, columns)
        assert (plain is None) == (columns < natural), columns
        if plain is not None:
            assert plain == drawn_by_rich(table, columns), columns


def test_the_builtin_table_fits_a_pipe_and_a_file():
    first, row = plain_table(BUILTIN_ROWS, 100).splitlines()[:2]
    assert first == " name                 category   title                         fix  source  "
    assert row == " host-platform        host       Host platform                 -    builtin "


@pytest.mark.parametrize("cell", ["tab\there", "two\nlines"])
def test_cells_rich_would_change_are_left_to_rich(cell):
    for place in range(5):
        row = ["name", "cat", "Title", "-", "builtin"]
        row[place] = cell
        assert plain_table([HEADER, tuple(row)], 200) is None


@pytest.mark.parametrize("cell", ["[bold]x", "a:thumbs_up:b", "Größe", "宽"])
def test_markup_and_wide_cells_are_shown_as_written_and_padded_by_cells(cell):
    for place in range(5):
        row = ["name", "cat", "Title", "-", "builtin"]
        row[place] = cell
        plain = plain_table([HEADER, tuple(row)], 200)
        assert plain == drawn_by_rich([HEADER, tuple(row)], 200) and f" {cell} " in plain


def test_wide_cells_take_two_columns_each():
    table = [HEADER, ("宽", "c", "t", "-", "s")]
    assert plain_table(table, 200).splitlines() == [" name  category  title  fix  source ",
                                                    " 宽    c         t      -    s      "]
    assert plain_table(table, 36) is not None and plain_table(table, 35) is None


def test_narrow_output_and_colour_go_through_rich(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    assert main(["list", "--no-plugins"]) == 0
    out = capsys.readouterr().out
    assert out == drawn_by_rich(BUILTIN_ROWS, 60) and "\n                             files  " in out
    monkeypatch.delenv("COLUMNS")
    assert main(["list", "--no-plugins", "--color", "always"]) == 0
    assert "\x1b[1m" in capsys.readouterr().out
    assert main(["list", "--no-plugins"]) == 0
    assert capsys.readouterr().out == plain_table(BUILTIN_ROWS, 120) == drawn_by_rich(BUILTIN_ROWS, 120)
