"""The JUnit XML report, for CI systems that show test results (GitLab, Jenkins, Azure, ...).

Layout: one <testsuites> holding one <testsuite name="mab-doctor"> with one <testcase> per result;
the check's category is the testcase classname, which is how GitLab and Jenkins group cases, so one
suite per category would only repeat it. The counts on the suite equal the JSON report's `counts`
(tests = every result, failures = fail, errors = error, skipped = skip). Checked in the tests against
Jenkins xunit-plugin's junit-10.xsd (tests/data/junit), the lenient schema CI readers follow.
"""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from mab_doctor import __version__
from mab_doctor.core.model import Outcome, Result, Status, count_statuses

# XML 1.0 cannot carry these at all, not even as &#NN; references (the Char production), so a
# control character or lone surrogate from a host file would make the whole report unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _visible(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        code -= 0xDC00
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_text(value: Any) -> str:
    """``value`` as text XML can hold: characters it forbids become visible \\xNN escapes."""
    return _NOT_XML.sub(lambda m: _visible(m.group()), str(value))


def case_name(outcome: Outcome) -> str:
    """`<check name>` or `<check name> <target>` for a per-target result."""
    target = outcome.result.target
    return f"{outcome.check.name} {target}" if target else outcome.check.name


def body_lines(result: Result) -> list[str]:
    """Details, then the remediation, then each fix command as a person would type it."""
    lines = list(result.details)
    if result.remediation:
        lines.append(f"remediation: {result.remediation}")
    if result.fix:
        root = "sudo " if result.fix.needs_root else ""
        lines.extend(f"fix: {root}{shlex.join(argv)}" for argv in result.fix.commands)
    return lines


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


def _testcase(suite: ET.Element, outcome: Outcome) -> None:
    res = outcome.result
    case = ET.SubElement(suite, "testcase", classname=xml_text(outcome.check.category),
                         name=xml_text(case_name(outcome)), time=f"{outcome.duration_s:.3f}")
    body = "\n".join(body_lines(res))
    if res.status in (Status.FAIL, Status.ERROR):
        tag = "failure" if res.status is Status.FAIL else "error"
        child = ET.SubElement(case, tag, message=xml_text(res.summary), type=res.status.name)
        child.text = xml_text(body) if body else None
    elif res.status is Status.SKIP:
        ET.SubElement(case, "skipped", message=xml_text(res.summary))
    elif res.status is Status.WARN:
        # JUnit has no warning state: a WARN does not fail the run (exit 0 without --strict), so it
        # passes here, and its summary and advice go where CI viewers show a case's output.
        out = ET.SubElement(case, "system-out")
        out.text = xml_text("\n".join([f"WARN: {res.summary}", *body_lines(res)]))


def render_junit(outcomes: list[Outcome], host: dict[str, Any], targets: list[str], exit_code: int,
                 *, now: datetime | None = None) -> str:
    """The JUnit XML report text (UTF-8 declaration, ends with a newline)."""
    counts = count_statuses(outcomes)
    total = f"{sum(o.duration_s for o in outcomes):.3f}"
    # UTC, ISO 8601 without a zone suffix: the form Ant writes and the stricter schemas demand.
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", name="mab-doctor", tests=str(len(outcomes)),
                      failures=str(counts["fail"]), errors=str(counts["error"]), time=total)
    suite = ET.SubElement(root, "testsuite", name="mab-doctor", tests=str(len(outcomes)),
                          failures=str(counts["fail"]), errors=str(counts["error"]),
                          skipped=str(counts["skip"]), time=total, timestamp=stamp,
                          hostname=xml_text(host.get("hostname") or "localhost"), id="0",
                          package="mab-doctor")
    props = ET.SubElement(suite, "properties")
    facts = [("mab-doctor.version", __version__), *_properties(host), ("targets", ",".join(targets)),
             ("exit_code", str(exit_code))]
    for name, value in facts:
        ET.SubElement(props, "property", name=xml_text(name), value=xml_text(value))
    for outcome in outcomes:
        _testcase(suite, outcome)
    ET.indent(root)
    # Declaration written by hand: tostring(encoding="unicode") would name the locale's encoding.
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
