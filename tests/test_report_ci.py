"""CI renderers: JUnit XML (schema-valid, counts as in JSON), GitHub workflow commands, Markdown."""

from datetime import datetime, timezone
from pathlib import Path

import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped

from mab_doctor.core.check import Check
from mab_doctor.core.model import Fix, Outcome, Result, Status
from mab_doctor.report.model import Report, TargetInfo
from mab_doctor.report.renderers import Style, render, step_summary, verdict

XSD = Path(__file__).parent / "data" / "junit" / "JUnit.xsd"
NASTY = 'a < b & "c" \'d\' [red]markup[/red] é ✘ 日本 \x1b[31m bell\x07 nul\x00 \udce9'
# NASTY as every report shows it: what XML (or a log line) cannot carry made visible.
VISIBLE = 'a < b & "c" \'d\' [red]markup[/red] é ✘ 日本 \\x1b[31m bell\\x07 nul\\x00 \\xe9'
HOST = {"root": "/", "hostname": 'box<&"\x07>[bold]', "kernel_release": "6.1.0|x", "uname_machine": "x86_64",
        "oci_platform": "linux/amd64", "debian_arch": "amd64",
        "distro": {"id": "debian", "version": "12", "name": "Debian *12* | `bookworm`"},
        "known_environment": None, "known_environment_name": None}
TARGETS = [TargetInfo("linux/amd64", True, "--platform"), TargetInfo("linux/arm64", False, "--platform")]
WALL_S = 0.3  # the run's wall time: less than its checks' summed 0.5135 s, as they ran in parallel
FINISHED = datetime(2024, 5, 1, 12, 30, 45, 500000, tzinfo=timezone.utc)  # so it started at 12:30:45


def outcomes():
    host = Check("host-platform", "Host platform", "host", run=None)
    mount = Check("binfmt-mount", "binfmt_misc mount", "kernel", run=None)
    per = Check("per-target", "Emulation: arm, v7", "emulation", run=None, per_target=True)
    broken = Check("broken", "Broken check", "tools", run=None)
    fix = Fix("Mount binfmt_misc", [["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"]], True)
    return [
        Outcome(host, Result.ok("linux/amd64 [red]not markup[/red]"), 0.001),
        Outcome(mount, Result.fail(NASTY, details=("line one", "a | b"), remediation="Mount it\nthen retry",
                                   fix=fix), 0.0125),
        Outcome(per, Result.ok("runs", target="linux/amd64")),
        Outcome(per, Result.warn("100% slow: a, b\nsecond %0A line", target="linux/arm/v7",
                                 details=("::warning::injected",), remediation="wait, then: retry")),
        Outcome(per, Result.skip("no image | offline", target="linux/s390x")),
        Outcome(broken, Result.error("Traceback <boom>", details=("KeyError: 'x'",), remediation="Report it"), 0.5),
    ]


def report(items=None, exit_code=1, duration_s=WALL_S):
    return Report.build(outcomes() if items is None else items, HOST, TARGETS, exit_code, duration_s,
                        finished=FINISHED)


def junit(rep):
    return render(rep, "junit", Style())


def github(rep):
    return render(rep, "github", Style())


def markdown(rep):
    return render(rep, "markdown", Style())


# --- JUnit -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def junit_text():
    return junit(report())


def test_junit_validates_against_the_schema(junit_text, tmp_path):
    assert junit_text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    schema = xmlschema.XMLSchema(str(XSD))
    path = tmp_path / "report.xml"
    path.write_bytes(junit_text.encode("utf-8"))
    schema.validate(str(path))  # raises with the reason on any violation


def test_junit_counts_equal_the_json_counts(junit_text, tmp_path, validate_report):
    counts = {s.value: sum(o.status is s for o in outcomes()) for s in Status}  # counted here, independently
    assert counts == validate_report(render(report(), "json", Style()))["counts"]
    xml = JUnitXml.fromstring(junit_text.encode("utf-8"))
    (suite,) = list(xml)
    assert suite.name == "mab-doctor" and suite.hostname == HOST["hostname"].replace("\x07", "\\x07")
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (
        len(outcomes()), counts["fail"], counts["error"], counts["skip"])
    assert suite.timestamp == "2024-05-01T12:30:45"
    path = tmp_path / "r.xml"
    path.write_text(junit_text, encoding="utf-8")
    cases = list(list(JUnitXml.fromfile(str(path)))[0])
    kinds = [type(c.result[0]).__name__ if c.result else "pass" for c in cases]
    assert kinds == ["pass", "Failure", "pass", "pass", "Skipped", "Error"]
    assert sum(isinstance(c.result[0], Failure) for c in cases if c.result) == counts["fail"]
    assert sum(isinstance(c.result[0], Error) for c in cases if c.result) == counts["error"]
    assert sum(isinstance(c.result[0], Skipped) for c in cases if c.result) == counts["skip"]


def test_junit_cases_carry_names_messages_and_bodies(junit_text):
    cases = list(list(JUnitXml.fromstring(junit_text.encode("utf-8")))[0])
    assert [(c.classname, c.name) for c in cases][:4] == [
        ("host", "host-platform"), ("kernel", "binfmt-mount"), ("emulation", "per-target linux/amd64"),
        ("emulation", "per-target linux/arm/v7")]
    assert cases[1].time == pytest.approx(0.013, abs=1e-9)
    failure = cases[1].result[0]
    # Everything XML can hold survives as is; what it cannot (control characters, a stray
    # surrogate from a non-UTF-8 byte) arrives as a visible escape instead of breaking the file.
    assert failure.message == VISIBLE
    assert failure.type == "FAIL"
    assert failure.text.splitlines() == [
        "line one", "a | b", "remediation: Mount it", "then retry",
        "fix: sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"]
    assert cases[3].result == [] and "WARN: 100% slow: a, b" in cases[3].system_out
    assert "remediation: wait, then: retry" in cases[3].system_out
    assert cases[4].result[0].message == "no image | offline"
    assert cases[5].result[0].type == "ERROR" and cases[5].result[0].message == "Traceback <boom>"


def test_junit_time_is_the_wall_time_of_the_run(junit_text):
    # Checks run in parallel threads: their times add up to more than the run took.
    (suite,) = list(JUnitXml.fromstring(junit_text.encode("utf-8")))
    assert suite.time == pytest.approx(WALL_S) and junit_text.count('time="0.300"') == 2
    assert sum(case.time for case in suite) == pytest.approx(0.5135, abs=1e-3)
    slow = report(duration_s=2.5)  # checks waiting on each other: still the wall time
    assert 'testsuite name="mab-doctor" tests="6" failures="1" errors="1" skipped="1" time="2.500"' in junit(slow)


def test_junit_of_a_report_saved_without_its_wall_time_falls_back_to_the_sum():
    data = report().to_json()
    del data["duration_ms"], data["started_at"]
    text = junit(Report.from_json(data))
    assert 'time="0.513"' in text and 'timestamp="' in text


def test_junit_with_no_results_is_still_valid():
    empty = Report.build([], {}, [], 0, 0.0, finished=FINISHED)
    text = junit(empty)
    xmlschema.XMLSchema(str(XSD)).validate(text.encode("utf-8").decode("utf-8"))
    assert 'tests="0"' in text and 'hostname="localhost"' in text


# --- GitHub ----------------------------------------------------------------------------------

def unescape_data(s):
    # Same replacements in the same order as the runner's UnescapeData (`%25` last).
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(s):
    # The runner's UnescapeProperty: CR, LF, `:`, `,`, then `%25`.
    for enc, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        s = s.replace(enc, raw)
    return s


def parse_command(line):
    """What the runner's ActionCommand.TryParseV2 reads from one output line."""
    line = line.lstrip()
    assert line.startswith("::")
    end = line.index("::", 2)
    name, _, props = line[2:end].partition(" ")
    properties = {}
    for prop in filter(None, props.strip().split(",")):
        key, _, value = prop.partition("=")
        properties[key] = unescape_property(value)
    return name, properties, unescape_data(line[end + 2:])


def test_github_commands_round_trip():
    text = github(report())
    # The runner reads its output line by line, splitting at CR and LF only.
    lines = text.split("\n")
    assert lines.pop() == "" and not any("\r" in line for line in lines)
    assert len(lines) == 4 + 1  # fail, warn, skip, error + counts
    parsed = [parse_command(line) for line in lines]
    assert [p[0] for p in parsed] == ["error", "warning", "notice", "error", "notice"]
    name, props, data = parsed[1]
    assert props == {"title": "mab-doctor: Emulation: arm, v7 [linux/arm/v7]"}
    assert data == "100% slow: a, b\nsecond %0A line\n::warning::injected\nRemediation: wait, then: retry"
    assert parsed[0][2] == (VISIBLE + "\nline one\na | b\nRemediation: Mount it\nthen retry\n"
                            "fix: sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc")
    assert parsed[0][1] == {"title": "mab-doctor: binfmt_misc mount"}
    assert parsed[-1] == ("notice", {"title": "mab-doctor"}, "2 ok, 1 warn, 1 fail, 1 skip, 1 error, exit 1")


def test_github_ok_only_run_gives_just_the_counts():
    only_ok = [o for o in outcomes() if o.status.value == "ok"]
    assert github(report(only_ok, exit_code=0)) == (
        "::notice title=mab-doctor::2 ok, 0 warn, 0 fail, 0 skip, 0 error, exit 0\n")


def test_step_summary_is_the_markdown_report():
    assert step_summary(report()) == markdown(report())
    assert step_summary(report()).startswith("## mab-doctor ")


def test_verdict_line():
    assert verdict(report()) == "mab-doctor: FAIL: 1 fail, 1 error, 1 warn, 2 ok, 1 skip (exit 1)"
    only_ok = report([o for o in outcomes() if o.status.value == "ok"], exit_code=0)
    assert verdict(only_ok) == "mab-doctor: OK: 0 fail, 0 error, 0 warn, 2 ok, 0 skip (exit 0)"
    assert verdict(only_ok, 1).startswith("mab-doctor: FAIL: ") and verdict(only_ok, 1).endswith("(exit 1)")
    warned = report([o for o in outcomes() if o.status.value in ("ok", "warn")], exit_code=0)
    assert verdict(warned).startswith("mab-doctor: WARN: 0 fail, 0 error, 1 warn")


# --- Markdown --------------------------------------------------------------------------------

def test_markdown_table_rows_and_escaping():
    text = markdown(report())
    lines = text.splitlines()
    rows = [line for line in lines if line.startswith("| ")][2:]  # minus the header and rule rows
    assert len(rows) == len(outcomes())
    # Every row has exactly the 5 cells: no unescaped pipe splits one.
    assert all(row.replace("\\|", "").count("|") == 6 for row in rows)
    assert "no image \\| offline" in rows[4] and "a \\| b" not in text  # details stay out of the table
    assert "Mount it<br>then retry<br>fix: sudo mount -t binfmt\\_misc binfmt\\_misc" in rows[1]
    assert "**FAIL**" in rows[1]
    assert 'host box\\<\\&"\\\\x07\\>\\[bold\\]' in lines[2] and "Debian \\*12\\* \\| \\`bookworm\\`" in lines[2]
    assert lines[-1] == "**2 ok, 1 warn, 1 fail, 1 skip, 1 error, exit 1**"


def test_markdown_renders_as_one_table():
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(
        markdown(report()))
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == len(outcomes())
    assert body.count("<td>") == 5 * len(outcomes())
    assert "<strong>WARN</strong>" in body and "[red]not markup[/red]" in body
    assert "no image | offline" in body and "<boom>" not in html and "&lt;boom&gt;" in body
    assert 'box&lt;&amp;&quot;\\x07&gt;[bold]' in html  # host line: shown as typed, never as markup


# --- every format from a saved report --------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "json", "junit", "github", "markdown"])
def test_a_saved_report_renders_as_the_original(fmt, validate_report):
    # Host strings with control characters and a stray surrogate survive the JSON file unchanged.
    saved = render(report(), "json", Style())
    loaded = Report.from_json(validate_report(saved))
    assert render(loaded, fmt, Style(width=80)) == render(report(), fmt, Style(width=80))
