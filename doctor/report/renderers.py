"""Renderers by format name, the Style they take, and the CI verdict line and GitHub step summary."""

from __future__ import annotations

import importlib
from typing import Callable

from mab_doctor.report.formats import FORMATS, RENDERER_MODULES  # noqa: F401  (the registry's face)
from mab_doctor.report.model import Report
from mab_doctor.report.style import DEFAULT_WIDTH, Style, unicode_ok  # noqa: F401  (the registry's face)

Renderer = Callable[[Report, Style], str]


def renderer(name: str) -> Renderer:
    """The renderer of a format name (FORMATS); ValueError naming the known ones otherwise."""
    try:
        module = RENDERER_MODULES[name]
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
