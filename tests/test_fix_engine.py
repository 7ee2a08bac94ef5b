"""Every fix action kind applied and undone through a fake binfmt_misc, crashes included, without root."""

from __future__ import annotations

import json

import pytest

from fakes.binfmt_kernel import FakeFile, FakeHost
from fakes.packages import FakePackageManager
from mab_doctor.core.model import Action
from mab_doctor.emulation.upstream import upstream_line
from mab_doctor.fix import actions as make
from mab_doctor.fix.actions import KINDS, PHASES, kind_of
from mab_doctor.fix.journal import FixError, Journal, apply, undo

MP = "/proc/sys/fs/binfmt_misc"
QEMU_ARM64, QEMU_RISCV = "/usr/bin/qemu-aarch64-static", "/usr/bin/qemu-riscv64-static"
ARM64 = upstream_line("aarch64", QEMU_ARM64)                       # flags F
ARM64_NO_F = upstream_line("aarch64", QEMU_ARM64, flags="OP")
RISCV = upstream_line("riscv64", QEMU_RISCV)
JAR = ":jar:E::jar::/usr/bin/jarwrapper:"
CONFIG = "/home/u/.docker/config.json"


def no_resolve(name):
    raise AssertionError(f"nothing should need resolving, asked for {name}")


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))


def debian_host(**kw) -> FakeHost:
    """binfmt_misc mounted and enabled, with jar and an aarch64 handler without F."""
    host = FakeHost(files={QEMU_ARM64: "", QEMU_RISCV: "", "/usr/bin/jarwrapper": ""}, **kw)
    host.register(JAR)
    host.register(ARM64_NO_F)
    return host


def round_trip(host: FakeHost, actions, resolve=no_resolve):
    """Apply, return (journal, state after apply, undo notes); asserts undo brought everything back."""
    start = host.snapshot()
    journal = Journal.begin()
    apply(actions, journal, resolve, lambda m: None, writer=host)
    changed = host.snapshot()
    left = Journal.latest()  # read back from disk, as `undo` does; a run that changed nothing is not picked
    assert (left is None) == (not journal.steps)
    notes = undo(left, lambda m: None, writer=host) if left else []
    assert host.snapshot() == start
    assert Journal.latest() is None  # marked undone
    return journal, changed, notes


def test_every_kind_is_registered_once_in_phase_order():
    assert PHASES == ("run", "mount", "enable", "install", "enable-entry", "unregister", "register", "persist",
                      "json-set")
    assert [k.phase for k in KINDS.values()] == list(range(len(PHASES)))  # one phase each, no ties
    assert {k: v.needs_root for k, v in KINDS.items()} == {k: k != "json-set" for k in PHASES}
    with pytest.raises(FixError, match="unknown fix action kind 'format-disk'"):
        kind_of(Action("format-disk"))


def test_constructors_fill_the_command_and_words_for_a_person():
    reg = make.register("qemu-aarch64", ARM64)
    assert reg.argv == ("sh", "-c", f'printf "%s\\n" "$1" > {MP}/register', "sh", ARM64) and reg.needs_root
    assert "\\x7f" in reg.argv[-1]  # the escapes stay literal for the kernel to decode
    assert make.mount().argv == ("mount", "-t", "binfmt_misc", "binfmt_misc", MP)
    assert make.unregister("qemu-arm").argv == ("sh", "-c", f"echo -1 > {MP}/qemu-arm")
    assert make.install(("apt-get", "install", "-y", "qemu-user-static")).subject == "qemu-user-static"
    deferred = make.register("qemu-riscv64")
    assert "definition from the package just installed" in deferred.argv[-1]
    for action in (make.mount(), make.enable(), make.enable_entry("qemu-arm"), make.unregister("qemu-arm"), reg,
                   deferred, make.persist("/etc/binfmt.d/qemu-arm.conf", ARM64), make.json_set(CONFIG, {"a": 1}),
                   make.install(("apt-get", "install", "-y", "q")), make.run_command(("modprobe", "binfmt_misc"))):
        words = kind_of(action).describe(action)
        assert words and not words.startswith(("sh ", "printf")), action.kind
        assert kind_of(action).command(action) == action.argv


def test_mount_and_undo(tmp_path):
    host = FakeHost(mounted=False)
    journal, changed, notes = round_trip(host, [make.mount()])
    assert changed.mounted and changed.status == "enabled" and notes == []
    assert host.ran == [make.mount().argv, ("umount", MP)]


def test_mount_undo_removes_only_entries_that_came_after_it_on_a_kernel_that_keeps_them():
    host = debian_host(entries_survive_umount=True)
    assert host.run(("umount", MP), 5).returncode == 0  # jar and qemu-aarch64 stay, unseen but active
    apt = FakePackageManager(host, {"qemu-user-static": {"/usr/lib/binfmt.d/qemu-riscv64.conf": RISCV + "\n"}},
                             registers_on_install=True).attach()
    journal = Journal.begin()
    apply([make.mount(), make.install(("apt-get", "install", "-y", "qemu-user-static"))], journal, no_resolve,
          lambda m: None, writer=host)
    assert set(host.snapshot().entries) == {"jar", "qemu-aarch64", "qemu-riscv64"}  # the postinst registered one
    notes = undo(journal, lambda m: None, writer=host)
    assert not host.kernel.mounted and notes[0].startswith("not undone: `apt-get install")
    assert set(host.kernel.entries) == {"jar", "qemu-aarch64"} and apt.installed == ["qemu-user-static"]


def test_mount_of_a_mounted_binfmt_misc_is_no_change():
    host = debian_host()
    journal, changed, _ = round_trip(host, [make.mount()])
    assert journal.steps == [] and host.ran == []


def test_enable_and_undo():
    host = debian_host()
    host.write_control(f"{MP}/status", "0")
    _, changed, _ = round_trip(host, [make.enable()])
    assert changed.status == "enabled" and host.snapshot().status == "disabled"


def test_enable_entry_and_undo_restore_the_disabled_text_byte_for_byte():
    host = debian_host()
    host.write_control(f"{MP}/qemu-aarch64", "0")
    before = host.read(f"{MP}/qemu-aarch64")
    _, changed, _ = round_trip(host, [make.enable_entry("qemu-aarch64")])
    assert changed.entries["qemu-aarch64"] == before.replace("disabled", "enabled", 1)
    assert host.read(f"{MP}/qemu-aarch64") == before


@pytest.mark.parametrize("line", [ARM64_NO_F, ARM64.replace("qemu-aarch64:", "qemu-t:").replace(":F", ":FCP"),
                                  ":qemu-t:E::qt::/usr/bin/qt:",
                                  ARM64.split(":\\xff")[0].replace("qemu-aarch64", "qemu-t") + "::/usr/bin/qt:P"])
def test_unregister_and_undo_restore_the_definition_byte_for_byte(line):
    host = debian_host()
    host.files["/usr/bin/qt"] = FakeFile("")
    name = line.split(":")[1]
    if name != "qemu-aarch64":
        host.register(line)
    host.write_control(f"{MP}/{name}", "0")  # disabled too: undo brings that back as well
    text = host.read(f"{MP}/{name}")
    journal, changed, _ = round_trip(host, [make.unregister(name)])
    assert name not in changed.entries and journal.steps[0]["before"] == text
    assert host.read(f"{MP}/{name}") == text


def test_register_and_undo():
    host = debian_host()
    _, changed, _ = round_trip(host, [make.register("qemu-riscv64", RISCV)])
    assert "flags: F\n" in changed.entries["qemu-riscv64"]


def test_register_over_an_identical_entry_is_a_no_op():
    host = debian_host()
    journal, changed, _ = round_trip(host, [make.register("qemu-aarch64", ARM64_NO_F)])
    assert journal.steps == [] and changed == host.snapshot()


def test_register_replacing_an_entry_journals_its_exact_previous_definition():
    host = debian_host()
    old = host.read(f"{MP}/qemu-aarch64")
    journal, changed, _ = round_trip(host, [make.register("qemu-aarch64", ARM64)])
    assert [(s["kind"], s["state"]) for s in journal.steps] == [("unregister", "done"), ("register", "done")]
    assert journal.steps[0]["before"] == old and "flags: F\n" in changed.entries["qemu-aarch64"]


def test_register_rejected_by_the_kernel_leaves_a_pending_step_and_undo_completes():
    host = debian_host()
    start, journal = host.snapshot(), Journal.begin()
    with pytest.raises(FixError, match="registering qemu-aarch64 failed: Invalid argument"):
        apply([make.unregister("qemu-aarch64"), make.register("qemu-aarch64", ":qemu-aarch64:M::bad")],
              journal, no_resolve, lambda m: None, writer=host)
    assert [s["state"] for s in journal.steps] == ["done", "pending"]
    assert "qemu-aarch64" not in host.snapshot().entries
    undo(Journal.latest(), lambda m: None, writer=host)
    assert host.snapshot() == start


def test_persist_creates_a_file_and_undo_removes_it():
    host = debian_host()
    path = "/etc/binfmt.d/qemu-aarch64.conf"
    _, changed, _ = round_trip(host, [make.persist(path, ARM64)])
    assert changed.files[path].text == ARM64 + "\n" and path + ".mab-doctor.bak" not in changed.files


def test_persist_over_a_file_with_a_stale_backup_restores_both():
    path = "/etc/binfmt.d/qemu-aarch64.conf"
    host = FakeHost(files={path: ARM64_NO_F + "\n", path + ".mab-doctor.bak": "from an older run\n"})
    _, changed, _ = round_trip(host, [make.persist(path, ARM64)])
    assert changed.files[path + ".mab-doctor.bak"].text == ARM64_NO_F + "\n"


def test_json_set_keeps_keys_and_mode_backs_up_privately_and_undoes():
    original = '{"auths": {"r.example": {"auth": "x"}}, "credsStore": "pass"}'
    host = FakeHost()
    host.files[CONFIG] = FakeFile(original, 0o600)
    action = make.json_set(CONFIG, {"experimental": "enabled"})
    assert not action.needs_root
    _, changed, _ = round_trip(host, [action])
    assert json.loads(changed.files[CONFIG].text) == {**json.loads(original), "experimental": "enabled"}
    assert changed.files[CONFIG].mode == 0o600
    assert changed.files[CONFIG + ".mab-doctor.bak"] == FakeFile(original, 0o600)  # as private as the original


def test_json_set_already_set_is_no_change_and_a_corrupt_file_is_left_alone():
    host = FakeHost(files={CONFIG: '{"experimental":"enabled"}', "/etc/x.json": '{"a": 1\n  "b": 2}'})
    journal, _, _ = round_trip(host, [make.json_set(CONFIG, {"experimental": "enabled"})])
    assert journal.steps == []
    with pytest.raises(FixError, match="line 2, column 3"):
        apply([make.json_set("/etc/x.json", {"a": 2})], Journal.begin(), no_resolve, lambda m: None, writer=host)
    assert host.files["/etc/x.json"].text == '{"a": 1\n  "b": 2}'


@pytest.mark.parametrize("action", [make.install(("apt-get", "install", "-y", "qemu-user-static")),
                                    make.run_command(("modprobe", "binfmt_misc"))])
def test_commands_run_and_undo_says_what_stays(action):
    host = FakeHost(files={})
    FakePackageManager(host, {"qemu-user-static": {QEMU_ARM64: ""}}).attach()
    journal = Journal.begin()
    apply([action], journal, no_resolve, lambda m: None, writer=host)
    assert host.ran == [action.argv] and journal.steps[0]["state"] == "done"
    notes = undo(journal, lambda m: None, writer=host)
    assert notes == [f"not undone: `{' '.join(action.argv)}` (packages and modules stay; remove them yourself "
                     f"if you want)"]


def test_failing_command_is_a_one_line_fix_error():
    host = FakeHost(available=False)
    with pytest.raises(FixError, match="`modprobe binfmt_misc` exited 1: modprobe: FATAL: Module binfmt_misc"):
        apply([make.run_command(("modprobe", "binfmt_misc"))], Journal.begin(), no_resolve, lambda m: None,
              writer=host)


@pytest.mark.parametrize("postinst_registers", [False, True])
def test_install_then_deferred_register_reads_the_new_definition(postinst_registers):
    host = FakeHost()
    apt = FakePackageManager(host, {"qemu-user-static": {QEMU_RISCV: "", "/usr/lib/binfmt.d/qemu-riscv64.conf":
                                                         RISCV + "\n"}}, postinst_registers).attach()
    resolve = lambda name: host.read(f"/usr/lib/binfmt.d/{name}.conf").strip()  # noqa: E731
    journal = Journal.begin()
    apply([make.install(("apt-get", "install", "-y", "qemu-user-static")), make.register("qemu-riscv64")],
          journal, resolve, lambda m: None, writer=host)
    assert apt.installed == ["qemu-user-static"] and "qemu-riscv64" in host.snapshot().entries
    # The package registered it itself: the engine found it identical and journaled nothing more.
    assert [s["kind"] for s in journal.steps] == ["install"] + ([] if postinst_registers else ["register"])
