"""The opt-in C-flag fix: its register line, held back without --add-c-flag, apply and undo, the CLI."""

from __future__ import annotations

import pytest

from fakes.binfmt_kernel import FakeHost
from helpers import DEBIAN_AARCH64, entry_text
from mab_doctor.cli import main, parse
from mab_doctor.core.check import Check
from mab_doctor.core.model import Outcome, Result, Status
from mab_doctor.emulation.binfmt import MOUNT_POINT, parse_entry, parse_register_line
from mab_doctor.fix import actions as make
from mab_doctor.fix.journal import Journal, apply, undo
from mab_doctor.fix.plan import Plan, c_flag_fix, make_plan

INTERP = "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
# Debian's line written by hand with C added: the kernel's flag order (P O C F) and the offset the
# entry file prints (0) where Debian's line leaves the field empty.
WITH_C = (":qemu-aarch64:M:0:\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
          "\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff"
          "\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:POCF")
HINT = ("2 steps would add the C flag, so setuid programs keep their privileges under emulation: add --add-c-flag "
        "to include them (opt-in: QEMU then runs with the setuid program's credentials, so a flaw in QEMU becomes "
        "a privilege escalation).")


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))


def debian_entry(enabled: bool = True):
    return parse_entry("qemu-aarch64", entry_text(DEBIAN_AARCH64, enabled))


def warned(fix):
    return Outcome(Check("binfmt-handlers", "B", "emulation", run=None),
                   Result.warn("qemu-aarch64 has no C flag", target="linux/arm64", fix=fix))


def test_the_fix_replaces_debians_entry_with_the_same_line_plus_c():
    fix = c_flag_fix(debian_entry())
    assert fix.title == "Replace qemu-aarch64 with the C flag added (flags POCF); only with --add-c-flag"
    assert fix.actions == (make.unregister("qemu-aarch64"), make.register("qemu-aarch64", WITH_C))
    assert fix.opt_in == "--add-c-flag" and fix.needs_root
    # Nothing but the flags differs from Debian's own definition.
    ours, debian = parse_register_line(WITH_C), parse_register_line(DEBIAN_AARCH64)
    assert (ours.magic, ours.mask, ours.offset, ours.interpreter) == (debian.magic, debian.mask, 0, INTERP)
    assert (debian.flags, ours.flags) == ("POF", "POCF")


def test_c_brings_o_along_as_the_kernel_does():
    entry = parse_register_line(":qemu-riscv64:M::\\x7fELF::/usr/bin/qemu-riscv64-static:F")
    assert c_flag_fix(entry).actions[1].line == ":qemu-riscv64:M:0:\\x7f\\x45\\x4c\\x46::/usr/bin/qemu-riscv64-static:OCF"


@pytest.mark.parametrize("line", [":jar:E::jar::/usr/bin/jarwrapper:",              # protected name
                                  ":box64:M::\\x7fELF::/usr/bin/box64:F",            # another emulator
                                  ":qemu-arm:M::\\x7fELF::/usr/bin/qemu-arm-static:OCF"])  # has C already
def test_protected_foreign_or_c_entries_get_no_fix(line):
    assert c_flag_fix(parse_register_line(line)) is None


def test_without_the_option_the_steps_are_held_back_and_named():
    plan = make_plan([warned(c_flag_fix(debian_entry()))], persist=True)
    assert plan.actions == () and plan.unfixable == ()
    assert plan.held_back == (make.unregister("qemu-aarch64"), make.register("qemu-aarch64", WITH_C))
    assert plan.held_for == ("--add-c-flag", "--add-c-flag")


def test_with_the_option_the_plan_replaces_the_entry():
    plan = make_plan([warned(c_flag_fix(debian_entry()))], persist=False, add_c_flag=True)
    assert [(a.kind, a.subject, a.line) for a in plan.actions] == [("unregister", "qemu-aarch64", ""),
                                                                    ("register", "qemu-aarch64", WITH_C)]
    assert plan.held_back == () and plan.held_for == ()


def test_persist_steps_stay_with_persist_alone():
    persist = make.persist("/etc/binfmt.d/qemu-arm.conf", ":qemu-arm:M::\\x7fELF::/usr/bin/qemu-arm-static:F")
    outs = [warned(c_flag_fix(debian_entry())), warned(make_fix_of(persist))]
    plan = make_plan(outs, persist=False, add_c_flag=True)
    assert [a.kind for a in plan.actions] == ["unregister", "register"]
    assert plan.held_back == (persist,) and plan.held_for == ("--persist",)


def make_fix_of(*actions):
    from mab_doctor.core.model import Fix
    return Fix.of("t", *actions)


@pytest.mark.parametrize("enabled", [True, False])
def test_apply_then_undo_restores_the_entry_text_byte_for_byte(enabled):
    host = FakeHost(files={INTERP: ""})
    host.register(DEBIAN_AARCH64)
    if not enabled:
        host.write_control(f"{MOUNT_POINT}/qemu-aarch64", "0")
    before = host.read(f"{MOUNT_POINT}/qemu-aarch64")
    journal = Journal.begin()
    apply(list(c_flag_fix(debian_entry(enabled)).actions), journal, lambda n: None, lambda m: None, writer=host)
    assert host.read(f"{MOUNT_POINT}/qemu-aarch64") == before.replace("disabled", "enabled").replace(
        "flags: POF\n", "flags: POCF\n")
    assert [(s["kind"], s["state"]) for s in journal.steps] == [("unregister", "done"), ("register", "done")]
    assert journal.steps[0]["before"] == before
    undo(Journal.latest(), lambda m: None, writer=host)
    assert host.read(f"{MOUNT_POINT}/qemu-aarch64") == before
    assert Journal.latest() is None


def test_add_c_flag_without_fix_is_a_one_line_usage_error(capsys):
    assert main(["--add-c-flag"]) == 2
    err = capsys.readouterr().err
    assert err == "mab-doctor: error: --dry-run, --yes, --persist and --add-c-flag only go with --fix\n"


def test_the_option_reaches_options_with_fix_only():
    assert parse(["--fix", "--add-c-flag"]).add_c_flag is True
    assert parse(["fix", "--add-c-flag"]).add_c_flag is True
    assert parse(["fix"]).add_c_flag is False


def test_fix_help_lists_the_option(capsys):
    assert main(["fix", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("--add-c-flag with --fix: also add the C flag to QEMU handlers (setuid programs keep their "
            "privileges under emulation; QEMU then runs with them)") in out


@pytest.mark.parametrize("extra, asked", [([], False), (["--add-c-flag"], True)])
def test_the_dry_run_names_the_option_and_its_price(capsys, monkeypatch, extra, asked):
    from mab_doctor.fix import plan as fixes

    held = c_flag_fix(debian_entry()).actions
    seen = []
    monkeypatch.setattr(fixes, "make_plan", lambda outcomes, persist=False, add_c_flag=False:
                        seen.append(add_c_flag) or Plan((), held, (), ("--add-c-flag",) * 2))
    main(["--fix", "--dry-run", "binfmt-kernel", *extra])
    out = " ".join(capsys.readouterr().out.split())
    assert f"Nothing to change: {HINT}" in out and seen == [asked]
