"""The colourless text report is written without rich, byte for byte what rich prints, and rich takes over where it must."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import HOSTS
from mab_doctor.cli import main
from mab_doctor.core.model import Status
from mab_doctor.report.lines import Table, expand_tabs, plain_line, plain_table, plain_text
from mab_doctor.report.model import HostSummary, Report, Row, TargetInfo
from mab_doctor.report.style import Style
from mab_doctor.report.text import layout, render

FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HOST = HostSummary(root="/", hostname="box", kernel_release="6.1.0", uname_machine="x86_64",
                   oci_platform="linux/amd64", debian_arch="amd64", distro_name="Debian GNU/Linux 12",
                   known_environment_name="Debian 12 (bookworm)")
TARGETS = (TargetInfo("linux/amd64", True, "--platform"), TargetInfo("linux/arm64", False, "--platform"),
           TargetInfo("linux/s390x", False, "--platform", "impossible"))
MOUNT = {"description": "mount", "needs_root": True,
         "commands": [["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"]]}


def row(name, status, summary="", target=None, category="emulation", **kw):
    return Row(name=name, title=name.replace("-", " ").capitalize(), category=category, source="builtin",
               target=target, status=status, summary=summary, **kw)


def simple_report(host=HOST, targets=TARGETS, extra=()) -> Report:
    rows = [row("host-platform", Status.OK, "linux/amd64", category="host", details=("seen in uname",)),
            row("binfmt-mount", Status.FAIL, "binfmt_misc is not mounted " * 4, category="kernel",
                details=("", "/proc/sys/fs/binfmt_misc is empty"), remediation="Mount it " * 12, fix=MOUNT),
            row("handler", Status.OK, "native", target="linux/amd64", data={"grid": {"handler": "status"}}),
            row("handler", Status.WARN, "qemu-aarch64 is old", target="linux/arm64",
                data={"grid": {"handler": True, "runs in chroot": None}}),
            row("handler", Status.ERROR, "crashed", target="linux/s390x", data={"grid": {"handler": False}}),
            row("probe", Status.SKIP, "no engine", target="linux/arm64"),
            row("tools", Status.SKIP, "no docker here", category="tools"), *extra]
    return Report("0.1.0", host, targets, tuple(rows), 2)


def grid_width(report: Report, style: Style) -> int:
    """Columns the grid takes unshrunk: widest cell of each column, two blanks between columns."""
    from rich.cells import cell_len

    table = next(b for b in layout(report, style) if isinstance(b, Table))
    cells = [table.header, *([text for text, _style in r] for r in table.rows)]
    return sum(max(cell_len(c) for c in col) for col in zip(*cells)) + 2 * (len(table.header) - 1)


def same_both_ways(report: Report, style: Style) -> bool:
    """Whether the plain writer had the whole report (asserting it equals rich's either way)."""
    assert render(report, style) == render(report, style, via_rich=True), style
    return plain_text(layout(report, style), style.width) is not None


def fixture_reports() -> list[Report]:
    reports = []
    for tree in sorted(p for p in HOSTS.iterdir() if p.is_dir()):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            main(["--root", str(tree), "--format", "json", "--no-plugins"])
        reports.append(Report.from_json(json.loads(out.getvalue())))
    return reports


@pytest.fixture(scope="module")
def host_reports() -> list[Report]:
    return fixture_reports()


def test_plain_equals_rich_at_every_width_and_takes_over_exactly_where_the_grid_fits():
    report = simple_report()
    for unicode in (True, False):
        natural = grid_width(report, Style(unicode=unicode))
        assert natural == 11 + 20 + 7 + 14 + 6 + 4 * 2  # widest: linux/s390x, no (cannot run here), ...
        for width in range(20, 201):
            style = Style(width=width, unicode=unicode, verbose=width % 2 == 0, quiet=width % 5 == 0)
            plain = same_both_ways(report, style)
            assert plain == (style.quiet or width >= natural), width


def test_every_fixture_host_is_written_the_same_both_ways(host_reports):
    assert len(host_reports) >= 10
    taken = 0
    for report in host_reports:
        natural = grid_width(report, Style())
        for width in sorted({*range(20, 201, 30), natural - 1, natural, natural + 1} - {19}):
            for unicode in (True, False):
                for verbose in (True, False):
                    style = Style(width=width, unicode=unicode, verbose=verbose)
                    taken += same_both_ways(report, style)
                    assert plain_text(layout(report, style), width) is not None or width < natural
        for width in (40, 100):
            taken += same_both_ways(report, Style(width=width, quiet=True))
    assert taken > 200


def test_the_plain_lines_are_what_a_reader_expects():
    out = render(simple_report(), Style(width=66))
    lines = out.split("\n")
    assert lines[6:10] == ["target       native here           handler  runs in chroot  Probe",
                           "linux/amd64  yes                   ✔ OK     ·               ·",
                           "linux/arm64  no (needs emulation)  ✔ OK     ·               - SKIP",
                           "linux/s390x  no (cannot run here)  ✘ FAIL   ·               ·"]
    assert "        fix: sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc" in lines
    assert lines[-2:] == ["== 2 ok, 1 warn, 1 fail, 2 skip, 1 error == exit 2", ""]


def test_tabs_stop_every_eight_cells_counted_as_rich_counts_them():
    assert expand_tabs("a\tb") == "a       b"
    assert expand_tabs("abcdefg\tb") == "abcdefg b"
    assert expand_tabs("abcdefgh\t") == "abcdefgh        "
    assert expand_tabs("宽\tz") == "宽      z"  # two cells wide
    # rich's cell_len skips what follows a joiner: the blank the tab becomes counts 0, 2 cells, 6 to go.
    assert expand_tabs("ab\u200d\tc") == "ab\u200d" + " " * 7 + "c"
    assert plain_line((("  ", ""), ("x\n\ty", "dim"))) == "  x\n        y\n"
    host = HostSummary(hostname="a\tb", distro_name="D")  # stops count from the line's start: "host a" is 6
    assert render(simple_report(host), Style(width=100)).split("\n")[1] == "host a  b · D · kernel ? (?)"


def test_what_rich_would_change_is_left_to_rich():
    assert plain_line((("bell\x07", ""),)) is None
    table = Table(("target", "native here"), ((("linux/arm64", ""), ("yes", "green")),))
    assert plain_table(table, 24) == "target       native here\nlinux/arm64  yes        \n"
    assert plain_table(table, 23) is None  # one cell short: rich would wrap a column
    for odd in ("a\tb", "a\u2028b", "x\u200dy", "x\ufe0f", "trailing ", "cr\r"):
        assert plain_table(Table(("target", odd), ()), 200) is None, odd
    for invisible in ("\u200b", "\ufeff", "\u0301"):  # a whole column of zero width: rich drops its text
        assert plain_table(Table(("target", invisible), ((("linux/amd64", ""), ("", "")),)), 200) is None


PIECES = [*"ab -/:[]`\t\n\r\x1b\x00\x7f\x9b", "宽", "👍", "🏽", "\u0301", "\u200d", "\ufe0f", "\u200b", "\u2028",
          "\u3000", "\udc80", "é", "·", "w" * 30, ":smile:", "[bold]"]
HOSTILE = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)


@st.composite
def hostile_reports(draw) -> tuple[Report, Style]:
    text = lambda: draw(HOSTILE)  # noqa: E731
    platforms = draw(st.lists(st.sampled_from(["linux/amd64", "linux/arm/v7"]) | HOSTILE, max_size=3, unique=True))
    targets = tuple(TargetInfo(p, draw(st.booleans()), text(), draw(st.sampled_from(["", "impossible"])))
                    for p in platforms)
    host = HostSummary(hostname=text(), distro_name=text(), kernel_release=text(), root=text(),
                       known_environment_name=text(), error=draw(st.none() | HOSTILE))
    rows = [Row(name=text(), title=text(), category=text(), source="x", target=draw(st.sampled_from([None, *platforms])),
                status=draw(st.sampled_from(list(Status))), summary=text(), details=tuple(draw(st.lists(HOSTILE, max_size=3))),
                remediation=draw(st.none() | HOSTILE), fix={"commands": [draw(st.lists(HOSTILE, max_size=3))]},
                data={"grid": {draw(st.sampled_from(["runs"]) | HOSTILE): draw(st.sampled_from([True, False, None, "status"]))}})
            for _ in range(draw(st.integers(0, 4)))]
    style = Style(width=draw(st.integers(20, 200)), unicode=draw(st.booleans()), verbose=draw(st.booleans()),
                  quiet=draw(st.booleans()))
    return Report(text(), host, targets, tuple(rows), 1), style


@FUZZ
@given(hostile_reports())
def test_hostile_host_strings_come_out_the_same_both_ways(case):
    report, style = case
    same_both_ways(report, style)


def test_the_plain_path_imports_no_rich_layout_module():
    code = ("import sys\n"
            "from mab_doctor.report.model import HostSummary, Report, TargetInfo\n"
            "from mab_doctor.report.renderers import Style, render\n"
            "r = Report('1', HostSummary(hostname='h'), (TargetInfo('linux/amd64', True),), (), 0)\n"
            "out = render(r, 'text', Style(width=80))\n"
            "assert out.split(chr(10))[7] == 'linux/amd64  yes', out\n"
            "print(sorted(m for m in ('rich.console', 'rich.text', 'rich.table') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[]\n", done.stderr
