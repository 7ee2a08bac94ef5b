"""The Markdown report: a GitHub step summary (or any Markdown viewer) with one table row a result."""

from __future__ import annotations

import re
import shlex
from typing import Any

from mab_doctor import __version__
from mab_doctor.core.model import Outcome, Status, count_statuses
from mab_doctor.report.junit import xml_text

# Characters that start Markdown or inline HTML anywhere in a line. Host strings and summaries are
# plain text (a hostname like `box[bold]` or `<x>`), so each one is backslash-escaped (CommonMark
# allows that before any ASCII punctuation); `&` too, or `&copy;` would turn into an entity.
_MARKUP = re.compile(r"([\\`*_\[\]<>|~&])")
# Counts line order, the same as the text report's footer.
ORDER = (Status.OK, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR)


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


def counts_line(outcomes: list[Outcome], exit_code: int) -> str:
    """`2 ok, 1 warn, 1 fail, 0 skip, 0 error, exit 1` (plain text, shared with the GitHub renderer)."""
    counts = count_statuses(outcomes)
    return ", ".join(f"{counts[s.value]} {s.value}" for s in ORDER) + f", exit {exit_code}"


def _host_line(host: dict[str, Any], targets: list[str]) -> str:
    distro = host.get("distro") or {}
    facts = [f"host {host.get('hostname') or '?'}", distro.get("name") or "unknown distro",
             f"kernel {host.get('kernel_release') or '?'} ({host.get('uname_machine') or '?'})",
             f"native {host.get('oci_platform') or 'unknown'}", f"targets {', '.join(targets) or '-'}"]
    if host.get("known_environment_name"):
        facts.append(f"known environment {host['known_environment_name']}")
    return " · ".join(md_escape(f) for f in facts)


def _remediation(outcome: Outcome) -> str:
    res = outcome.result
    if res.status is Status.OK:
        return ""
    lines = [res.remediation] if res.remediation else []
    if res.fix:  # commands in code spans would need their own backtick escaping; plain text is safer
        root = "sudo " if res.fix.needs_root else ""
        lines.extend(f"fix: {root}{shlex.join(argv)}" for argv in res.fix.commands)
    return md_cell("\n".join(lines))


def render_markdown(outcomes: list[Outcome], host: dict[str, Any], targets: list[str],
                    exit_code: int) -> str:
    """The Markdown report text (heading, host line, results table, counts line)."""
    out = [f"## mab-doctor {__version__}", "", _host_line(host, targets), "",
           "| status | check | target | summary | remediation |",
           "| --- | --- | --- | --- | --- |"]
    for o in outcomes:
        cells = [f"**{o.status.name}**", md_cell(o.check.title), md_cell(o.result.target or "-"),
                 md_cell(o.result.summary), _remediation(o)]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", f"**{counts_line(outcomes, exit_code)}**"]
    return "\n".join(out) + "\n"
