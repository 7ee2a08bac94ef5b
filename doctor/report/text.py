"""The text report: header, target grid, rows grouped by category, footer; plain, or through rich for colour."""

from __future__ import annotations

import re
from typing import Sequence

from rich.cells import cell_len

from mab_doctor.core.model import Status
from mab_doctor.report.escape import terminal_text
from mab_doctor.report.grid import target_grid
from mab_doctor.report.lines import Block, Segment, Table, plain_text
from mab_doctor.report.model import COUNTS_ORDER, Report, Row
from mab_doctor.report.style import DEFAULT_WIDTH, Style

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


class _Layout:
    """Collects the report as lines of (text, style) segments; it wraps host text itself, so that
    either writer prints each line as it is."""

    def __init__(self, style: Style) -> None:
        self.width = style.width or DEFAULT_WIDTH
        self.unicode = style.unicode
        self.blocks: list[Block] = []

    def punct(self, name: str) -> str:
        return _PUNCT[name][0 if self.unicode else 1]

    def line(self, *segments: Segment) -> None:
        """One line as is: never wrapped, never cropped (a copy-paste of a command gets all of it)."""
        self.blocks.append(segments)

    def hanging(self, prefix: Sequence[Segment], body: str, style: str = "", indent: int = 0) -> None:
        """``prefix`` then ``body`` (host text, made safe), wrapped; later lines under the body's start."""
        head = ((" " * indent, ""), *prefix)
        hang = cell_len("".join(text for text, _style in head))
        lines = wrap(terminal_text(body), max(self.width - hang, 20))
        for i, part in enumerate(lines):
            self.line(*(head if i == 0 else ((" " * hang, ""),)), (part, style))

    def badge(self, status: Status, pad: bool = True) -> Segment:
        """`✔ OK`-style badge (padded to one width for row lines)."""
        sym, ascii_sym, label, style = STATUS_STYLE[status]
        sym = sym if self.unicode else ascii_sym
        return (f"{sym} {label:<5}" if pad else f"{sym} {label}", style)


def _target_list(report: Report) -> str:
    # "a, b (--platform)" when every target came from one place, else the source after each one.
    sources = {t.source for t in report.targets}
    if len(sources) == 1 and "" not in sources:
        return f"{', '.join(report.platforms)} (from {sources.pop()})"
    return ", ".join(t.platform + (f" (from {t.source})" if t.source else "") for t in report.targets)


def header(p: _Layout, report: Report) -> None:
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
        p.hanging([(label, "bold")], value)  # host strings as plain text, never as markup
    if host.error:
        p.hanging([], host.error, style="red")


def grid_table(p: _Layout, report: Report) -> Table:
    """One row per target: native or not, then one column per per-target check's level of proof."""
    grid = target_grid(report)
    rows = []
    for target in report.targets:
        cells = [(terminal_text(target.platform), ""), ("yes", "green") if target.native
                 else ("no (cannot run here)", "red") if target.placement == "impossible"
                 else ("no (needs emulation)", "yellow")]
        for column in grid.columns:
            status = grid.mark(column, target.platform)
            cells.append(p.badge(status, pad=False) if status else (p.punct("none"), "dim"))
        rows.append(tuple(cells))
    header = ("target", "native here", *(terminal_text(column.label) for column in grid.columns))
    return Table(header, tuple(rows), no_wrap=(0,))


def row_lines(p: _Layout, row: Row, verbose: bool) -> None:
    """The row's line, then (not for OK unless -v) details, remediation and `fix:` commands."""
    title = f"{row.label}{p.punct('dash')}{row.summary}"
    p.hanging([p.badge(row.status), (" ", "")], title)
    if row.status is Status.OK and not verbose:
        return
    for detail in row.details:
        p.hanging([(p.punct("detail"), "")], detail, style="dim", indent=BODY_INDENT)
    if row.remediation:
        p.hanging([(p.punct("advice"), "")], row.remediation, indent=BODY_INDENT)
    for command in row.fix_lines():
        p.line((" " * BODY_INDENT, ""), (terminal_text(command), "cyan"))


def footer(report: Report) -> list[Segment]:
    """`== 3 ok, 1 warn, 1 fail, 0 skip, 0 error == exit 1` with the counts coloured."""
    counts = report.counts
    parts: list[Segment] = [("== ", "")]
    for i, status in enumerate(COUNTS_ORDER):
        if i:
            parts.append((", ", ""))
        n = counts[status.value]
        parts.append((f"{n} {status.value}", STATUS_STYLE[status][3] if n else ""))
    return [*parts, (f" == exit {report.exit_code}", "")]


def layout(report: Report, style: Style) -> list[Block]:
    """The whole report as lines and the grid. -q: only WARN, FAIL, ERROR rows and the footer."""
    p = _Layout(style)
    if not style.quiet:
        header(p, report)
        p.line()
        p.blocks.append(grid_table(p, report))
    category = None
    for row in report.rows:
        if style.quiet and row.status in (Status.OK, Status.SKIP):
            continue
        if row.category != category:
            category = row.category
            p.line()
            p.line((terminal_text(category.upper()), "bold underline"))
        row_lines(p, row, style.verbose)
    p.line()
    p.line(*footer(report))
    return p.blocks


def render(report: Report, style: Style, *, via_rich: bool = False) -> str:
    """The whole text report; ANSI colour codes only with style.color.

    Without colour the lines are joined here (rich is not even imported), unless rich would lay out
    something otherwise (a grid too wide for the width) or ``via_rich`` asks for rich's own output,
    which tests/test_text_plain.py holds equal to the plain one."""
    blocks, width = layout(report, style), style.width or DEFAULT_WIDTH
    out = None if style.color or via_rich else plain_text(blocks, width)
    if out is None:
        from mab_doctor.report.richlines import rich_text

        out = rich_text(blocks, width, style.color)
    # Tables pad every cell to its column's width: drop the blanks that end up at line ends.
    return "\n".join(line.rstrip(" ") for line in out.split("\n"))
