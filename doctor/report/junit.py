"""The JUnit XML report, for CI systems that show test results (GitLab, Jenkins, Azure, ...).

Layout: one <testsuites> holding one <testsuite name="mab-doctor"> with one <testcase> per result;
the check's category is the testcase classname, which is how GitLab and Jenkins group cases, so one
suite per category would only repeat it. The counts on the suite equal the JSON report's `counts`
(tests = every result, failures = fail, errors = error, skipped = skip). Checked in the tests against
Jenkins xunit-plugin's junit-10.xsd (tests/data/junit), the lenient schema CI readers follow.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mab_doctor.core.model import Status
from mab_doctor.report.escape import xml_text
from mab_doctor.report.model import Report, Row

if TYPE_CHECKING:
    from mab_doctor.report.style import Style


def case_name(row: Row) -> str:
    """`<check name>` or `<check name> <target>` for a per-target result."""
    return f"{row.name} {row.target}" if row.target else row.name


def body_lines(row: Row) -> list[str]:
    """Details, then the remediation, then each fix command as a person would type it."""
    lines = list(row.details)
    if row.remediation:
        lines.append(f"remediation: {row.remediation}")
    return lines + row.fix_lines()


def _properties(host: Mapping[str, Any], prefix: str = "host.") -> list[tuple[str, str]]:
    # Host facts flattened to dotted names (host.distro.name): <property> values are flat strings.
    pairs: list[tuple[str, str]] = []
    for key, value in host.items():
        if isinstance(value, Mapping):
            pairs.extend(_properties(value, f"{prefix}{key}."))
        elif value is not None:
            text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            pairs.append((f"{prefix}{key}", text))
    return pairs


def _testcase(suite: ET.Element, row: Row) -> None:
    case = ET.SubElement(suite, "testcase", classname=xml_text(row.category), name=xml_text(case_name(row)),
                         time=f"{row.duration_ms / 1000:.3f}")
    body = "\n".join(body_lines(row))
    if row.status in (Status.FAIL, Status.ERROR):
        tag = "failure" if row.status is Status.FAIL else "error"
        child = ET.SubElement(case, tag, message=xml_text(row.summary), type=row.status.name)
        child.text = xml_text(body) if body else None
    elif row.status is Status.SKIP:
        ET.SubElement(case, "skipped", message=xml_text(row.summary))
    elif row.status is Status.WARN:
        # JUnit has no warning state: a WARN does not fail the run (exit 0 without --strict), so it
        # passes here, and its summary and advice go where CI viewers show a case's output.
        out = ET.SubElement(case, "system-out")
        out.text = xml_text("\n".join([f"WARN: {row.summary}", *body_lines(row)]))


def _timestamp(report: Report) -> str:
    # UTC, ISO 8601 without a zone suffix: the form Ant writes and the stricter schemas demand.
    # A report saved without its start time gets the time it is rendered.
    if report.started_at:
        return xml_text(report.started_at.removesuffix("Z"))
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def render(report: Report, style: "Style | None" = None) -> str:
    """The JUnit XML report text (UTF-8 declaration, ends with a newline)."""
    counts, tests = report.counts, str(len(report.rows))
    # The run's wall time: checks run in parallel threads, so the sum of their times overstates it.
    # Only a report saved without its wall time falls back to that sum.
    wall_ms = report.duration_ms if report.duration_ms is not None else sum(r.duration_ms for r in report.rows)
    total = f"{wall_ms / 1000:.3f}"
    root = ET.Element("testsuites", name="mab-doctor", tests=tests, failures=str(counts["fail"]),
                      errors=str(counts["error"]), time=total)
    suite = ET.SubElement(root, "testsuite", name="mab-doctor", tests=tests, failures=str(counts["fail"]),
                          errors=str(counts["error"]), skipped=str(counts["skip"]), time=total,
                          timestamp=_timestamp(report), hostname=xml_text(report.host.hostname or "localhost"),
                          id="0", package="mab-doctor")
    props = ET.SubElement(suite, "properties")
    facts = [("mab-doctor.version", report.version), *_properties(report.host.to_json()),
             ("targets", ",".join(report.platforms)), ("exit_code", str(report.exit_code))]
    for name, value in facts:
        ET.SubElement(props, "property", name=xml_text(name), value=xml_text(value))
    for row in report.rows:
        _testcase(suite, row)
    ET.indent(root)
    # Declaration written by hand: tostring(encoding="unicode") would name the locale's encoding.
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
