"""The Report value (build, JSON round trip, loading saved reports) and the rich text report."""

import json
import time
from datetime import datetime, timezone

import pytest

from helpers import host
from mab_doctor.core.check import Check
from mab_doctor.core.model import Fix, Outcome, Result, Status, exit_code
from mab_doctor.core.runner import run_checks
from mab_doctor.host.hostinfo import host_summary, native_map
from mab_doctor.report.grid import Column, target_grid
from mab_doctor.report.model import SCHEMA_ID, Report, TargetInfo, fix_lines
from mab_doctor.report.renderers import FORMATS, Style, render, renderer

HOST = {"root": "/", "hostname": "box[bold]", "kernel_release": "6.1.0", "uname_machine": "x86_64",
        "oci_platform": "linux/amd64", "debian_arch": "amd64",
        "distro": {"id": "debian", "version": "12", "name": "Debian GNU/Linux 12 (bookworm)"},
        "known_environment": "debian-12", "known_environment_name": "Debian 12 (bookworm)"}
TARGETS = [TargetInfo("linux/amd64", True, "--platform"), TargetInfo("linux/arm64", False, "--platform")]
FINISHED = datetime(2024, 5, 1, 12, 30, 46, tzinfo=timezone.utc)
MOUNT = ["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"]
# Longer than any terminal line: it must still come out on one line, whole.
REGISTER = ["sh", "-c", 'printf "%s\\n" "$1" > /proc/sys/fs/binfmt_misc/register', "sh",
            r":qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
            r":\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
            ":/usr/bin/qemu-aarch64-static:F"]
PROSE = ("The handler is registered only in the running kernel, so the next reboot drops it and builds for "
         "this target fail again with exec format error; persist it with `sudo mab-doctor --fix --persist` "
         "and check again.")


def outcomes():
    hostp = Check("host-platform", "Host platform", "host", run=None)
    mount = Check("binfmt-mount", "binfmt_misc mount", "kernel", run=None)
    per = Check("per-target", "Per target", "emulation", run=None, per_target=True)
    tools = Check("tools", "Tools", "tools", run=None)
    fix = Fix("Mount binfmt_misc", [MOUNT], True)
    return [
        Outcome(hostp, Result.ok("linux/amd64 [red]not markup[/red]", details=("hidden unless -v",)), 0.001),
        Outcome(mount, Result.fail("binfmt_misc is not mounted", details=("[bold]evidence[/bold]",),
                                   remediation="Mount it", fix=fix), 0.002),
        Outcome(per, Result.ok("runs", target="linux/amd64")),
        Outcome(per, Result.warn("slow", target="linux/arm64", remediation="wait")),
        Outcome(tools, Result.skip("no docker here")),
    ]


def report(items=None, host_dict=HOST, targets=TARGETS, duration_s=0.85):
    items = outcomes() if items is None else items
    return Report.build(items, host_dict, targets, exit_code(items), duration_s, finished=FINISHED)


def text(rep=None, **style):
    return render(rep or report(), "text", Style(**{"width": 120, **style}))


# --- text ------------------------------------------------------------------------------------

def test_text_report_layout():
    out = text()
    lines = out.splitlines()
    assert lines[0] == "mab-doctor " + __import__("mab_doctor").__version__
    assert "host box[bold] · Debian GNU/Linux 12 (bookworm) · kernel 6.1.0 (x86_64)" in out
    assert "targets linux/amd64, linux/arm64 (from --platform)" in out
    assert "known environment Debian 12 (bookworm)" in out
    assert any(l.startswith("linux/arm64") and "no (needs emulation)" in l and "! WARN" in l for l in lines)
    assert "✔ OK    Host platform — linux/amd64 [red]not markup[/red]" in out  # escaped, not interpreted
    assert "hidden unless -v" not in out
    assert "        · [bold]evidence[/bold]" in lines
    assert "        → Mount it" in lines
    assert "        fix: sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc" in lines
    assert "! WARN  Per target [linux/arm64] — slow" in lines
    assert lines[-1] == "== 2 ok, 1 warn, 1 fail, 1 skip, 0 error == exit 1"
    assert lines.index("HOST") < lines.index("KERNEL") < lines.index("EMULATION") < lines.index("TOOLS")
    assert "\x1b" not in out and not any(l.endswith(" ") for l in lines)


def test_verbose_shows_ok_details():
    assert "hidden unless -v" in text(verbose=True)


def test_quiet_shows_only_warn_fail_error_rows_and_the_footer():
    lines = text(quiet=True).splitlines()
    badges = [l.split()[1] for l in lines if l and l[0] in "✔!✘-‼"]
    assert badges == ["FAIL", "WARN"]
    assert not any("Host platform" in l or "no docker here" in l or "mab-doctor " in l or "native here" in l
                   for l in lines)
    assert lines[-1].startswith("== 2 ok, 1 warn, 1 fail, 1 skip")


def test_colour_only_when_asked_and_host_control_characters_stay_visible():
    nasty = {**HOST, "hostname": "box\x1b]0;pwned\x07\x9b31m", "distro": {"name": "deb\rian"}}
    plain, coloured = text(report(host_dict=nasty)), text(report(host_dict=nasty), color=True)
    assert "\x1b" not in plain and "\x1b[1;31m✘ FAIL" in coloured
    for out in (plain, coloured):
        assert "box\\x1b]0;pwned\\x07\\x9b31m" in out and "deb\\x0dian" in out
        assert "\x1b]" not in out and "\x9b" not in out and "\r" not in out


def test_ascii_style_has_no_symbols():
    out = text(unicode=False)
    assert "+ OK    Host platform - linux/amd64" in out and "x FAIL  binfmt_misc mount" in out
    out.encode("ascii")  # raises on any symbol left


def test_one_grid_column_per_check_whatever_the_row():
    persist = Check("binfmt-persist", "Handler survives reboot", "emulation", run=None, per_target=True)
    probe = Check("binfmt-exec", "Execution probe", "emulation", run=None, per_target=True)
    rows = [
        Outcome(persist, Result.ok("native: nothing to persist", target="linux/amd64")),  # no grid marks
        Outcome(persist, Result.warn("gone after reboot", target="linux/arm64", remediation="persist",
                                     data={"grid": {"persists": "status"}})),
        Outcome(persist, Result.ok("comes back", target="linux/arm/v7", data={"grid": {"persists": "status"}})),
        Outcome(probe, Result.ok("ran", target="linux/amd64", data={"grid": {"runs": True, "in container": True}})),
        Outcome(probe, Result.ok("ran", target="linux/arm64", data={"grid": {"runs": True, "in container": None}})),
        Outcome(probe, Result.skip("no probe program", target="linux/arm/v7")),
    ]
    targets = [*TARGETS, TargetInfo("linux/arm/v7", False, "--platform")]
    rep = report(rows, targets=targets)
    grid = target_grid(rep)
    assert grid.columns == (Column("binfmt-persist", "persists"), Column("binfmt-exec", "runs"),
                            Column("binfmt-exec", "in container"))
    persists, runs, inside = grid.columns
    assert [grid.mark(persists, t.platform) for t in targets] == [Status.OK, Status.WARN, Status.OK]
    assert [grid.mark(runs, t.platform) for t in targets] == [Status.OK, Status.OK, Status.SKIP]
    assert [grid.mark(inside, t.platform) for t in targets] == [Status.OK, None, None]
    lines = text(rep).splitlines()
    head = next(l for l in lines if l.startswith("target "))
    assert head.split() == ["target", "native", "here", "persists", "runs", "in", "container"]
    assert "Handler survives reboot" not in head
    col = head.index("persists")
    amd64, arm64 = (next(l for l in lines if l.startswith(t)) for t in ("linux/amd64", "linux/arm64"))
    assert amd64[col:].startswith("✔ OK") and arm64[col:].startswith("! WARN")


def test_80_columns_keep_commands_whole_and_prose_indented():
    persist = Check("binfmt-persist", "Handler survives reboot", "emulation", run=None, per_target=True)
    fix = Fix("Register and mount", [MOUNT, REGISTER], True)
    rep = report([Outcome(persist, Result.warn("registered only in the running kernel: gone after the next "
                                               "reboot, builds fail again", target="linux/arm64",
                                               details=(PROSE,), remediation=PROSE, fix=fix))])
    lines = text(rep, width=80).splitlines()
    for line in fix_lines(rep.rows[0].fix):  # each command whole, on a line of its own
        assert "        " + line in lines
    assert max(len(l) for l in lines) > 80  # the register command is longer than the terminal
    prose = [l for l in lines if not l.lstrip().startswith("fix: ")]
    assert all(len(l) <= 80 for l in prose)
    first = lines.index(next(l for l in lines if l.startswith("! WARN")))
    assert lines[first + 1].startswith(" " * 8) and not lines[first + 1].startswith(" " * 9)
    advice = lines.index(next(l for l in lines if l.startswith("        → The handler")))
    assert lines[advice + 1].startswith(" " * 10) and lines[advice + 1][10] != " "  # hangs under the text
    assert any("`sudo mab-doctor --fix --persist`" in l for l in lines[advice:advice + 4])  # never split
    detail = lines.index(next(l for l in lines if l.startswith("        · The handler")))
    assert lines[detail + 1].startswith(" " * 10) and lines[detail + 1][10] != " "


# --- the Report value and JSON ----------------------------------------------------------------

def real_run():
    """A run of fake checks through the real runner, over a fixture host, as the command layer does it."""
    def os_name(ctx):
        name = (ctx.read_text("/etc/os-release") or "").splitlines()[0]
        return Result.warn(f"read {name}", details=("from /etc/os-release",), remediation="look",
                           fix=Fix("Mount", [MOUNT], True), data={"lines": [1, 2], "nested": {"a": None}})

    def per_target(ctx):
        return [Result.ok("runs", target=str(t), data={"grid": {"runs": True}}) for t in ctx.targets]

    checks = [Check("os-name", "OS name", "host", os_name),
              Check("per-target", "Per target", "emulation", per_target, per_target=True)]
    ctx = host("pi-zero-raspbian", targets="linux/arm/v6,linux/arm64")
    started = time.monotonic()
    items = list(run_checks(checks, ctx))
    native = native_map(ctx)
    targets = [TargetInfo(str(t), native[str(t)], "--platform") for t in ctx.targets]
    return Report.build(items, host_summary(ctx), targets, exit_code(items), time.monotonic() - started)


def test_a_real_run_round_trips_through_json(validate_report):
    rep = real_run()
    data = validate_report(json.loads(render(rep, "json")))
    assert data == rep.to_json()
    assert [t["native"] for t in data["target_details"]] == [True, False]
    assert data["host"]["oci_platform"] == "linux/arm/v6" and data["counts"]["warn"] == 1
    assert data["results"][0]["data"] == {"lines": [1, 2], "nested": {"a": None}}
    loaded = Report.from_json(json.loads(render(rep, "json")))
    assert loaded == rep and loaded.to_json() == rep.to_json()
    with pytest.raises(TypeError):
        loaded.rows[0].data["lines"] = []  # loaded data is as frozen as a Result's


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_renderer_gives_the_same_from_a_loaded_report(fmt):
    rep = real_run()
    loaded = Report.from_json(json.loads(json.dumps(rep.to_json())))
    for style in (Style(), Style(color=True, width=80, verbose=True), Style(unicode=False, quiet=True)):
        assert renderer(fmt)(loaded, style) == renderer(fmt)(rep, style)


def test_json_report_validates(validate_report):
    data = validate_report(render(report(), "json"))
    assert data["schema"] == SCHEMA_ID and data["exit_code"] == 1
    assert data["counts"] == {"ok": 2, "skip": 1, "warn": 1, "fail": 1, "error": 0}
    assert data["duration_ms"] == 850.0 and data["started_at"] == "2024-05-01T12:30:45Z"
    assert data["targets"] == ["linux/amd64", "linux/arm64"]
    assert data["target_details"][1] == {"platform": "linux/arm64", "native": False, "source": "--platform"}
    mount = data["results"][1]
    assert mount["status"] == "fail" and mount["target"] is None
    assert mount["fix"] == {"title": "Mount binfmt_misc", "needs_root": True, "actions": [], "commands": [MOUNT]}
    assert data["results"][3]["target"] == "linux/arm64"
    assert data["results"][0]["duration_ms"] == 1.0


def test_a_report_saved_before_the_new_keys_loads(validate_report):
    old = report().to_json()
    for key in ("target_details", "duration_ms", "started_at"):
        del old[key]
    del old["host"]["known_environment_name"]
    old["host"]["future key"] = old["future key"] = {"ignored": True}
    old["results"][0]["future key"] = 1
    validate_report(old)
    loaded = Report.from_json(old)
    assert [(t.platform, t.native, t.source) for t in loaded.targets] == [
        ("linux/amd64", True, ""), ("linux/arm64", False, "")]  # native judged from the saved host platform
    assert loaded.duration_ms is None and loaded.started_at is None and loaded.counts == report().counts
    validate_report(loaded.to_json())
    assert Report.from_json(loaded.to_json()) == loaded
    assert "✘ FAIL  binfmt_misc mount — binfmt_misc is not mounted" in text(loaded)


@pytest.mark.parametrize("data, says", [
    ([1, 2], "expected a JSON object, got list"),
    ({"a": 1}, 'has no "schema" key'),
    ({"schema": "mab-doctor/report/v2"}, "schema is 'mab-doctor/report/v2', expected 'mab-doctor/report/v1'"),
    ({"schema": SCHEMA_ID, "host": {}}, "the report has no 'version' key"),
    ({"schema": SCHEMA_ID, "version": "1", "host": [], "targets": [], "results": [], "exit_code": 0},
     "host"),
    ({"schema": SCHEMA_ID, "version": "1", "host": {}, "targets": [], "exit_code": 0,
      "results": [{"name": "x", "status": "okay", "summary": "s"}]}, "result 0: unknown status 'okay'"),
    ({"schema": SCHEMA_ID, "version": "1", "host": {}, "targets": [], "exit_code": 0,
      "results": [{"name": "x", "status": "ok"}]}, "result 0 has no 'summary' key"),
])
def test_not_a_report_is_one_clear_value_error(data, says):
    with pytest.raises(ValueError) as caught:
        Report.from_json(data)
    message = str(caught.value)
    assert says in message and "\n" not in message and "report" in message


def test_schema_rejects_a_fail_without_remediation(report_schema):
    data = report().to_json()
    data["results"][1]["remediation"] = None
    assert list(report_schema.iter_errors(data))


def test_unknown_format_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown report format 'yaml' .known: text, json, junit, github, markdown"):
        renderer("yaml")
