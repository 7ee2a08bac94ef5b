"""Registry: built-ins plus entry points; broken, duplicate and invalid plugins become problems."""

import json
import os
import subprocess
import sys

from helpers import PROJECT, TESTS
from mab_doctor.checks import BUILTIN
from mab_doctor.core.registry import GROUP, discover
from mab_doctor.core.runner import run_checks

FAKE = TESTS / "data" / "fake-plugin"
TEST_GROUP = "mab_doctor.checks.test"


def test_builtins_only_without_plugins():
    reg = discover(BUILTIN, plugins=False)
    assert reg.names[0] == "host-platform" and not reg.problems
    assert all(c.source == "builtin" for c in reg.checks)


def test_fake_plugin_distribution(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKE))
    reg = discover(BUILTIN, group=TEST_GROUP)
    assert {"fake-good", "fake-raises", "fake-pair-a", "fake-pair-b"} <= set(reg.names)
    good = reg.get("fake-good")
    assert good.source == "fake-mab-plugin 1.0"
    assert reg.get("host-platform").source == "builtin"  # the impostor lost
    problems = {p.name: p.message for p in reg.problems}
    assert "ImportError" in problems["fake-broken"] and "broken on purpose" in problems["fake-broken"]
    assert "not a Check" in problems["fake-not-a-check"]
    assert "duplicate check name" in problems["host-platform"]
    # plugin categories sort after the built-in ones
    assert reg.names.index("fake-good") > reg.names.index("binfmt-mount")


def test_plugin_checks_run_isolated(monkeypatch, tmp_path):
    from helpers import make_context

    monkeypatch.syspath_prepend(str(FAKE))
    reg = discover(BUILTIN, group=TEST_GROUP)
    chosen = [reg.get(n) for n in ("fake-good", "fake-raises", "fake-pair-a", "fake-pair-b")]
    outcomes = list(run_checks(chosen, make_context(tmp_path), problems=reg.problems))
    by = {o.check.name: o.result for o in outcomes}
    assert by["fake-good"].status.value == "ok" and by["fake-good"].summary == "fake plugin ran"
    assert by["fake-raises"].status.value == "error"
    assert any("boom from the fake plugin" in d for d in by["fake-raises"].details)
    assert by["fake-pair-b"].status.value == "skip" and "fake-raises" in by["fake-pair-b"].summary
    assert by["fake-pair-a"].remediation == "See `mab-doctor explain fake-pair-a`."
    assert by["fake-broken"].status.value == "error"


def _installed_plugin_dir(tmp_path):
    # The same modules, declared in the real entry-point group as an installed distribution.
    site = tmp_path / "site"
    dist = site / "fake_mab_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text((FAKE / "fake_mab_plugin-1.0.dist-info" / "METADATA").read_text())
    (dist / "entry_points.txt").write_text(
        f"[{GROUP}]\nfake-good = fake_mab_plugin:fake_good\nfake-raises = fake_mab_plugin:fake_raises\n"
        "fake-broken = fake_mab_plugin_broken:anything\n")
    for module in ("fake_mab_plugin.py", "fake_mab_plugin_broken.py"):
        (site / module).write_text((FAKE / module).read_text())
    return site


def test_installed_plugin_runs_in_a_real_report(tmp_path, validate_report):
    site = _installed_plugin_dir(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{PROJECT}"}
    root = TESTS / "hosts" / "debian-12-amd64-qemu"
    proc = subprocess.run([sys.executable, "-m", "mab_doctor", "--root", str(root), "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.stderr == ""
    report = validate_report(proc.stdout)
    by = {r["name"]: r for r in report["results"]}
    assert by["fake-good"]["status"] == "ok"
    assert by["fake-raises"]["status"] == "error" and "boom" in by["fake-raises"]["summary"]
    assert by["fake-broken"]["status"] == "error"
    builtin = [r for r in report["results"] if r.get("source") == "builtin"]
    assert {r["name"] for r in builtin} >= {"host-platform", "kernel-version", "binfmt-mount"}
    assert all(r["status"] != "error" for r in builtin)
    assert proc.returncode == 1 == report["exit_code"]
    quiet = subprocess.run([sys.executable, "-m", "mab_doctor", "--root", str(root), "--format", "json",
                            "--no-plugins"], capture_output=True, text=True, env=env, timeout=60)
    names = {r["name"] for r in json.loads(quiet.stdout)["results"]}
    assert not names & {"fake-good", "fake-raises", "fake-broken"}


def test_entry_point_scanner_agrees_with_importlib_metadata(monkeypatch):
    import importlib.metadata

    from mab_doctor.core import entrypoints

    monkeypatch.syspath_prepend(str(FAKE))
    for group in (TEST_GROUP, "console_scripts"):
        ours = sorted((e.name, e.value) for e in entrypoints.find(group))
        theirs = sorted({(e.name, e.value) for e in importlib.metadata.entry_points(group=group)})
        assert ours == theirs and ours
    good = next(e for e in entrypoints.find(TEST_GROUP) if e.name == "fake-good")
    assert good.source == "fake-mab-plugin 1.0" and good.load().name == "fake-good"


def test_a_check_named_like_a_command_is_refused():
    from mab_doctor.commands import NAMES
    from mab_doctor.core.check import Check

    impostor = Check("inspect", "Impostor", "host", run=lambda ctx: None)
    reg = discover((*BUILTIN, impostor), plugins=False, reserved=NAMES)
    assert "inspect" not in reg.names
    assert [p.message for p in reg.problems] == ["check name 'inspect' is a mab-doctor command"]
