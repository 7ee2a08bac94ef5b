"""The state directory, journals, the lock and the files a fix writes never follow a planted symbolic link,
and are created with safe modes."""

from __future__ import annotations

import os
import stat

import pytest

from fakes.binfmt_kernel import FakeFile, FakeHost
from mab_doctor.cli import main
from mab_doctor.fix import actions as make
from mab_doctor.fix.journal import FixError, Journal, apply, fix_lock
from mab_doctor.fix.writer import RealHostWriter

VICTIM_TEXT = "root:x:0:0:victim\n"


@pytest.fixture
def victim(tmp_path):
    """A file (and a folder) an attacker would like mab-doctor to overwrite."""
    path = tmp_path / "victim"
    path.write_text(VICTIM_TEXT)
    path.chmod(0o640)
    folder = tmp_path / "victim-dir"
    folder.mkdir()
    return path, folder


@pytest.fixture
def state(tmp_path, monkeypatch):
    folder = tmp_path / "state"
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(folder))
    return folder


def untouched(victim) -> bool:
    path, folder = victim
    return (path.read_text() == VICTIM_TEXT and stat.S_IMODE(path.stat().st_mode) == 0o640
            and os.listdir(folder) == [])


def undo_fails_in_one_line(capsys, phrase: str) -> None:
    assert main(["undo", "--color", "never"]) == 1
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and phrase in out and out.startswith("mab-doctor: undo: ") and err == "", out


def test_a_new_state_directory_is_private(state, tmp_path):
    config = tmp_path / "c.json"
    config.write_text("{}")
    with fix_lock():
        journal = Journal.begin()
        apply([make.json_set(str(config), {"a": 1})], journal, lambda n: None, lambda m: None)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (state, state / "journals", state / "lock", journal.path)}
    assert modes == {"state": 0o700, "journals": 0o700, "lock": 0o600, journal.path.name: 0o600}
    assert [p.name for p in (state / "journals").iterdir()] == [journal.path.name]  # no temporary file left


def test_an_older_versions_open_state_directory_is_made_private(state):
    (state / "journals").mkdir(parents=True, mode=0o755)
    state.chmod(0o755)
    Journal.begin()
    assert stat.S_IMODE(state.stat().st_mode) == stat.S_IMODE((state / "journals").stat().st_mode) == 0o700


def test_the_state_directory_as_a_symlink_is_refused(state, victim, capsys):
    state.symlink_to(victim[1])
    undo_fails_in_one_line(capsys, f"refusing to use {state}: it is a symbolic link")
    assert untouched(victim)


def test_the_journals_directory_as_a_symlink_is_refused(state, victim, capsys):
    state.mkdir(mode=0o700)
    (state / "journals").symlink_to(victim[1])
    undo_fails_in_one_line(capsys, f"refusing to use {state / 'journals'}: it is a symbolic link")
    assert untouched(victim)


def test_the_lock_as_a_symlink_is_refused_by_undo_and_by_fix(state, victim, capsys):
    state.mkdir(mode=0o700)
    (state / "lock").symlink_to(victim[0])
    undo_fails_in_one_line(capsys, f"refusing to use {state / 'lock'}: it is a symbolic link")
    assert main(["--fix", "--yes", "--no-plugins", "binfmt-kernel"]) == 1
    out, err = capsys.readouterr()
    assert err == f"mab-doctor: --fix: refusing to use {state / 'lock'}: it is a symbolic link\n" and out == ""
    assert untouched(victim)


def test_a_planted_journal_temporary_file_stops_undo_before_it_changes_anything(state, victim, tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text("{}")
    journal = Journal.begin()
    apply([make.json_set(str(config), {"a": 1})], journal, lambda n: None, lambda m: None)
    journal.finish()
    planted = state / "journals" / f".{journal.path.name}.{os.getpid()}.tmp"
    planted.symlink_to(victim[0])
    assert main(["undo", "--color", "never"]) == 1
    out = capsys.readouterr().out
    failure = [line for line in out.splitlines() if line.startswith("mab-doctor:")]
    assert failure == [f"mab-doctor: undo failed: refusing to use {planted}: it exists already (left over or "
                       f"planted); remove it and run again; run `sudo mab-doctor undo` again after fixing the cause "
                       f"(journal {journal.path})"]
    assert untouched(victim) and config.read_text() != "{}"  # nothing was reverted
    planted.unlink()
    assert main(["undo"]) == 0 and config.read_text() == "{}"


def test_a_journal_that_is_a_symlink_is_not_read(state, victim, capsys):
    (state / "journals").mkdir(parents=True, mode=0o700)
    (state / "journals" / "20990101T000000.000000000-1.json").symlink_to(victim[0])
    assert main(["undo", "--color", "never"]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "cannot read journal" in out and "symbolic links" in out
    assert untouched(victim)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory to another user")
def test_a_state_directory_of_another_user_or_open_to_others_is_refused(state, capsys):
    state.mkdir(mode=0o700)
    os.chown(state, 4321, 4321)
    undo_fails_in_one_line(capsys, f"refusing to use {state}: it belongs to uid 4321, neither to uid 0 nor to root")
    os.chown(state, 0, 0)
    state.chmod(0o777)
    undo_fails_in_one_line(capsys, f"refusing to use {state}: others can write to it")


@pytest.mark.parametrize("planted", ["file", "backup"])
def test_a_fix_never_writes_a_file_through_a_symlink(state, victim, tmp_path, planted):
    config = tmp_path / "c.json"
    config.write_text("{}")
    (tmp_path / ("c.json" if planted == "file" else "c.json.mab-doctor.bak")).unlink(missing_ok=True)
    link = config if planted == "file" else tmp_path / "c.json.mab-doctor.bak"
    link.symlink_to(victim[0])
    journal = Journal.begin()
    with pytest.raises(FixError, match=f"refusing to write {link}: it is a symbolic link"):
        apply([make.json_set(str(config), {"a": 1})], journal, lambda n: None, lambda m: None)
    assert untouched(victim) and journal.steps == []  # refused before anything was journaled


def test_the_real_writer_refuses_a_symlink_even_when_asked_directly(victim, tmp_path):
    link = tmp_path / "qemu-aarch64.conf"
    link.symlink_to(victim[0])
    with pytest.raises(OSError, match="symbolic link"):
        RealHostWriter().replace_file(str(link), "x\n", mode=0o644)
    with pytest.raises(OSError, match="symbolic link"):
        RealHostWriter().replace_file(str(link), "x\n")
    assert untouched(victim) and RealHostWriter().is_link(str(link))


def test_a_persisted_binfmt_d_file_is_0644_whatever_the_umask(state, tmp_path):
    conf = tmp_path / "binfmt.d" / "qemu-aarch64.conf"
    old = os.umask(0o077)
    try:
        apply([make.persist(str(conf), ":qemu-aarch64:E::x::/bin/x:F")], Journal.begin(), lambda n: None,
              lambda m: None)
    finally:
        os.umask(old)
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644


def test_fake_host_follows_links_when_reading_and_refuses_to_write_through_them(state):
    host = FakeHost(files={"/etc/shadow": VICTIM_TEXT})
    host.links["/etc/binfmt.d/qemu-aarch64.conf"] = "/etc/shadow"
    with pytest.raises(FixError, match="refusing to write /etc/binfmt.d/qemu-aarch64.conf: it is a symbolic link"):
        apply([make.persist("/etc/binfmt.d/qemu-aarch64.conf", ":qemu-aarch64:E::x::/bin/x:F")], Journal.begin(),
              lambda n: None, lambda m: None, writer=host)
    assert host.files == {"/etc/shadow": FakeFile(VICTIM_TEXT)}
