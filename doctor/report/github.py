"""GitHub Actions output: workflow commands that become annotations, plus the step summary.

FAIL and ERROR give `::error`, WARN `::warning`, SKIP `::notice` (a skipped check is a proof not made,
worth a glance but not a problem); OK gives nothing. The last line is a `::notice` with the counts.
No `file=` property: the findings are about the host, not a file of the repository, and GitHub shows
annotations without a file on the run's summary page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mab_doctor.core.model import Outcome, Status
from mab_doctor.report.junit import xml_text
from mab_doctor.report.markdown import counts_line, render_markdown

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


def title(outcome: Outcome) -> str:
    """`mab-doctor: <check title>` plus ` [target]` for a per-target result."""
    target = outcome.result.target
    return f"mab-doctor: {outcome.check.title}" + (f" [{target}]" if target else "")


def message(outcome: Outcome) -> str:
    """The summary, then each detail and the remediation on lines of their own."""
    res = outcome.result
    lines = [res.summary, *res.details]
    if res.remediation:
        lines.append(f"Remediation: {res.remediation}")
    return "\n".join(lines)


def render_github(outcomes: list[Outcome], host: dict[str, Any], targets: list[str], exit_code: int) -> str:
    """Workflow command lines, one a non-OK result and a final counts notice (ends with a newline)."""
    lines = [command(COMMAND[o.status], message(o), title=title(o))
             for o in outcomes if o.status in COMMAND]
    lines.append(command("notice", counts_line(outcomes, exit_code), title="mab-doctor"))
    return "\n".join(lines) + "\n"


def step_summary(outcomes: list[Outcome], host: dict[str, Any], targets: list[str], exit_code: int,
                 env: Mapping[str, str]) -> str | None:
    """The Markdown report when GITHUB_STEP_SUMMARY is set (the caller appends it there), else None."""
    if "GITHUB_STEP_SUMMARY" not in env:
        return None
    return render_markdown(outcomes, host, targets, exit_code)
