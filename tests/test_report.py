"""Renderers: the rich text report and the JSON report (validated against the shipped schema)."""

import json

from rich.console import Console

from mab_doctor.core.check import Check
from mab_doctor.core.model import Fix, Outcome, Result
from mab_doctor.host.platforms import parse_platform_list
from mab_doctor.report.jsonfmt import render_json
from mab_doctor.report.text import render_text

HOST = {"root": "/", "hostname": "box[bold]", "kernel_release": "6.1.0", "uname_machine": "x86_64",
        "oci_platform": "linux/amd64", "debian_arch": "amd64",
        "distro": {"id": "debian", "version": "12", "name": "Debian GNU/Linux 12 (bookworm)"},
        "known_environment": "debian-12", "known_environment_name": "Debian 12 (bookworm)"}
TARGETS = parse_platform_list("linux/amd64,linux/arm64")


def outcomes():
    host = Check("host-platform", "Host platform", "host", run=None)
    mount = Check("binfmt-mount", "binfmt_misc mount", "kernel", run=None)
    per = Check("per-target", "Per target", "emulation", run=None, per_target=True)
    fix = Fix("Mount binfmt_misc", [["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"]], True)
    return [
        Outcome(host, Result.ok("linux/amd64 [red]not markup[/red]", details=("hidden unless -v",)), 0.001),
        Outcome(mount, Result.fail("binfmt_misc is not mounted", details=("[bold]evidence[/bold]",),
                                   remediation="Mount it", fix=fix), 0.002),
        Outcome(per, Result.ok("runs", target="linux/amd64")),
        Outcome(per, Result.warn("slow", target="linux/arm64", remediation="wait")),
    ]


def render(**kw):
    console = Console(record=True, width=120, color_system=None, file=open("/dev/null", "w"))
    render_text(console, outcomes(), host=HOST, targets=list(TARGETS),
                native={"linux/amd64": True, "linux/arm64": False}, exit_code=1, **kw)
    return console.export_text()


def test_text_report_layout():
    text = render()
    lines = text.splitlines()
    assert lines[0] == "mab-doctor " + __import__("mab_doctor").__version__
    assert "host box[bold] · Debian GNU/Linux 12 (bookworm) · kernel 6.1.0 (x86_64)" in text
    assert "known environment Debian 12 (bookworm)" in text
    assert any(l.startswith("linux/arm64") and "no (needs emulation)" in l and "! WARN" in l for l in lines)
    assert "✔ OK    Host platform — linux/amd64 [red]not markup[/red]" in text  # escaped, not interpreted
    assert "hidden unless -v" not in text
    assert "        · [bold]evidence[/bold]" in text
    assert "        → Mount it" in text
    assert "        fix: sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc" in text
    assert "Per target [linux/arm64] — slow" in text
    assert lines[-1] == "== 2 ok, 1 warn, 1 fail, 0 skip, 0 error == exit 1"
    assert lines.index("HOST") < lines.index("KERNEL") < lines.index("EMULATION")


def test_verbose_and_quiet():
    assert "hidden unless -v" in render(verbose=True)
    quiet = render(quiet=True)
    assert "Host platform" not in quiet and "binfmt_misc mount" in quiet and "mab-doctor 0." not in quiet


def test_json_report_validates_and_round_trips(validate_report):
    data = validate_report(render_json(outcomes(), HOST, ["linux/amd64", "linux/arm64"], 1))
    assert data["schema"] == "mab-doctor/report/v1" and data["exit_code"] == 1
    assert data["counts"] == {"ok": 2, "skip": 0, "warn": 1, "fail": 1, "error": 0}
    mount = data["results"][1]
    assert mount["status"] == "fail" and mount["target"] is None
    assert mount["fix"] == {"title": "Mount binfmt_misc", "needs_root": True, "actions": [],
                            "commands": [["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"]]}
    assert data["results"][3]["target"] == "linux/arm64"
    assert data["results"][0]["duration_ms"] == 1.0


def test_schema_rejects_a_fail_without_remediation(report_schema):
    data = json.loads(render_json(outcomes(), HOST, ["linux/amd64"], 1))
    data["results"][1]["remediation"] = None
    assert list(report_schema.iter_errors(data))
