"""Where command output goes: colour and width policy, standard output or an atomically written file."""

from __future__ import annotations

import io
import os
import sys
from typing import Callable

from mab_doctor.commands.options import Options, UsageError, shown

FILE_WIDTH = 100    # reports written to --output files: plain text, a fixed width
PIPE_WIDTH = 120    # piped output: CI logs and grep want one finding per line


def color_on(opts: Options, stream=None) -> bool:
    """Colour for this stream: --color always/never, else only on a terminal without NO_COLOR."""
    if opts.color != "auto":
        return opts.color == "always"
    stream = stream or sys.stdout
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def width(opts: Options, to_file: bool) -> int:
    """Columns to lay text out in: fixed for files, COLUMNS or the terminal's own, else the pipe width."""
    if to_file:
        return FILE_WIDTH
    if "COLUMNS" in os.environ or sys.stdout.isatty():
        return _terminal_columns()
    return PIPE_WIDTH


def console(opts: Options, file=None):
    """A rich Console for interactive commands (fix, undo) and for rendering tables to text."""
    from rich.console import Console

    to_file = file is not None
    return Console(file=file, highlight=False, width=width(opts, to_file),
                   force_terminal=color_on(opts) if not to_file else False,
                   no_color=not color_on(opts) or to_file, soft_wrap=not to_file and not sys.stdout.isatty())


def rich_text(opts: Options, draw: Callable, to_file: bool) -> str:
    """What ``draw(console)`` prints, as a string laid out for the destination."""
    from rich.console import Console

    buf = io.StringIO()
    color = color_on(opts) and not to_file
    con = Console(file=buf, highlight=False, width=width(opts, to_file),
                  force_terminal=color, no_color=not color, color_system="standard" if color else None)
    draw(con)
    return buf.getvalue()


def _terminal_columns() -> int:
    # COLUMNS wins (it is how a user or a CI log asks for a width), then the terminal; 40 is a floor
    # below which a report cannot be laid out at all.
    try:
        return max(40, int(os.environ.get("COLUMNS") or os.get_terminal_size(sys.stdout.fileno()).columns))
    except (OSError, ValueError):
        return 80


def write(text: str, output: str | None) -> None:
    """Send text to standard output, or write it to ``output`` atomically (usage error if unwritable)."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from mab_doctor.core.files import write_atomically

    try:
        write_atomically(output, text)
    except OSError as exc:
        raise UsageError(f"--output {shown(output)}: {exc.strerror or exc}") from None


def emit(opts: Options, make: Callable[[bool], str], output: str | None | object = ...) -> None:
    """Render with ``make(to_file)`` and send it to ``output`` (default: the first --output)."""
    target = opts.output if output is ... else output
    write(make(target is not None), target)  # type: ignore[arg-type]


def as_json(data) -> str:
    """Indented JSON with a final newline: how every command prints JSON."""
    import json

    return json.dumps(data, indent=2) + "\n"
