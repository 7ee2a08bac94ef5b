"""Undo never acts on a host that moved on: which journal it picks, what it checks first, what it says,
and --force."""

from __future__ import annotations

import json

import pytest

from fakes.binfmt_kernel import FakeHost
from fakes.crash import Crash, Crasher
from mab_doctor.cli import main
from mab_doctor.emulation.upstream import upstream_line
from mab_doctor.fix import actions as make
from mab_doctor.fix.journal import FixError, HostChanged, Journal, apply, changed_since, undo
from mab_doctor.fix.writer import RealHostWriter

MP = "/proc/sys/fs/binfmt_misc"
OURS = {cpu: upstream_line(cpu, f"/usr/bin/qemu-{cpu}-static") for cpu in ("aarch64", "s390x")}  # flags F
DEBIAN = {cpu: upstream_line(cpu, f"/usr/libexec/qemu-binfmt/{cpu}-binfmt-P", flags="OPF") for cpu in OURS}
PERSIST = "/etc/binfmt.d/qemu-aarch64.conf"


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))


def host_with_binaries() -> FakeHost:
    interpreters = [f"/usr/bin/qemu-{c}-static" for c in OURS] + [f"/usr/libexec/qemu-binfmt/{c}-binfmt-P" for c in OURS]
    return FakeHost(files=dict.fromkeys(interpreters, ""))


def fix(host, actions, point: str | None = None) -> Journal:
    """One --fix run of ``actions``; killed at ``point`` when given."""
    crasher = Crasher(point or "never:never")
    try:
        journal = crasher.journal(Journal.for_fix())
        apply(actions, journal, lambda n: None, lambda m: None, writer=crasher.writer(host))
        journal.finish()
    except Crash:
        pass
    return Journal(crasher.current.path, crasher.current.data)


def test_undo_never_reverts_an_older_fix_over_entries_the_distribution_registered_since():
    host = host_with_binaries()
    older = fix(host, [make.register(f"qemu-{c}", OURS[c]) for c in OURS])
    for cpu in OURS:  # the package (re)registers its own definitions, with other flags
        host.write_control(f"{MP}/qemu-{cpu}", "-1")
        host.register(DEBIAN[cpu])
    killed = fix(host, [make.register("qemu-aarch64", OURS["aarch64"])], point="journal:begin")
    now = host.snapshot()

    chosen = Journal.pick()
    assert chosen.journal.path == older.path and killed.steps == []
    assert chosen.notes == (f"Skipped {killed.describe()}: that run changed nothing.",)
    assert "killed before its first step" in chosen.notes[0] and "complete" in chosen.journal.describe()
    with pytest.raises(HostChanged) as refused:
        undo(chosen.journal, lambda m: None, writer=host)
    assert [d.split(":")[0] for d in refused.value.differences] == ["qemu-aarch64", "qemu-s390x"]
    assert "flags now 'POF', --fix left 'F'" in refused.value.differences[0]
    assert host.snapshot() == now and not Journal.latest().undone  # nothing reverted, nothing marked

    notes = undo(Journal.latest(), lambda m: None, writer=host, force=True)
    assert host.snapshot() == now  # even forced, a changed definition is left alone, and said so
    assert notes == [f"left qemu-{c} as it is: its definition changed after --fix registered it"
                     for c in ("s390x", "aarch64")]


def test_each_kind_names_the_place_that_changed():
    host = host_with_binaries()
    host.replace_file(PERSIST, "an older definition\n")
    host.register(DEBIAN["s390x"])
    host.write_control(f"{MP}/qemu-s390x", "0")
    journal = fix(host, [make.enable_entry("qemu-s390x"), make.unregister("qemu-s390x"),
                         make.register("qemu-aarch64", OURS["aarch64"]), make.persist(PERSIST, OURS["aarch64"])])
    assert changed_since(journal, host) == []
    host.register(OURS["s390x"])                           # back, though --fix removed it
    host.write_control(f"{MP}/qemu-aarch64", "0")          # switched off
    host.replace_file(PERSIST, "edited by hand\n")
    host.replace_file(PERSIST + ".mab-doctor.bak", "planted\n")
    assert changed_since(journal, host) == [
        "qemu-s390x: registered again since --fix removed it",
        "qemu-aarch64: enabled now False, --fix left True",
        f"{PERSIST}: changed since --fix wrote it",
        f"{PERSIST}.mab-doctor.bak: changed since --fix wrote it"]
    host.unlink(PERSIST)
    assert f"{PERSIST}: removed since --fix wrote it" in changed_since(journal, host)


def test_what_undo_would_put_back_anyway_is_no_difference():
    host = host_with_binaries()
    host.register(DEBIAN["aarch64"])
    host.write_control(f"{MP}/qemu-aarch64", "0")
    journal = fix(host, [make.enable_entry("qemu-aarch64"), make.register("qemu-s390x", OURS["s390x"])])
    host.write_control(f"{MP}/qemu-aarch64", "0")  # switched off again: as before the fix
    host.write_control(f"{MP}/qemu-s390x", "-1")   # removed: as before the fix
    assert changed_since(journal, host) == []
    start = host.snapshot()
    undo(journal, lambda m: None, writer=host)
    assert host.snapshot() == start


def test_unmounting_would_remove_entries_registered_since_the_mount():
    host = host_with_binaries()
    host.run(("umount", MP), 5)
    journal = fix(host, [make.mount(), make.register("qemu-aarch64", OURS["aarch64"])])
    host.register(DEBIAN["s390x"])  # systemd-binfmt, a package, a container runtime ...
    with pytest.raises(HostChanged, match=r"binfmt_misc: qemu-s390x registered since --fix mounted it "
                                          r"\(unmounting would remove it\)"):
        undo(journal, lambda m: None, writer=host)
    assert "qemu-s390x" in host.kernel.entries and host.kernel.mounted


def test_a_stale_interrupted_journal_behind_a_newer_fix_is_reported_not_reverted():
    host = host_with_binaries()
    stale = fix(host, [make.register("qemu-aarch64", OURS["aarch64"])], point="register:after")
    newer = Journal.begin()  # a run that did not continue it (an older mab-doctor, say)
    apply([make.register("qemu-s390x", OURS["s390x"])], newer, lambda n: None, lambda m: None, writer=host)
    newer.finish()

    chosen = Journal.pick()
    assert chosen.journal.path == newer.path
    assert chosen.notes == (f"Not reverted: {stale.describe()}; a newer --fix ({newer.path.name}) ran after it.",)
    undo(chosen.journal, lambda m: None, writer=host)
    again = Journal.pick()
    assert again.journal is None and "stale: `mab-doctor undo --force` reverts it anyway" in again.notes[0]
    assert "killed during register qemu-aarch64" in again.notes[0]
    assert Journal.pick(force=True).journal.path == stale.path


def test_a_failed_run_is_continued_by_the_next_fix_and_a_completed_one_is_not():
    host = host_with_binaries()
    with pytest.raises(FixError, match="registering qemu-aarch64 failed"):
        apply([make.register("qemu-aarch64", ":qemu-aarch64:M::\\x7f:\\xff:/usr/bin/qemu-aarch64-static:Z")],
              Journal.for_fix(), lambda n: None, lambda m: None, writer=host)
    Journal.latest().finish("registering qemu-aarch64 failed")
    assert "stopped by a failure at register qemu-aarch64" in Journal.latest().describe()
    again = Journal.for_fix()
    assert again.continued and len(again.runs) == 2
    again.finish()
    assert Journal.for_fix().path != again.path  # complete: the next run starts a journal of its own


def test_undo_command_says_which_journal_refuses_on_a_changed_file_and_forces(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text('{"a": 1}')
    journal = fix(RealHostWriter(), [make.json_set(str(config), {"experimental": "enabled"})])
    fix(RealHostWriter(), [make.json_set(str(config), {"b": 2})], point="journal:begin")
    config.write_text('{"a": 1, "experimental": "enabled", "edited": true}')

    assert main(["undo", "--color", "never"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Skipped journal ") and out[0].endswith("killed before its first step): that run "
                                                                      "changed nothing.")
    assert out[1] == f"Reverting the {journal.describe()}" and f"of --fix pid {journal.runs[0]['pid']} at " in out[1]
    assert out[2:] == ["mab-doctor: undo refused: the host changed since that --fix, and undo would overwrite it:",
                       f"  {config}: changed since --fix wrote it",
                       "Nothing was reverted. `sudo mab-doctor undo --force` reverts it anyway."]
    assert json.loads(config.read_text())["edited"] is True

    assert main(["undo", "--force", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "  undo json-set " in out and f"Undone: {journal.path}" in out
    assert json.loads(config.read_text()) == {"a": 1}


def test_fix_command_continues_a_killed_run_and_one_undo_reverts_both(tmp_path, capsys, monkeypatch):
    from mab_doctor.fix import plan as fixes
    from mab_doctor.fix.plan import Plan

    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text("{}")
    second.write_text("{}")
    killed = fix(RealHostWriter(), [make.json_set(str(first), {"a": 1})], point="json-set:after")
    monkeypatch.setattr(fixes, "make_plan", lambda outcomes, persist=False: Plan(
        (make.json_set(str(second), {"b": 2}),), (), ()))
    main(["--fix", "--yes", "--no-plugins", "--color", "never", "binfmt-kernel"])
    out = capsys.readouterr().out
    assert f"Continuing the journal {killed.path} of --fix pid" in out and "killed during json-set" in out
    assert "  applying: json-set" in out
    assert json.loads(first.read_text()) == {"a": 1} and json.loads(second.read_text()) == {"b": 2}
    assert main(["undo"]) == 0
    assert first.read_text() == "{}" and second.read_text() == "{}"
    assert "continued by pid" in capsys.readouterr().out
