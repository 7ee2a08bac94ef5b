"""The text report: header, target grid, rows grouped by category, footer; rendered through rich."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mab_doctor.core.model import Status
from mab_doctor.report.escape import terminal_text
from mab_doctor.report.grid import target_grid
from mab_doctor.report.model import COUNTS_ORDER, Report, Row

if TYPE_CHECKING:
    from mab_doctor.report.style import Style

# status -> (symbol, ascii fallback, label, style); one table for badges, grid marks and footer.
STATUS_STYLE = {
    Status.OK: ("✔", "+", "OK", "green"),
    Status.WARN: ("!", "!", "WARN", "yellow"),
    Status.FAIL: ("✘", "x", "FAIL", "bold red"),
    Status.SKIP: ("-", "-", "SKIP", "dim"),
    Status.ERROR: ("‼", "E", "ERROR", "bold magenta"),
}
# Punctuation of the layout -> (unicode, ascii).
_PUNCT = {"sep": (" · ", " | "), "dash": (" — ", " - "), "detail": ("· ", "- "), "advice": ("→ ", "-> "),
          "none": ("·", ".")}
BODY_INDENT = 8  # under the row title: the width of a badge and its space
# A word for wrapping: a `code span` (with what sticks to it) stays whole, so a command quoted in
# prose is never split over two lines; else a run of non-blanks.
_WORD = re.compile(r"[^\s`]*`[^`\n]*`\S*|\S+")


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken at blanks only (a longer word keeps its line)."""
    lines: list[str] = []
    for para in text.split("\n"):
        if cell_len(para) <= width:
            lines.append(para)
            continue
        line = ""
        for word in _WORD.findall(para):
            if line and cell_len(line) + 1 + cell_len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


class _Printer:
    """Writes lines to an in-memory rich console; rich never wraps or crops them, this class does."""

    def __init__(self, style: "Style") -> None:
        from mab_doctor.report.style import DEFAULT_WIDTH

        self.out = io.StringIO()
        self.width = style.width or DEFAULT_WIDTH
        self.unicode = style.unicode
        # Explicit settings and an empty environment: the Style decides, not TERM, COLUMNS or NO_COLOR.
        self.console = Console(file=self.out, width=self.width, color_system="standard" if style.color else None,
                               force_terminal=style.color, no_color=not style.color, highlight=False,
                               markup=False, emoji=False, legacy_windows=False, _environ={})

    def punct(self, name: str) -> str:
        return _PUNCT[name][0 if self.unicode else 1]

    def line(self, text: Text | str = "") -> None:
        """One line as is: never wrapped, never cropped (a copy-paste of a command gets all of it)."""
        self.console.print(text, soft_wrap=True)

    def hanging(self, prefix: Text | str, body: str, style: str = "", indent: int = 0) -> None:
        """``prefix`` then ``body`` (host text, made safe), wrapped; later lines under the body's start."""
        prefix = Text(" " * indent).append_text(Text(prefix) if isinstance(prefix, str) else prefix)
        hang = prefix.cell_len
        lines = wrap(terminal_text(body), max(self.width - hang, 20))
        for i, part in enumerate(lines):
            self.line(Text.assemble(prefix if i == 0 else " " * hang, (part, style)))

    def badge(self, status: Status, pad: bool = True) -> Text:
        """`✔ OK`-style badge (padded to one width for row lines)."""
        sym, ascii_sym, label, style = STATUS_STYLE[status]
        return Text(f"{sym if self.unicode else ascii_sym} {label:<5}" if pad else
                    f"{sym if self.unicode else ascii_sym} {label}", style=style)


def _target_list(report: Report) -> str:
    # "a, b (--platform)" when every target came from one place, else the source after each one.
    sources = {t.source for t in report.targets}
    if len(sources) == 1 and "" not in sources:
        return f"{', '.join(report.platforms)} (from {sources.pop()})"
    return ", ".join(t.platform + (f" (from {t.source})" if t.source else "") for t in report.targets)


def header(p: _Printer, report: Report) -> None:
    """Tool, host, kernel, distro, native platform, targets, known environment."""
    host, sep = report.host, p.punct("sep")
    facts = [
        ("mab-doctor ", report.version),
        ("host ", f"{host.hostname or '?'}{sep}{host.distro_name or 'unknown distro'}{sep}"
                  f"kernel {host.kernel_release or '?'} ({host.uname_machine or '?'})"),
        ("native platform ", f"{host.oci_platform or 'unknown'}{sep}Debian arch {host.debian_arch or '-'}"
                             f"{sep}root {host.root}"),
        ("targets ", _target_list(report) or "-"),
        ("known environment ", host.known_environment_name or "none matched"),
    ]
    for label, value in facts:
        p.hanging(Text(label, style="bold"), value)  # host strings as plain text, never as markup
    if host.error:
        p.hanging("", host.error, style="red")


def grid_table(p: _Printer, report: Report) -> Table:
    """One row per target: native or not, then one column per per-target check's level of proof."""
    grid = target_grid(report)
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("target", no_wrap=True)
    table.add_column("native here")
    for column in grid.columns:
        table.add_column(terminal_text(column.label))
    for target in report.targets:
        cells = [Text(terminal_text(target.platform)), Text("yes", style="green") if target.native
                 else Text("no (cannot run here)", style="red") if target.placement == "impossible"
                 else Text("no (needs emulation)", style="yellow")]
        for column in grid.columns:
            status = grid.mark(column, target.platform)
            cells.append(p.badge(status, pad=False) if status else Text(p.punct("none"), style="dim"))
        table.add_row(*cells)
    return table


def row_lines(p: _Printer, row: Row, verbose: bool) -> None:
    """The row's line, then (not for OK unless -v) details, remediation and `fix:` commands."""
    title = f"{row.label}{p.punct('dash')}{row.summary}"
    p.hanging(Text.assemble(p.badge(row.status), " "), title)
    if row.status is Status.OK and not verbose:
        return
    for detail in row.details:
        p.hanging(p.punct("detail"), detail, style="dim", indent=BODY_INDENT)
    if row.remediation:
        p.hanging(p.punct("advice"), row.remediation, indent=BODY_INDENT)
    for command in row.fix_lines():
        p.line(Text.assemble(" " * BODY_INDENT, (terminal_text(command), "cyan")))


def footer(report: Report) -> Text:
    """`== 3 ok, 1 warn, 1 fail, 0 skip, 0 error == exit 1` with the counts coloured."""
    counts = report.counts
    text = Text("== ")
    for i, status in enumerate(COUNTS_ORDER):
        if i:
            text.append(", ")
        n = counts[status.value]
        text.append(f"{n} {status.value}", style=STATUS_STYLE[status][3] if n else "")
    return text.append(f" == exit {report.exit_code}")


def render(report: Report, style: "Style") -> str:
    """The whole text report; ANSI colour codes only with style.color. -q: WARN, FAIL, ERROR and the footer."""
    p = _Printer(style)
    if not style.quiet:
        header(p, report)
        p.line()
        p.console.print(grid_table(p, report))
    category = None
    for row in report.rows:
        if style.quiet and row.status in (Status.OK, Status.SKIP):
            continue
        if row.category != category:
            category = row.category
            p.line()
            p.line(Text(terminal_text(category.upper()), style="bold underline"))
        row_lines(p, row, style.verbose)
    p.line()
    p.line(footer(report))
    # Tables pad every cell to its column's width: drop the blanks that end up at line ends.
    return "\n".join(line.rstrip(" ") for line in p.out.getvalue().split("\n"))
