"""Fix planning, the journal and lock, and the --fix/undo command line without root."""

import json
import os

import pytest

from mab_doctor.fix import journal
from mab_doctor.core.check import Check
from mab_doctor.cli import main
from mab_doctor.fix.plan import plan
from mab_doctor.core.model import Action, Fix, Outcome, Result


def outcome(status, *actions, target=None):
    chk = Check("c", "C", "emulation", run=None)
    return Outcome(chk, Result(status, "x", remediation="r", fix=Fix.of("t", *actions), target=target))


def test_plan_dedupes_orders_by_phase_and_keeps_persist_for_persist_only():
    reg = Action("register", "qemu-arm", ":qemu-arm:M::x::/i:F")
    outs = [outcome(Result.fail("x").status, Action("persist", "/etc/binfmt.d/qemu-arm.conf", "l"), reg),
            outcome(Result.fail("x").status, reg, Action("mount")),
            outcome(Result.warn("x").status, Action("unregister", "qemu-arm")),
            outcome(Result.ok("x").status, Action("enable"))]
    assert [a.kind for a in plan(outs)] == ["mount", "unregister", "register"]
    assert [a.kind for a in plan(outs, persist=True)] == ["mount", "unregister", "register", "persist"]


def test_deferred_register_is_dropped_when_a_concrete_one_exists():
    outs = [outcome(Result.fail("x").status, Action("install", "qemu-user-static", argv=("apt-get", "install")),
                    Action("register", "qemu-arm")),
            outcome(Result.fail("x").status, Action("register", "qemu-arm", ":qemu-arm:M::x::/i:F"))]
    assert [(a.kind, bool(a.line)) for a in plan(outs)] == [("install", False), ("register", True)]


def test_register_command_is_copy_pasteable():
    action = Action("register", "qemu-arm", ":qemu-arm:M::\\x7fELF::/usr/bin/qemu-arm-static:F")
    assert action.command() == ("sh", "-c", 'printf "%s\\n" "$1" > /proc/sys/fs/binfmt_misc/register', "sh",
                                ":qemu-arm:M::\\x7fELF::/usr/bin/qemu-arm-static:F")


def test_journal_is_saved_before_each_step_and_found_by_undo(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path))
    j = journal.Journal.begin()
    step = j.record({"kind": "register", "name": "qemu-x", "line": ":qemu-x:M::a::/b:F"})
    on_disk = json.loads(j.path.read_text())
    assert on_disk["steps"][0]["state"] == "pending" and on_disk["schema"] == "mab-doctor/journal/v1"
    j.done(step)
    assert json.loads(j.path.read_text())["steps"][0]["state"] == "done"
    assert journal.Journal.latest().path == j.path


def test_lock_serialises(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path))
    with journal.fix_lock():
        with pytest.raises(journal.FixError, match="another mab-doctor --fix"):
            with journal.fix_lock(timeout=0.3):
                pass
    with journal.fix_lock(timeout=0.3):
        pass


def test_protected_entries_are_refused_by_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path))
    for name in ("jar", "python3.11", "llvm-14-runtime.binfmt", "WSLInterop"):
        with pytest.raises(journal.FixError, match="protected"):
            journal.apply([Action("unregister", name)], journal.Journal.begin(), lambda n: None, lambda m: None)


def test_fix_without_root_is_one_line_and_exit_1(capsys, monkeypatch, tmp_path):
    from mab_doctor.fix import plan as fixes

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(fixes, "plan", lambda outcomes, persist=False: [Action("mount")])
    assert main(["--fix", "--yes", "binfmt-kernel"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "needs root" in err
    assert not list(tmp_path.glob("journals/*"))  # nothing was started


def test_user_state_dir_when_not_root(monkeypatch, tmp_path):
    monkeypatch.delenv("MAB_DOCTOR_STATE_DIR", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert journal.state_dir() == tmp_path / "mab-doctor"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert str(journal.state_dir()) == "/var/lib/mab-doctor"


@pytest.mark.parametrize("argv, phrase", [(["--yes"], "only go with --fix"), (["--dry-run"], "only go with --fix"),
                                          (["--fix", "--root", "tests"], "live host only"),
                                          (["--fix", "--format", "json"], "plain runs")])
def test_fix_usage_errors(capsys, argv, phrase):
    assert main(argv) == 2 and phrase in capsys.readouterr().err


def test_json_set_keeps_every_key_backs_up_and_undoes(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "config.json"
    original = '{"auths": {"r.example": {"auth": "x"}}, "credsStore": "pass"}'
    config.write_text(original)
    config.chmod(0o600)
    j = journal.Journal.begin()
    journal.apply([Action("json-set", str(config), '{"experimental": "enabled"}')], j, lambda n: None, lambda m: None)
    assert json.loads(config.read_text()) == {"auths": {"r.example": {"auth": "x"}}, "credsStore": "pass",
                                              "experimental": "enabled"}
    assert (tmp_path / "config.json.mab-doctor.bak").read_text() == original
    assert config.stat().st_mode & 0o777 == 0o600  # permissions kept (it may hold credentials)
    journal.undo(journal.Journal.latest(), lambda m: None)
    assert config.read_text() == original and not (tmp_path / "config.json.mab-doctor.bak").exists()


def test_json_set_refuses_a_corrupt_file_and_leaves_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "config.json"
    config.write_text('{"auths": {}\n  "x": 1}')
    with pytest.raises(journal.FixError, match="line 2, column 3"):
        journal.apply([Action("json-set", str(config), '{"experimental": "enabled"}')], journal.Journal.begin(),
                      lambda n: None, lambda m: None)
    assert config.read_text() == '{"auths": {}\n  "x": 1}'


def test_json_set_command_is_runnable_and_needs_no_root(tmp_path):
    import subprocess

    config = tmp_path / "config.json"
    config.write_text('{"a": 1}')
    action = Action("json-set", str(config), '{"experimental": "enabled"}')
    assert not action.needs_root and not Fix.of("t", action).needs_root
    subprocess.run(action.command(), check=True)
    assert json.loads(config.read_text()) == {"a": 1, "experimental": "enabled"}
