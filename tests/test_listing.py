"""`list` text: the plain table is byte for byte what rich lays out, and rich takes over where it cannot be."""

from __future__ import annotations

import io

import pytest

from mab_doctor.checks import BUILTIN
from mab_doctor.cli import main
from mab_doctor.commands.listing import HEADER, plain_table, rich_table
from mab_doctor.core.registry import discover

BUILTIN_ROWS = [HEADER, *((c.name, c.category, c.title, "yes" if c.fixable else "-", c.source)
                          for c in discover(BUILTIN, plugins=False).checks)]
PLUGIN_ROWS = [*BUILTIN_ROWS, ("fake-good", "plugins", "Fake good check", "-", "fake-mab-plugin 1.0"),
               ("x", "odd-category", "", "yes", "a-much-longer-distribution-name 12.0.1.dev3")]


def drawn_by_rich(table, columns: int) -> str:
    # The Console rich_text makes for uncoloured output.
    from rich.console import Console

    buf = io.StringIO()
    rich_table(Console(file=buf, highlight=False, width=columns, force_terminal=False, no_color=True,
                       color_system=None), table)
    return buf.getvalue()


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


@pytest.mark.parametrize("cell", ["[bold]x", "a:thumbs_up:b", "tab\there", "two\nlines", "Größe", "宽"])
def test_cells_rich_would_change_are_left_to_rich(cell):
    for place in range(5):
        row = ["name", "cat", "Title", "-", "builtin"]
        row[place] = cell
        assert plain_table([HEADER, tuple(row)], 200) is None


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
