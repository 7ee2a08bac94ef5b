"""GitHub Actions output: workflow commands that become annotations.

FAIL and ERROR give `::error`, WARN `::warning`, SKIP `::notice` (a skipped check is a proof not made,
worth a glance but not a problem); OK gives nothing. The last line is a `::notice` with the counts.
No `file=` property: the findings are about the host, not a file of the repository, and GitHub shows
annotations without a file on the run's summary page. The step summary is the Markdown report
(renderers.step_summary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mab_doctor.core.model import Status
from mab_doctor.report.escape import xml_text
from mab_doctor.report.model import Report, Row

if TYPE_CHECKING:
    from mab_doctor.report.style import Style

COMMAND = {Status.FAIL: "error", Status.ERROR: "error", Status.WARN: "warning", Status.SKIP: "notice"}


# Escaping as @actions/core does it (actions/toolkit packages/core/src/command.ts, escapeData and
# escapeProperty), which the runner undoes (actions/runner src/Runner.Common/ActionCommand.cs,
# UnescapeData/UnescapeProperty, `%25` last). `%` goes first so no escape is escaped twice. The
# runner reads one line a command, so an unescaped newline would end it and let the rest of a host
# string be read as a command of its own.
def escape_data(text: str) -> str:
    """A command's message: `%`, CR and LF percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: as escape_data, plus `:` and `,` (they delimit properties and data)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str) -> str:
    """One workflow command line, `::name key=value,key=value::message`, escaped."""
    # Before escaping, control characters and stray surrogates from host strings become visible
    # \xNN (as in the JUnit report): an ESC would recolour the log, a surrogate cannot be printed.
    props = ",".join(f"{key}={escape_property(xml_text(value))}"
                     for key, value in properties.items() if value)
    return f"::{name}{' ' + props if props else ''}::{escape_data(xml_text(message))}"


def message(row: Row) -> str:
    """The summary, then each detail, the remediation and each `fix:` command on lines of their own."""
    lines = [row.summary, *row.details]
    if row.remediation:
        lines.append(f"Remediation: {row.remediation}")
    return "\n".join(lines + row.fix_lines())


def render(report: Report, style: "Style | None" = None) -> str:
    """Workflow command lines, one a non-OK result and a final counts notice (ends with a newline)."""
    lines = [command(COMMAND[row.status], message(row), title=f"mab-doctor: {row.label}")
             for row in report.rows if row.status in COMMAND]
    lines.append(command("notice", report.counts_line(), title="mab-doctor"))
    return "\n".join(lines) + "\n"
