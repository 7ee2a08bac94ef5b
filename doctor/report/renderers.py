"""Renderers by format name, the Style they take, and the CI verdict line and GitHub step summary."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from mab_doctor.report.model import Report

# Format name -> module whose `render(report, style) -> str` writes it. Imported only when asked
# for, so a JSON run never loads rich and a text run never loads the XML writer.
_MODULES = {
    "text": "mab_doctor.report.text",
    "json": "mab_doctor.report.jsonfmt",
    "junit": "mab_doctor.report.junit",
    "github": "mab_doctor.report.github",
    "markdown": "mab_doctor.report.markdown",
}
FORMATS = tuple(_MODULES)
DEFAULT_WIDTH = 100  # columns of a text report when Style.width is None (a file, a pipe)


def unicode_ok(encoding: str | None) -> bool:
    """Whether the status symbols and the arrows of the text report can be written in ``encoding``."""
    try:
        "✔✘‼·→—".encode(encoding or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


@dataclass(frozen=True)
class Style:
    """How to render: colour codes or none, width in columns (text), symbols or ASCII, -v, -q."""

    color: bool = False
    width: int | None = None
    unicode: bool = True
    verbose: bool = False
    quiet: bool = False

    @classmethod
    def for_console(cls, console: Any, *, verbose: bool = False, quiet: bool = False) -> Style:
        """The style a rich Console would print in: its colour system, width and encoding."""
        return cls(color=console.color_system is not None and not console.no_color, width=console.width,
                   unicode=unicode_ok(console.encoding), verbose=verbose, quiet=quiet)


Renderer = Callable[[Report, Style], str]


def renderer(name: str) -> Renderer:
    """The renderer of a format name (FORMATS); ValueError naming the known ones otherwise."""
    try:
        module = _MODULES[name]
    except KeyError:
        raise ValueError(f"unknown report format {name!r} (known: {', '.join(FORMATS)})") from None
    return importlib.import_module(module).render


def render(report: Report, name: str, style: Style | None = None) -> str:
    """``report`` in format ``name``."""
    return renderer(name)(report, style or Style())


def step_summary(report: Report) -> str:
    """The Markdown to append to $GITHUB_STEP_SUMMARY (the caller checks it is set and appends)."""
    return render(report, "markdown")


def verdict(report: Report, code: int | None = None) -> str:
    """The one-line final verdict of CI mode: `mab-doctor: FAIL: 1 fail, 0 error, ... (exit 1)`.

    ``code`` overrides the report's exit code (a `--fix` the user declined exits 1 on a passing report)."""
    code = report.exit_code if code is None else code
    counts = report.counts
    word = "FAIL" if code else ("WARN" if counts["warn"] else "OK")
    return (f"mab-doctor: {word}: {counts['fail']} fail, {counts['error']} error, {counts['warn']} warn, "
            f"{counts['ok']} ok, {counts['skip']} skip (exit {code})")
