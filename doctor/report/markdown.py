"""The Markdown report: a GitHub step summary (or any Markdown viewer) with one table row a result."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mab_doctor.core.model import Status
from mab_doctor.report.escape import xml_text
from mab_doctor.report.model import Report, Row

if TYPE_CHECKING:
    from mab_doctor.report.style import Style

# Characters that start Markdown or inline HTML anywhere in a line. Host strings and summaries are
# plain text (a hostname like `box[bold]` or `<x>`), so each one is backslash-escaped (CommonMark
# allows that before any ASCII punctuation); `&` too, or `&copy;` would turn into an entity.
_MARKUP = re.compile(r"([\\`*_\[\]<>|~&])")


def md_escape(value: Any) -> str:
    """Plain text as inline Markdown: markup characters escaped, line breaks made spaces."""
    # Control characters and stray surrogates as visible \xNN too (the XML rule): a NUL would
    # become U+FFFD in the viewer, and a surrogate cannot be written to the summary file at all.
    text = _MARKUP.sub(r"\\\1", xml_text(value))
    return " ".join(text.splitlines())


def md_cell(value: Any) -> str:
    """Plain text for a table cell: escaped like md_escape, line breaks kept as <br>."""
    # A raw newline would end the table row; GitHub renders <br> inside cells as a break.
    lines = [md_escape(line) for line in str(value).splitlines()]
    return "<br>".join(lines)


def _host_line(report: Report) -> str:
    host = report.host
    facts = [f"host {host.hostname or '?'}", host.distro_name or "unknown distro",
             f"kernel {host.kernel_release or '?'} ({host.uname_machine or '?'})",
             f"native {host.oci_platform or 'unknown'}", f"targets {', '.join(report.platforms) or '-'}"]
    if host.known_environment_name:
        facts.append(f"known environment {host.known_environment_name}")
    return " · ".join(md_escape(f) for f in facts)


def _remediation(row: Row) -> str:
    if row.status is Status.OK:
        return ""
    # Commands in code spans would need their own backtick escaping; plain text is safer.
    return md_cell("\n".join(([row.remediation] if row.remediation else []) + row.fix_lines()))


def render(report: Report, style: "Style | None" = None) -> str:
    """The Markdown report text (heading, host line, results table, counts line)."""
    out = [f"## mab-doctor {md_escape(report.version)}", "", _host_line(report), "",
           "| status | check | target | summary | remediation |",
           "| --- | --- | --- | --- | --- |"]
    for row in report.rows:
        cells = [f"**{row.status.name}**", md_cell(row.title), md_cell(row.target or "-"),
                 md_cell(row.summary), _remediation(row)]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", f"**{report.counts_line()}**"]
    return "\n".join(out) + "\n"
