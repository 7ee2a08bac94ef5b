"""Where command output goes: colour and width policy, standard output or a file (see core.files)."""

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


def console(opts: Options):
    """A rich Console on standard output for the interactive commands (fix, undo)."""
    from rich.console import Console

    tolerant_stdout()
    color = color_on(opts)
    return Console(highlight=False, width=width(opts, False), force_terminal=color, no_color=not color,
                   soft_wrap=not sys.stdout.isatty())


def rich_text(opts: Options, draw: Callable, to_file: bool) -> str:
    """What ``draw(console)`` prints, as a string laid out for the destination."""
    from rich.console import Console

    buf = _Buffer("utf-8" if to_file else getattr(sys.stdout, "encoding", None) or "utf-8")
    color = color_on(opts) and not to_file
    con = Console(file=buf, highlight=False, width=width(opts, to_file),
                  force_terminal=color, no_color=not color, color_system="standard" if color else None)
    draw(con)
    return buf.getvalue()


class _Buffer(io.StringIO):
    """A string buffer that reports the destination's encoding: rich then draws ASCII tables for a
    stream that cannot show box characters."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def _terminal_columns() -> int:
    # COLUMNS wins (it is how a user or a CI log asks for a width), then the terminal; 40 is a floor
    # below which a report cannot be laid out at all.
    try:
        return max(40, int(os.environ.get("COLUMNS") or os.get_terminal_size(sys.stdout.fileno()).columns))
    except (OSError, ValueError):
        return 80


def write(text: str, output: str | None) -> None:
    """Send text to standard output, or write it to ``output`` (usage error if unwritable): a regular
    file is replaced atomically, a device, FIFO or /dev/stdout written in place, never replaced."""
    if output is None:
        to_stdout(text)
        return
    from mab_doctor.core.files import write_output

    try:
        write_output(output, text)
    except BrokenPipeError:  # a pipe's reader left (`--output /dev/stdout | head -1`): as on stdout
        pass
    except OSError as exc:
        raise UsageError(f"--output {shown(output)}: {exc.strerror or exc}") from None


def to_stdout(text: str) -> None:
    """Write to standard output; characters its encoding lacks become escapes, and a reader that
    left (`mab-doctor | head -1`) only ends the output, not the command."""
    tolerant_stdout()
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


def tolerant_stdout() -> None:
    """Make standard output write what its encoding cannot say (PYTHONIOENCODING=ascii, LANG=C) as
    backslash escapes instead of failing half-way through a report."""
    stream = sys.stdout
    if getattr(stream, "errors", None) in ("strict", "surrogateescape") and hasattr(stream, "reconfigure"):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):
            pass


def silence_stdout() -> None:
    """The reader of standard output left: later writes and the flush at exit go to /dev/null
    instead of raising BrokenPipeError again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def emit(opts: Options, make: Callable[[bool], str], output: str | None | object = ...) -> None:
    """Render with ``make(to_file)`` and send it to ``output`` (default: the first --output)."""
    target = opts.output if output is ... else output
    write(make(target is not None), target)  # type: ignore[arg-type]


def as_json(data) -> str:
    """Indented JSON with a final newline: how every command prints JSON."""
    import json

    return json.dumps(data, indent=2) + "\n"
