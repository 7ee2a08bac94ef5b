"""binfmt-persist on synthetic trees: binfmt.d masking, the F flag, binfmt-support, boot-time replay."""

import pytest

from elfbuild import build_elf
from helpers import DEBIAN_AARCH64, entry_text
from mab_doctor.checks.binfmt_persist import binfmt_persist, boot_replayers
from mab_doctor.core.context import Uname
from mab_doctor.core.model import Status

MULTI_USER_WANTS = "/etc/systemd/system/multi-user.target.wants/binfmt-support.service"
SYSINIT_WANTS = "/etc/systemd/system/sysinit.target.wants/binfmt-support.service"
# binfmt-support's admin file for Debian's arm64 handler: credentials no, preserve yes, fix_binary yes.
ADMIN = ("qemu-user-static\nmagic\n0\n\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
         "\\x00\\x00\\x02\\x00\\xb7\\x00\n\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff"
         "\\xff\\xff\\xfe\\xff\\xff\\xff\n/usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\nno\nyes\nyes\n")
ADMIN_NO_F = ADMIN[:-len("yes\n")] + "no\n"
PERSIST = {"/usr/lib/systemd/systemd": build_elf("x86_64"), "/usr/lib/systemd/systemd-binfmt": build_elf("x86_64")}


def persist(make_host, files, target="linux/arm64"):
    (res,) = binfmt_persist(make_host(files, targets=target))
    return res


def test_persisted_with_f_by_systemd(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)},
                        **PERSIST, **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.OK
    assert res.summary == "comes back at boot with F (/usr/lib/binfmt.d/qemu-aarch64.conf, by systemd-binfmt)"
    assert res.details == ("/usr/lib/binfmt.d/qemu-aarch64.conf: qemu-aarch64, flags 'POF' "
                           "(replayed by systemd-binfmt)",
                           "boot-time replay on this host: systemd-binfmt (PID 1 is systemd)")
    assert res.data == {"handler": "qemu-aarch64", "stored": ("/usr/lib/binfmt.d/qemu-aarch64.conf",),
                        "replayers": ("systemd-binfmt",), "grid": {"persists": "status"}}
    assert res.fix is None and res.remediation is None


def test_etc_masks_usr_lib_and_lacks_f(make_host, binfmt_tree):
    no_f = DEBIAN_AARCH64.replace(":OPF", ":OP")
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n",
                    "/etc/binfmt.d/qemu-aarch64.conf": "# local override\n" + no_f + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.WARN and res.summary == (
        "linux/arm64 comes back after reboot without the F flag (/etc/binfmt.d/qemu-aarch64.conf): "
        "containers will fail")
    assert res.remediation == "Persist it with F: `sudo mab-doctor --fix --persist`."
    (action,) = res.fix.actions
    assert action.kind == "persist" and action.subject == "/etc/binfmt.d/qemu-aarch64.conf"
    assert action.line.endswith(":POF")


def test_only_in_the_running_kernel(make_host, binfmt_tree):
    res = persist(make_host, binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST))
    assert res.status is Status.WARN
    assert res.summary == "qemu-aarch64 is registered only in the running kernel: gone after reboot"
    assert res.remediation == "Persist it: `sudo mab-doctor --fix --persist`."
    assert res.fix.title == "Persist qemu-aarch64 in /etc/binfmt.d (with F)"
    assert res.details == ("boot-time replay on this host: systemd-binfmt (PID 1 is systemd)",)


def test_stored_but_no_init_replays_it(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)},
                        **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.WARN and res.fix is None
    assert res.summary == "nothing replays handlers at boot here (PID 1 is ?); binfmt.d has it with F"
    assert res.remediation == ("Boot with systemd (systemd-binfmt) or enable binfmt-support; otherwise run "
                               "`mab-doctor --fix --yes` from your boot or CI set-up.")
    assert res.details[-1] == "boot-time replay on this host: none (PID 1 is ?)"


def test_no_init_and_a_binfmt_d_definition_without_f(make_host, binfmt_tree):
    no_f = DEBIAN_AARCH64.replace(":OPF", ":OP")
    res = persist(make_host, binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)},
                                         **{"/usr/lib/binfmt.d/qemu-aarch64.conf": no_f + "\n"}))
    assert res.status is Status.WARN and res.summary == (
        "nothing replays handlers at boot here (PID 1 is ?); and the binfmt.d definition comes back without the F flag")
    assert res.fix.title == "Persist qemu-aarch64 in /etc/binfmt.d (with F)"


def test_no_init_and_only_a_binfmt_support_definition(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **{"/var/lib/binfmts/qemu-aarch64": ADMIN})
    res = persist(make_host, files)
    assert res.status is Status.WARN
    assert res.summary == "nothing replays handlers at boot here (PID 1 is ?); and binfmt.d has no definition"
    assert res.fix.title == "Persist qemu-aarch64 in /etc/binfmt.d (with F)"
    assert res.details == ("/var/lib/binfmts/qemu-aarch64: qemu-aarch64, flags 'PF' (replayed by binfmt-support)",
                           "boot-time replay on this host: none (PID 1 is ?)")


def test_binfmt_support_admin_file_counts(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/var/lib/binfmts/qemu-aarch64": ADMIN, MULTI_USER_WANTS: ""})
    res = persist(make_host, files)
    assert res.status is Status.OK
    assert res.summary == "comes back at boot with F (/var/lib/binfmts/qemu-aarch64, by binfmt-support)"
    assert res.data["replayers"] == ("systemd-binfmt", "binfmt-support")


def test_binfmt_support_definition_without_f_warns_even_beside_a_good_binfmt_d(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/var/lib/binfmts/qemu-aarch64": ADMIN_NO_F, MULTI_USER_WANTS: "",
                           "/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.WARN and res.summary == (
        "linux/arm64 comes back after reboot without the F flag (/var/lib/binfmts/qemu-aarch64): containers will fail")
    assert res.fix is None  # --persist manages binfmt.d only, and that one already has F


def test_binfmt_support_definition_without_f_gets_a_binfmt_d_fix(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/var/lib/binfmts/qemu-aarch64": ADMIN_NO_F, MULTI_USER_WANTS: ""})
    res = persist(make_host, files)
    assert res.summary == ("linux/arm64 comes back after reboot without the F flag (/var/lib/binfmts/qemu-aarch64): "
                           "containers will fail")
    assert res.fix.title == "Persist qemu-aarch64 in /etc/binfmt.d (with F)"


def test_a_binfmt_support_definition_nobody_replays_does_not_count(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/var/lib/binfmts/qemu-aarch64": ADMIN})
    res = persist(make_host, files)
    assert res.status is Status.WARN
    assert res.summary == "qemu-aarch64 is registered only in the running kernel: gone after reboot"
    assert res.fix.title == "Persist qemu-aarch64 in /etc/binfmt.d (with F)"


def test_no_handler_means_nothing_to_persist(make_host, binfmt_tree):
    res = persist(make_host, binfmt_tree({}, **PERSIST))
    assert res.status is Status.SKIP and res.summary == "no handler registered now (see binfmt-handlers)"


def test_native_targets_have_nothing_to_persist(make_host, binfmt_tree):
    results = binfmt_persist(make_host(binfmt_tree({}, **PERSIST), targets="linux/amd64,linux/arm64"))
    assert [(r.target, r.status, r.summary) for r in results] == [
        ("linux/amd64", Status.OK, "native: nothing to persist"),
        ("linux/arm64", Status.SKIP, "no handler registered now (see binfmt-handlers)")]



def test_a_target_without_handler_does_not_stop_the_next_one(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    results = binfmt_persist(make_host(files, targets="linux/riscv64,linux/arm64"))
    assert [(r.target, r.status) for r in results] == [("linux/riscv64", Status.SKIP), ("linux/arm64", Status.OK)]


SYSTEMD_BINFMT = "/usr/lib/systemd/systemd-binfmt"


@pytest.mark.parametrize("files, found, init", [
    ({}, [], "PID 1 is ?"),
    ({"/lib/systemd/systemd": "x"}, [], "PID 1 is systemd"),
    ({"/lib/systemd/systemd": "x", "/lib/systemd/systemd-binfmt": "x"}, ["systemd-binfmt"], "PID 1 is systemd"),
    ({"/usr/lib/systemd/systemd": "x", SYSTEMD_BINFMT: "x"}, ["systemd-binfmt"], "PID 1 is systemd"),
    ({"/usr/lib/systemd/systemd": "x", MULTI_USER_WANTS: ""}, ["binfmt-support"], "PID 1 is systemd"),
    ({"/usr/lib/systemd/systemd": "x", SYSINIT_WANTS: ""}, ["binfmt-support"], "PID 1 is systemd"),
    ({"/usr/lib/systemd/systemd": "x", SYSTEMD_BINFMT: "x", SYSINIT_WANTS: ""}, ["systemd-binfmt", "binfmt-support"],
     "PID 1 is systemd"),
    ({SYSTEMD_BINFMT: "x", MULTI_USER_WANTS: "", "/etc/rcS.d/S01binfmt-support": ""}, [], "PID 1 is ?"),
])
def test_boot_replayers_of_a_captured_tree(make_host, files, found, init):
    assert boot_replayers(make_host(files)) == (found, init)


@pytest.mark.parametrize("files, found, init", [
    ({}, [], "PID 1 is ?"),
    ({"/proc/1/comm": "systemd\n", SYSTEMD_BINFMT: "x"}, [], "PID 1 is systemd"),  # not booted by systemd
    ({"/proc/1/comm": "systemd\n", "/run/systemd/system/x": "", SYSTEMD_BINFMT: "x"}, ["systemd-binfmt"],
     "PID 1 is systemd"),
    ({"/proc/1/comm": "systemd\n", "/run/systemd/system/x": "", MULTI_USER_WANTS: ""}, ["binfmt-support"],
     "PID 1 is systemd"),
    ({"/proc/1/comm": "init\n", "/etc/rcS.d/S01binfmt-support": ""}, ["binfmt-support"], "PID 1 is init"),
    ({"/proc/1/comm": "init\n", "/etc/rc2.d/S02binfmt-support": ""}, ["binfmt-support"], "PID 1 is init"),
    ({"/proc/1/comm": "init\n", "/etc/rcS.d/K01binfmt-support": ""}, [], "PID 1 is init"),
    ({"/proc/1/comm": "init\n", "/etc/rcS.d/S01other": ""}, [], "PID 1 is init"),
    ({"/proc/1/comm": "tini\n", "/etc/rcS.d/S01binfmt-support": ""}, [], "PID 1 is tini"),
])
def test_boot_replayers_of_the_live_host(make_host, files, found, init):
    assert boot_replayers(make_host(files, live=True, uname_override=Uname("6.1.0", "x86_64"))) == (found, init)


def test_with_two_replayed_definitions_the_binfmt_d_one_is_named(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/var/lib/binfmts/qemu-aarch64": ADMIN, SYSINIT_WANTS: "",
                           "/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.OK
    assert res.summary == "comes back at boot with F (/usr/lib/binfmt.d/qemu-aarch64.conf, by systemd-binfmt)"
    assert res.data["stored"] == ("/usr/lib/binfmt.d/qemu-aarch64.conf", "/var/lib/binfmts/qemu-aarch64")


def test_with_two_definitions_without_f_the_binfmt_d_one_is_named(make_host, binfmt_tree):
    no_f = DEBIAN_AARCH64.replace(":OPF", ":OP")
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **PERSIST,
                        **{"/var/lib/binfmts/qemu-aarch64": ADMIN_NO_F, SYSINIT_WANTS: "",
                           "/usr/lib/binfmt.d/qemu-aarch64.conf": no_f + "\n"})
    res = persist(make_host, files)
    assert res.status is Status.WARN and res.summary == (
        "linux/arm64 comes back after reboot without the F flag (/usr/lib/binfmt.d/qemu-aarch64.conf): "
        "containers will fail")


def test_the_declaration():
    c = binfmt_persist
    assert (c.name, c.title, c.category, c.requires, c.per_target, c.fixable) == (
        "binfmt-persist", "Handler survives reboot", "emulation", ("binfmt-handlers",), True, True)
    assert c.doc.startswith("What it checks: ")
