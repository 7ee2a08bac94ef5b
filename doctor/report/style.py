"""How a renderer lays a report out: the Style value every renderer takes."""

from __future__ import annotations

from mab_doctor.core.record import record


DEFAULT_WIDTH = 100  # columns of a text report when Style.width is None (a file, a pipe)


def unicode_ok(encoding: str | None) -> bool:
    """Whether the status symbols and the arrows of the text report can be written in ``encoding``."""
    try:
        "✔✘‼·→—".encode(encoding or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


@record
class Style:
    """How to render: colour codes or none, width in columns (text), symbols or ASCII, -v, -q."""

    color: bool = False
    width: int | None = None
    unicode: bool = True
    verbose: bool = False
    quiet: bool = False
