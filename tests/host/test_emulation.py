"""Emulation on the real kernel: handlers removed, diagnosed, fixed, run for real, undone exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import binfmt_state as bs
from mab_doctor.cli import main
from mab_doctor.fix.journal import Journal, apply
from mab_doctor.core.model import Action
from test_live_truth import run_foreign

TARGETS = "linux/arm64,linux/riscv64"
PROTECTED = ("jar", "python3.11", "llvm-14-runtime.binfmt")
# The emulation checks (and what they require): two platforms through this host's default docker-driver
# builder are rightly a build-path FAIL, which no --fix of handlers changes.
EMULATION = ("binfmt-handlers", "binfmt-exec", "binfmt-persist")


def remove(*names):
    for name in names:
        bs.write(f"{bs.MOUNT_POINT}/{name}", "-1")


def report(capsys, *argv) -> tuple[int, dict]:
    code = main(["--format", "json", "--no-plugins", *argv])
    data = json.loads(capsys.readouterr().out)
    return code, {(r["name"], r["target"]): r for r in data["results"]}


def fix(capsys, *argv) -> tuple[int, str]:
    code = main(["--fix", "--yes", "--no-plugins", "--color", "never", *argv])
    return code, capsys.readouterr().out


def debian_line(cpu: str) -> str:
    return Path(f"/usr/lib/binfmt.d/qemu-{cpu}.conf").read_text().splitlines()[0]


def test_missing_handlers_are_named_fixed_and_really_run(capsys, debian_host, busybox_arm64):
    remove("qemu-aarch64", "qemu-riscv64")
    code, res = report(capsys, *EMULATION, "--platform", TARGETS)
    assert code == 1
    for target, name in (("linux/arm64", "qemu-aarch64"), ("linux/riscv64", "qemu-riscv64")):
        handler = res[("binfmt-handlers", target)]
        assert handler["status"] == "fail" and name in handler["summary"]
        assert res[("binfmt-exec", target)]["data"]["direct"] == "ENOEXEC"
    assert run_foreign(busybox_arm64) == "ENOEXEC"  # the truth agrees: it cannot run

    code, out = fix(capsys, *EMULATION, "--platform", TARGETS)
    assert code == 0, out
    assert "register qemu-aarch64" in out and "Changed by --fix:" in out
    code, res = report(capsys, *EMULATION, "--platform", TARGETS)
    assert code == 0
    for target in ("linux/arm64", "linux/riscv64"):
        assert res[("binfmt-exec", target)]["data"]["direct"] == "ran"
        assert res[("binfmt-exec", target)]["data"]["chroot"] == "ran"
    assert run_foreign(busybox_arm64) == "ran"  # a real Debian arm64 binary
    now = bs.entries_text()
    assert now["qemu-aarch64"] == debian_host["qemu-aarch64"]  # Debian's own definition, re-registered
    assert all(now[p] == debian_host[p] for p in PROTECTED if p in debian_host)


def test_dry_run_changes_nothing(capsys, debian_host):
    remove("qemu-aarch64")
    before = (sorted(os.listdir(bs.MOUNT_POINT)), bs.entries_text())
    code = main(["--fix", "--dry-run", "--no-plugins", "--platform", TARGETS])
    out = capsys.readouterr().out
    assert code == 1 and "Dry run: nothing was changed." in out
    assert debian_line("aarch64") in out  # the exact register string
    assert (sorted(os.listdir(bs.MOUNT_POINT)), bs.entries_text()) == before


def test_handler_without_f_fails_in_containers_then_fix_and_undo_restore_it_exactly(capsys, debian_host):
    remove("qemu-aarch64")
    bs.register_line(debian_line("aarch64").replace(":OPF", ":OP"))
    without_f = bs.entries_text()["qemu-aarch64"]
    assert "flags: PO\n" in without_f
    code, res = report(capsys, "--platform", "linux/arm64")
    probe = res[("binfmt-exec", "linux/arm64")]
    assert code == 1 and probe["data"]["direct"] == "ran" and probe["data"]["chroot"] == "ENOENT"
    assert "not in a container" in probe["summary"] and "no such file or directory" in probe["summary"]
    assert "no F flag" in res[("binfmt-handlers", "linux/arm64")]["summary"]

    code, out = fix(capsys, "--platform", "linux/arm64")
    assert code == 0, out
    assert "flags: POF" in bs.entries_text()["qemu-aarch64"]
    assert report(capsys, "--platform", "linux/arm64")[1][("binfmt-exec", "linux/arm64")]["data"]["chroot"] == "ran"

    assert main(["undo"]) == 0
    capsys.readouterr()
    assert bs.entries_text()["qemu-aarch64"] == without_f  # byte for byte
    assert main(["undo"]) == 0 and "Nothing to undo" in capsys.readouterr().out


def test_persist_then_simulated_reboot(capsys, debian_host):
    etc = Path("/etc/binfmt.d/qemu-aarch64.conf")
    backup = etc.with_name(etc.name + ".mab-doctor.bak")
    assert not etc.exists(), "the host already has /etc/binfmt.d/qemu-aarch64.conf; not touching it"
    no_f = debian_line("aarch64").replace(":OPF", ":OP")
    try:
        etc.parent.mkdir(exist_ok=True)
        etc.write_text(no_f + "\n")  # an old definition without F masks Debian's
        _, res = report(capsys, "--platform", "linux/arm64")
        assert "without the F flag" in res[("binfmt-persist", "linux/arm64")]["summary"]

        code, out = fix(capsys, "--persist", "--platform", "linux/arm64")
        assert code == 0, out
        assert etc.read_text().strip().endswith(":POF") and backup.read_text() == no_f + "\n"

        bs.write(f"{bs.MOUNT_POINT}/status", "-1")  # simulated reboot: every entry gone ...
        assert not os.path.exists(f"{bs.MOUNT_POINT}/qemu-aarch64")
        bs.replay_binfmt_d()                         # ... and systemd-binfmt replays binfmt.d
        assert "flags: POF" in bs.entries_text()["qemu-aarch64"]
        _, res = report(capsys, "--platform", "linux/arm64")
        assert res[("binfmt-exec", "linux/arm64")]["data"]["chroot"] == "ran"

        assert main(["undo"]) == 0
        capsys.readouterr()
        assert etc.read_text() == no_f + "\n" and not backup.exists()
    finally:
        etc.unlink(missing_ok=True)
        backup.unlink(missing_ok=True)


def test_failure_half_way_leaves_a_journal_undo_completes(capsys, debian_host):
    original = bs.entries_text()["qemu-aarch64"]
    journal = Journal.begin()
    with pytest.raises(Exception):
        apply([Action("unregister", "qemu-aarch64"), Action("register", "qemu-aarch64", ":qemu-aarch64:M::bad")],
              journal, lambda n: None, lambda m: None)
    assert "qemu-aarch64" not in bs.entries_text()
    assert [s["state"] for s in json.loads(journal.path.read_text())["steps"]] == ["done", "pending"]
    assert main(["undo"]) == 0
    capsys.readouterr()
    assert bs.entries_text()["qemu-aarch64"] == original


def test_concurrent_fix_runs_are_serialised(debian_host, tmp_path):
    remove("qemu-aarch64")
    exe = os.path.join(os.path.dirname(sys.executable), "mab-doctor")
    argv = [exe, "--fix", "--yes", "--no-plugins", "--platform", "linux/arm64", "-q"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("applying: register qemu-aarch64" in o for o in outs) == 1  # the second saw it fixed
    assert sum("Nothing to change: " in o for o in outs) == 1
    assert "flags: POF" in bs.entries_text()["qemu-aarch64"]


def _qemu_installed() -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "qemu-user-static"], capture_output=True, text=True)
    return "ok installed" in out.stdout


def test_missing_emulator_is_installed_by_fix(capsys, debian_host):
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "remove", "-y", "-qq", "qemu-user-static"], check=True, env=env,
                       capture_output=True, timeout=600)
        assert not Path("/usr/bin/qemu-aarch64-static").exists()
        remove(*[n for n in bs.entries_text() if n.startswith("qemu-")])
        code, res = report(capsys, "--platform", "linux/arm64")
        handler = res[("binfmt-handlers", "linux/arm64")]
        assert code == 1 and handler["status"] == "fail"
        assert handler["fix"]["commands"][0] == ["apt-get", "install", "-y", "qemu-user-static"]

        code, out = fix(capsys, "--platform", "linux/arm64")
        assert code == 0, out
        assert "applying: install qemu-user-static" in out and _qemu_installed()
        _, res = report(capsys, "--platform", "linux/arm64")
        assert res[("binfmt-exec", "linux/arm64")]["data"]["chroot"] == "ran"
    finally:
        if not _qemu_installed():
            subprocess.run(["apt-get", "install", "-y", "-qq", "qemu-user-static"], env=env, capture_output=True,
                           timeout=900)


def test_register_over_an_existing_entry(debian_host):
    journal = Journal.begin()
    apply([Action("register", "qemu-aarch64", debian_line("aarch64"))], journal, lambda n: None, lambda m: None)
    assert journal.data["steps"] == []  # identical entry already there: nothing to do, nothing journaled
    remove("qemu-aarch64")
    bs.register_line(debian_line("aarch64").replace(":OPF", ":OP"))
    apply([Action("register", "qemu-aarch64", debian_line("aarch64"))], journal, lambda n: None, lambda m: None)
    assert [s["kind"] for s in journal.data["steps"]] == ["unregister", "register"]
    assert bs.entries_text()["qemu-aarch64"] == debian_host["qemu-aarch64"]
