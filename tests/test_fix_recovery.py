"""Undo of a whole plan, of a failed undo, of older journals; refusals; and the real host writer."""

from __future__ import annotations

import errno
import json
import os

import pytest

from fakes.binfmt_kernel import FakeHost
from fakes.crash import Crash, Crasher
from mab_doctor.emulation.upstream import upstream_line
from mab_doctor.fix import actions as make
from mab_doctor.fix.journal import SCHEMA, FixError, HostChanged, Journal, apply, undo
from mab_doctor.fix.writer import RealHostWriter

MP = "/proc/sys/fs/binfmt_misc"
QEMU_ARM64, QEMU_RISCV = "/usr/bin/qemu-aarch64-static", "/usr/bin/qemu-riscv64-static"
ARM64, RISCV = upstream_line("aarch64", QEMU_ARM64), upstream_line("riscv64", QEMU_RISCV)
ARM64_NO_F = upstream_line("aarch64", QEMU_ARM64, flags="OP")
PERSIST = "/etc/binfmt.d/qemu-aarch64.conf"


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))


def start_host() -> FakeHost:
    """Not mounted; once mounted it holds qemu-aarch64 without F, and a binfmt.d file without F."""
    host = FakeHost(files={QEMU_ARM64: "", QEMU_RISCV: "", PERSIST: ARM64_NO_F + "\n"}, entries_survive_umount=True)
    host.run(make.mount().argv, 5)
    host.write_control(f"{MP}/status", "0")
    host.register(ARM64_NO_F)
    host.run(("umount", MP), 5)
    return host


PLAN = [make.mount(), make.enable(), make.unregister("qemu-aarch64"), make.register("qemu-aarch64", ARM64),
        make.register("qemu-riscv64", RISCV), make.persist(PERSIST, ARM64)]


def test_a_crash_right_after_the_mount_on_a_kernel_that_keeps_entries_is_refused_then_forced():
    # The mount showed qemu-aarch64 again, and the run died before noting that the mount found it: undo
    # cannot tell it from an entry someone registered later, so it asks for --force.
    host = start_host()
    start = host.snapshot()
    crasher = Crasher("mount:after")
    with pytest.raises(Crash):
        apply(PLAN, crasher.journal(Journal.for_fix()), lambda n: None, lambda m: None, writer=host)
    with pytest.raises(HostChanged, match="qemu-aarch64 registered, and --fix was killed before it noted"):
        undo(Journal.latest(), lambda m: None, writer=host)
    assert host.snapshot() != start  # refused: nothing changed
    undo(Journal.latest(), lambda m: None, writer=host, force=True)
    assert host.snapshot() == start  # this kernel keeps the entry through the unmount


def test_the_whole_plan_applies_and_undoes():
    host = start_host()
    start = host.snapshot()
    journal = Journal.begin()
    apply(PLAN, journal, lambda n: None, lambda m: None, writer=host)
    after = host.snapshot()
    assert after.status == "enabled" and {"qemu-aarch64", "qemu-riscv64"} <= set(after.entries)
    assert [s["kind"] for s in journal.steps] == ["mount", "enable", "unregister", "register", "register", "persist"]
    undo(Journal.latest(), lambda m: None, writer=host)
    assert host.snapshot() == start


def test_a_failed_undo_can_be_run_again_and_skips_what_it_already_undid():
    host = start_host()
    start = host.snapshot()
    apply(PLAN, Journal.begin(), lambda n: None, lambda m: None, writer=host)
    real_write = host.write_control

    def busy(path: str, text: str) -> None:
        if path.endswith("/qemu-riscv64"):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), path)
        real_write(path, text)
    host.write_control = busy
    with pytest.raises(FixError, match="undo register qemu-riscv64: Device or resource busy"):
        undo(Journal.latest(), lambda m: None, writer=host)
    journal = Journal.latest()  # still pending, with the persist step marked undone
    assert [s["kind"] for s in journal.steps if s.get("undone")] == ["persist"]
    host.write_control = real_write
    logged: list[str] = []
    undo(journal, logged.append, writer=host)
    assert host.snapshot() == start and not any("persist" in line for line in logged)
    assert logged[0] == "undo register qemu-riscv64"


def test_a_journal_of_the_previous_version_still_undoes(tmp_path):
    host = FakeHost(mounted=False, files={QEMU_ARM64: "", "/home/u/c.json": '{"a": 1, "experimental": "enabled"}\n',
                                          "/home/u/c.json.mab-doctor.bak": '{"a": 1}'})
    host.run(make.mount().argv, 5)
    host.register(ARM64)
    folder = tmp_path / "state" / "journals"
    folder.mkdir(parents=True)
    (folder / "20250101T000000-42.json").write_text(json.dumps({"schema": SCHEMA, "started": 0, "undone": False,
        "steps": [{"kind": "mount", "was_mounted": False, "state": "done"},
                  {"kind": "register", "name": "qemu-aarch64", "line": ARM64, "state": "done"},
                  {"kind": "json-set", "path": "/home/u/c.json", "before": '{"a": 1}', "state": "done"},
                  {"kind": "run", "argv": ["modprobe", "binfmt_misc"], "state": "done"}]}))
    notes = undo(Journal.latest(), lambda m: None, writer=host)
    assert not host.kernel.mounted and host.files["/home/u/c.json"].text == '{"a": 1}'
    assert "/home/u/c.json.mab-doctor.bak" not in host.files and notes[0].startswith("not undone: `modprobe")


@pytest.mark.parametrize("name", ["jar", "python3.11", "llvm-14-runtime.binfmt", "WSLInterop"])
def test_protected_entries_are_refused_before_anything_changes(name):
    host = FakeHost(mounted=False)
    journal = Journal.begin()
    for action in (make.unregister(name), make.enable_entry(name), make.register(name, f":{name}:E::x::/bin/x:")):
        with pytest.raises(FixError, match=f"protected binfmt_misc entry {name}"):
            apply([make.mount(), action], journal, lambda n: None, lambda m: None, writer=host)
    assert journal.steps == [] and not host.kernel.mounted and host.ran == []


def test_a_register_line_for_another_name_is_refused():
    with pytest.raises(FixError, match="does not define qemu-arm"):
        apply([make.register("qemu-arm", ARM64)], Journal.begin(), lambda n: None, lambda m: None, writer=FakeHost())


def test_real_writer_replaces_files_keeping_or_setting_the_mode(tmp_path):
    writer, path = RealHostWriter(), tmp_path / "sub" / "config.json"
    writer.replace_file(str(path), "one", mode=0o600)
    assert path.read_text() == "one" and writer.mode(str(path)) == 0o600
    writer.replace_file(str(path), "two")
    assert writer.read(str(path)) == "two" and writer.mode(str(path)) == 0o600
    assert writer.listdir(str(tmp_path)) == ["sub"] and writer.exists(str(path))
    writer.unlink(str(path))
    writer.unlink(str(path))  # gone already: fine
    assert writer.read(str(path)) is None and writer.mode(str(path)) is None


def test_real_writer_never_creates_a_control_file_and_reports_commands(tmp_path):
    with pytest.raises(FileNotFoundError):
        RealHostWriter().write_control(str(tmp_path / "qemu-arm"), "1")
    assert not (tmp_path / "qemu-arm").exists()
    (tmp_path / "status").write_text("")
    RealHostWriter().write_control(str(tmp_path / "status"), "1")
    assert (tmp_path / "status").read_text() == "1"
    failed = RealHostWriter().run(("sh", "-c", "echo first; echo last words >&2; exit 3"), 10)
    assert (failed.returncode, failed.last_line) == (3, "last words")
    assert RealHostWriter().run(("/no/such/program",), 10).returncode == 127
    assert RealHostWriter().run(("sleep", "5"), 0.2).returncode == 124
