"""Fix planning, Fix/Action data, the journal and lock, and the --fix/undo command line without root."""

import json
import os
import subprocess

import pytest

from helpers import HOSTS
from mab_doctor.cli import main
from mab_doctor.core.check import Check
from mab_doctor.core.context import Context
from mab_doctor.core.model import Action, Fix, Outcome, Result, Status
from mab_doctor.fix import actions as make
from mab_doctor.fix import journal
from mab_doctor.fix.journal import apply, undo
from mab_doctor.fix.plan import Plan, make_plan, resolver

LINE = ":qemu-arm:M::\\x7fELF::/usr/bin/qemu-arm-static:F"


def outcome(status, *actions, name="c", target=None, fix=True):
    chk = Check(name, "C", "emulation", run=None)
    return Outcome(chk, Result(status, "x", remediation="r", fix=Fix.of("t", *actions) if fix else None,
                               target=target))


def test_plan_dedupes_orders_by_phase_holds_back_persist_and_names_the_unfixable():
    reg, persist = make.register("qemu-arm", LINE), make.persist("/etc/binfmt.d/qemu-arm.conf", LINE)
    outs = [outcome(Status.FAIL, persist, reg, target="linux/arm/v7"),
            outcome(Status.FAIL, reg, make.mount()),
            outcome(Status.WARN, make.unregister("qemu-arm")),
            outcome(Status.OK, make.enable()),                       # OK: nothing to do
            outcome(Status.SKIP, name="skipped", fix=False),          # SKIP: not a problem
            outcome(Status.FAIL, name="kernel-version", fix=False),
            outcome(Status.ERROR, name="plugin", fix=False, target="linux/s390x"),
            Outcome(Check("manual", "M", "host", run=None),
                    Result.warn("x", remediation="r", fix=Fix("Do it by hand", commands=[["true"]]))),
            outcome(Status.FAIL, Action("reboot", argv=("reboot",)), name="future")]  # a kind we do not know
    plan = make_plan(outs, persist=False)
    assert [a.kind for a in plan.actions] == ["mount", "unregister", "register"]
    assert plan.held_back == (persist,) and plan.needs_root
    assert plan.unfixable == ("kernel-version", "plugin [linux/s390x]", "manual", "future")
    with_persist = make_plan(outs, persist=True)
    assert [a.kind for a in with_persist.actions] == ["mount", "unregister", "register", "persist"]
    assert with_persist.held_back == ()
    assert make_plan([outcome(Status.OK, make.mount())], persist=False) == Plan((), (), ())


def test_plan_keeps_the_order_of_actions_within_a_phase():
    outs = [outcome(Status.FAIL, make.register("qemu-b", ":qemu-b:E::b::/b:")),
            outcome(Status.FAIL, make.register("qemu-a", ":qemu-a:E::a::/a:"), make.json_set("/c.json", {"x": 1}))]
    plan = make_plan(outs, persist=False)
    assert [(a.kind, a.subject) for a in plan.actions] == [("register", "qemu-b"), ("register", "qemu-a"),
                                                           ("json-set", "/c.json")]
    assert not make_plan([outs[1]], persist=False).actions[-1].needs_root


def test_deferred_register_is_dropped_when_a_concrete_one_exists():
    outs = [outcome(Status.FAIL, make.install(("apt-get", "install", "-y", "qemu-user-static")),
                    make.register("qemu-arm")),
            outcome(Status.FAIL, make.register("qemu-arm", LINE))]
    assert [(a.kind, bool(a.line)) for a in make_plan(outs, persist=False).actions] == [("install", False),
                                                                                          ("register", True)]


def test_fix_json_keeps_its_shape_and_plugins_can_still_give_commands_only():
    fix = Fix.of("Mount it", make.mount())
    assert fix.to_dict() == {"title": "Mount it", "commands": [list(make.mount().argv)], "needs_root": True,
                             "actions": [{"kind": "mount", "subject": "", "line": "",
                                          "argv": list(make.mount().argv)}]}
    plugin = Fix("Do it", commands=[["echo", "hi"]], needs_root=False)
    assert plugin.to_dict() == {"title": "Do it", "commands": [["echo", "hi"]], "needs_root": False, "actions": []}
    assert Action("unregister", "qemu-arm") == Action("unregister", "qemu-arm", "", (), True)  # plain data


def test_register_and_persist_commands_are_copy_pasteable(tmp_path):
    action = make.register("qemu-arm", LINE)
    assert action.argv == ("sh", "-c", 'printf "%s\\n" "$1" > /proc/sys/fs/binfmt_misc/register', "sh", LINE)
    target = tmp_path / "qemu-arm.conf"
    subprocess.run(make.persist(str(target), LINE).argv, check=True)
    assert target.read_text() == LINE + "\n"  # the \\x7f escapes reach the file as typed


def test_resolver_reads_the_definition_the_package_installed():
    resolve = resolver(lambda: Context(root=str(HOSTS / "debian-12-amd64-qemu")))
    conf = (HOSTS / "debian-12-amd64-qemu/usr/lib/binfmt.d/qemu-aarch64.conf").read_text().splitlines()[0]
    assert resolve("qemu-aarch64") == conf
    assert resolve("qemu-no-such-cpu") is None


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


def test_fix_without_root_is_one_line_and_exit_1(capsys, monkeypatch, tmp_path):
    from mab_doctor.fix import plan as fixes

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(fixes, "make_plan", lambda outcomes, persist=False: Plan((make.mount(),), (), ()))
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


def test_json_set_on_real_files_keeps_every_key_and_the_mode_and_undoes(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "config.json"
    original = '{"auths": {"r.example": {"auth": "x"}}, "credsStore": "pass"}'
    config.write_text(original)
    config.chmod(0o600)
    apply([make.json_set(str(config), {"experimental": "enabled"})], journal.Journal.begin(), lambda n: None,
          lambda m: None)
    assert json.loads(config.read_text()) == {"auths": {"r.example": {"auth": "x"}}, "credsStore": "pass",
                                              "experimental": "enabled"}
    backup = tmp_path / "config.json.mab-doctor.bak"
    assert backup.read_text() == original and backup.stat().st_mode & 0o777 == 0o600  # it may hold credentials
    assert config.stat().st_mode & 0o777 == 0o600
    undo(journal.Journal.latest(), lambda m: None)
    assert config.read_text() == original and not backup.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "state"]


def test_json_set_command_is_runnable_and_needs_no_root(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"a": 1}')
    action = make.json_set(str(config), {"experimental": "enabled"})
    assert not action.needs_root and not Fix.of("t", action).needs_root
    subprocess.run(action.argv, check=True)
    assert json.loads(config.read_text()) == {"a": 1, "experimental": "enabled"}
