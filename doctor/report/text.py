"""The rich text report: header, target grid, rows grouped by category, footer."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mab_doctor import __version__
from mab_doctor.core.model import Outcome, Status, count_statuses

if TYPE_CHECKING:
    from mab_doctor.host.platforms import Target

# status -> (symbol, ascii fallback, label, style); one table for badges, grid marks and footer.
STATUS_STYLE = {
    Status.OK: ("✔", "+", "OK", "green"),
    Status.WARN: ("!", "!", "WARN", "yellow"),
    Status.FAIL: ("✘", "x", "FAIL", "bold red"),
    Status.SKIP: ("-", "-", "SKIP", "dim"),
    Status.ERROR: ("‼", "E", "ERROR", "bold magenta"),
}


def _unicode_ok(console: Console) -> bool:
    try:
        "✔✘‼·→".encode(console.encoding or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def badge(status: Status, unicode: bool = True) -> Text:
    """`✔ OK`-style badge for a status."""
    sym, ascii_sym, label, style = STATUS_STYLE[status]
    return Text(f"{sym if unicode else ascii_sym} {label:<5}", style=style)


def header(host: dict[str, Any], targets: list[str]) -> Text:
    """Header lines: tool, host, kernel, distro, native platform, targets, known environment."""
    distro = host.get("distro", {})
    env = host.get("known_environment_name") or "none matched"
    lines = [
        ("mab-doctor ", __version__),
        ("host ", f"{host.get('hostname') or '?'} · {distro.get('name') or 'unknown distro'} · "
                  f"kernel {host.get('kernel_release')} ({host.get('uname_machine')})"),
        ("native platform ", f"{host.get('oci_platform') or 'unknown'} · Debian arch "
                             f"{host.get('debian_arch') or '-'} · root {host.get('root')}"),
        ("targets ", ", ".join(targets)),
        ("known environment ", env),
    ]
    text = Text()
    for label, value in lines:
        text.append(label, style="bold")
        text.append(str(value) + "\n")  # host strings go in as plain text, never as markup
    if host.get("error"):
        text.append(str(host["error"]) + "\n", style="red")
    return text


def _grid_cells(outcomes: list[Outcome]) -> tuple[list[str], dict[tuple[str, str], Status | None]]:
    # A per-target result fills one column named after its check, or the columns it names in
    # data["grid"] (True = works, False = does not, None = not tested, "status" = its own status).
    columns: list[str] = []
    cells: dict[tuple[str, str], Status | None] = {}
    for o in outcomes:
        target = o.result.target
        if target is None:
            continue
        grid = o.result.data.get("grid")
        marks = dict(grid) if grid else {o.check.title: o.status}
        for column, mark in marks.items():
            if column not in columns:
                columns.append(column)
            if isinstance(mark, bool):
                mark = Status.OK if mark else Status.FAIL
            elif mark == "status":
                mark = o.status
            cells[(column, target)] = mark
    return columns, cells


def target_grid(outcomes: list[Outcome], targets: "list[Target]", native: dict[str, bool],
                unicode: bool) -> Table:
    """One row per target: native or not, then one column per level of proof that was checked."""
    columns, cells = _grid_cells(outcomes)
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    grid.add_column("target")
    grid.add_column("native here")
    for title in columns:
        grid.add_column(title)
    for target in targets:
        name = str(target)
        row: list[Text] = [Text(name), Text("yes" if native.get(name) else "no (needs emulation)",
                                            style="green" if native.get(name) else "yellow")]
        for title in columns:
            status = cells.get((title, name))
            row.append(badge(status, unicode) if status else Text("·", style="dim"))
        grid.add_row(*row)
    return grid


def _row_body(o: Outcome, verbose: bool) -> list[Text]:
    res = o.result
    if res.status is Status.OK and not verbose:
        return []
    body = [Text(f"· {d}", style="dim") for d in res.details]
    if res.remediation:
        body.append(Text("→ ").append(Text(res.remediation)))
    if res.fix:
        root = "sudo " if res.fix.needs_root else ""
        for argv in res.fix.commands:
            body.append(Text(f"fix: {root}{shlex.join(argv)}", style="cyan"))
    return body


def footer(outcomes: list[Outcome], exit_code: int) -> Text:
    """`== 3 ok, 1 warn, 1 fail, 0 skip, 0 error == exit 1` with the counts coloured."""
    counts = count_statuses(outcomes)
    text = Text("== ")
    for i, status in enumerate((Status.OK, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR)):
        if i:
            text.append(", ")
        n = counts[status.value]
        text.append(f"{n} {status.value}", style=STATUS_STYLE[status][3] if n else "")
    return text.append(f" == exit {exit_code}")


def render_text(console: Console, outcomes: list[Outcome], *, host: dict[str, Any],
                targets: "list[Target]", native: dict[str, bool], exit_code: int,
                verbose: bool = False, quiet: bool = False) -> None:
    """Print the whole report to ``console``."""
    unicode = _unicode_ok(console)
    if not quiet:
        console.print(header(host, [str(t) for t in targets]))
        console.print(target_grid(outcomes, targets, native, unicode))
    category = None
    for o in outcomes:
        if quiet and o.status in (Status.OK, Status.SKIP):
            continue
        if o.check.category != category:
            category = o.check.category
            console.print(Text(f"\n{category.upper()}", style="bold underline"))
        title = Text(o.check.title + (f" [{o.result.target}]" if o.result.target else ""))
        line = Text.assemble(badge(o.status, unicode), " ", title, Text(" — " if unicode else " - "),
                             Text(o.result.summary))
        console.print(line)
        for body_line in _row_body(o, verbose):
            console.print(Text(" " * 8).append_text(body_line))
    console.print()
    console.print(footer(outcomes, exit_code))
