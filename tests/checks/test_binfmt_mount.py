"""binfmt-mount: mountinfo, the status file and systemd's automount, on synthetic trees."""

import os

import pytest

from mab_doctor.checks.binfmt_mount import binfmt_mount, mount_types
from mab_doctor.core.context import Uname
from mab_doctor.core.model import Status

MOUNTINFO = ("22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
             "45 22 0:40 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw\n")


ROOTLESS_61 = ("the host's handlers: rootless Podman and Buildah build in a user namespace of the invoking user, "
               "and before Linux 6.7 binfmt_misc is one table for the whole system")
ROOTLESS_68 = ("the host's handlers, unless binfmt_misc was ever mounted in the user namespace they build in (a "
               "rootless `podman run --privileged` of a binfmt installer does that): then that namespace's own "
               "instance, empty once the installer's container is gone; `mab-doctor --build` shows which")
IDENTITY = "         0          0 4294967295\n"
ROOT_AS_ROOT = "         0          0          1\n"
OWN_MOUNT = "46 45 0:49 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw\n"


def host(make_host, base_host, release="6.1.0-13-amd64", targets="linux/amd64,linux/arm64", **files):
    return make_host({**base_host, "/proc/sys/kernel/osrelease": release + "\n", **files}, targets=targets)


def test_mount_types_parses_mountinfo():
    autofs = "30 22 0:26 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw,fd=29\n"
    assert mount_types(MOUNTINFO) == ["binfmt_misc"]
    assert mount_types(autofs + MOUNTINFO) == ["autofs", "binfmt_misc"]
    assert mount_types("garbage line\n") == []


@pytest.mark.parametrize("line, types", [
    ("1 2 3 4 /proc/sys/fs/binfmt_misc - binfmt_misc x rw", ["binfmt_misc"]),  # exactly five fields left of " - "
    ("1 2 3 /proc/sys/fs/binfmt_misc - binfmt_misc x rw", []),                 # four: no mount point field
    ("1 2 3 4 /proc/sys/fs/binfmt_misc -", []),                                # nothing right of the separator
    ("1 2 3 4 /proc/sys/fs/binfmt_misc - ", []),
    ("1 2 3 4 /proc/sys/fs/binfmt_misc binfmt_misc x rw", []),                 # no separator at all
    ("1 2 3 4 /proc/sys/fs - binfmt_misc x rw", []),                           # another mount point
    ("1 2 3 4 /sys - sysfs x rw", []),
    ("1 2 3 4 /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw\n1 2 3 4 /proc/sys/fs/binfmt_misc rw - binfmt_misc b",
     ["autofs", "binfmt_misc"]),
])
def test_mount_types_reads_the_fifth_field_and_the_type(line, types):
    assert mount_types(line) == types


def test_binfmt_mount_ok(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/status": "enabled\n",
             "/proc/sys/fs/binfmt_misc/register": "", "/proc/sys/fs/binfmt_misc/qemu-aarch64": "enabled\n"}
    res = binfmt_mount(host(make_host, base_host, **files))
    assert res.status is Status.OK and res.summary == "mounted and enabled (1 entries registered)"
    assert res.details == ("mountinfo at /proc/sys/fs/binfmt_misc: binfmt_misc",
                           "/proc/sys/fs/binfmt_misc/status: enabled",
                           "registered entries: qemu-aarch64",
                           "binfmt_misc instance: not known: /proc/self/uid_map: not found")
    assert {k: v for k, v in res.data.items() if k != "instance"} == {
        "mounted": True, "mount_types": ("binfmt_misc",), "status": "enabled", "entries": ("qemu-aarch64",),
        "needed_for": ("linux/arm64",)}
    assert res.data["instance"] == {
        "kind": "unknown", "sees": "not known: /proc/self/uid_map: not found", "initial_user_namespace": None,
        "uid_map": (), "uid_map_problem": "/proc/self/uid_map: not found", "kernel_release": "6.1.0-13-amd64",
        "per_user_namespace": False, "mount_devices": ("0:40",), "rootless_podman": ROOTLESS_61, "wsl2": False,
        "wsl2_evidence": (), "wsl_interop_entries": ()}
    assert res.fix is None and res.remediation is None


def test_binfmt_mount_ok_without_entries(make_host, base_host):
    files = {"/proc/sys/fs/binfmt_misc/status": "  enabled \n", "/proc/sys/fs/binfmt_misc/register": ""}
    res = binfmt_mount(host(make_host, base_host, **files))
    assert res.status is Status.OK and res.summary == "mounted and enabled (0 entries registered)"
    assert res.details == ("mountinfo at /proc/sys/fs/binfmt_misc: nothing", "/proc/sys/fs/binfmt_misc/status: enabled",
                           "registered entries: none", "binfmt_misc instance: not known: /proc/self/uid_map: not found")


def test_binfmt_mount_missing_is_fail_with_mount_fix(make_host, base_host):
    res = binfmt_mount(host(make_host, base_host, **{"/proc/self/mountinfo": MOUNTINFO.splitlines()[0]}))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not mounted"
    assert res.fix.commands == (("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"),)
    assert res.remediation == ("Mount it: `sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc` "
                               "(needed for linux/arm64)")
    assert res.details == ("mountinfo at /proc/sys/fs/binfmt_misc: nothing",
                           "/proc/sys/fs/binfmt_misc/status: not found", "binfmt_misc instance: not known: /proc/self/uid_map: not found")
    assert {k: v for k, v in res.data.items() if k != "instance"} == {
        "mounted": False, "mount_types": (), "status": None, "entries": (), "needed_for": ("linux/arm64",)}


def test_binfmt_mount_missing_names_every_target_that_needs_it(make_host, base_host):
    res = binfmt_mount(host(make_host, base_host, targets="linux/arm64,linux/amd64,linux/riscv64"))
    assert res.status is Status.FAIL and res.remediation == (
        "Mount it: `sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc` "
        "(needed for linux/arm64, linux/riscv64)")


def test_binfmt_mount_not_needed_for_native_targets(make_host, base_host):
    res = binfmt_mount(host(make_host, base_host, targets="linux/amd64,linux/386", **{"/proc/self/mountinfo": ""}))
    assert res.status is Status.OK and res.summary == "not mounted, and not needed: every target runs natively"
    assert res.fix is None


def test_binfmt_mount_disabled(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/status": "disabled\n"}
    res = binfmt_mount(host(make_host, base_host, **files))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is mounted but globally disabled: no handler runs"
    assert res.fix.commands == (("sh", "-c", "echo 1 > /proc/sys/fs/binfmt_misc/status"),)
    assert res.remediation == "Enable it: `echo 1 | sudo tee /proc/sys/fs/binfmt_misc/status`"
    assert res.details[1:] == ("/proc/sys/fs/binfmt_misc/status: disabled", "registered entries: none", "binfmt_misc instance: not known: /proc/self/uid_map: not found")


@pytest.mark.parametrize("status", ["disabled\n", "", "weird\n"])
def test_binfmt_mount_disabled_but_not_needed_only_warns(make_host, base_host, status):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/status": status}
    res = binfmt_mount(host(make_host, base_host, targets="linux/amd64", **files))
    assert res.status is Status.WARN and res.summary == "binfmt_misc is mounted but globally disabled: no handler runs"
    assert res.fix.commands == (("sh", "-c", "echo 1 > /proc/sys/fs/binfmt_misc/status"),)


def test_binfmt_mount_systemd_automount_in_an_image(make_host, base_host):
    autofs = "30 22 0:26 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw,fd=29\n"
    res = binfmt_mount(host(make_host, base_host, **{"/proc/self/mountinfo": autofs}))
    assert res.status is Status.WARN
    assert res.summary == "systemd automount is set up; binfmt_misc mounts on first access"
    assert res.remediation == "Mount it now: `sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc`"
    assert res.fix.commands == (("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"),)
    assert res.details[0] == "mountinfo at /proc/sys/fs/binfmt_misc: autofs"


def test_an_automount_on_the_live_host_should_have_mounted_already(make_host, base_host):
    autofs = "30 22 0:26 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw,fd=29\n"
    ctx = make_host({**base_host, "/proc/self/mountinfo": autofs}, targets="linux/arm64", live=True,
                    uname_override=Uname("6.1.0", "x86_64"))
    res = binfmt_mount(ctx)
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not mounted"


def test_an_automount_beside_a_binfmt_misc_mount_without_status_is_not_mounted(make_host, base_host):
    autofs = "30 22 0:26 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw,fd=29\n"
    res = binfmt_mount(host(make_host, base_host, **{"/proc/self/mountinfo": autofs + MOUNTINFO}))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not mounted"
    assert res.details[0] == "mountinfo at /proc/sys/fs/binfmt_misc: autofs, binfmt_misc"


def test_a_status_that_is_not_a_regular_file_is_unreadable_not_unmounted(make_host, base_host):
    ctx = host(make_host, base_host, **{"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/register": ""})
    os.mkfifo(ctx.path("/proc/sys/fs/binfmt_misc/status"))
    res = binfmt_mount(ctx)
    assert res.status is Status.FAIL and res.fix is None
    assert res.summary == "cannot read /proc/sys/fs/binfmt_misc/status: a FIFO, not a regular file: not read"
    assert res.remediation == ("Check what /proc/sys/fs/binfmt_misc holds (`ls -l /proc/sys/fs/binfmt_misc`); the "
                               "kernel's binfmt_misc status is a readable regular file.")
    assert res.details[1] == "/proc/sys/fs/binfmt_misc/status: a FIFO, not a regular file: not read"


def test_an_unreadable_status_only_warns_when_nothing_needs_emulation(make_host, base_host):
    ctx = host(make_host, base_host, targets="linux/amd64", **{"/proc/sys/fs/binfmt_misc/register": ""})
    os.mkfifo(ctx.path("/proc/sys/fs/binfmt_misc/status"))
    res = binfmt_mount(ctx)
    assert res.status is Status.WARN and res.fix is None
    assert res.summary == "cannot read /proc/sys/fs/binfmt_misc/status: a FIFO, not a regular file: not read"


def test_the_declaration():
    c = binfmt_mount
    assert (c.name, c.title, c.category, c.requires, c.per_target, c.fixable) == (
        "binfmt-mount", "binfmt_misc mount", "kernel", ("binfmt-kernel",), False, True)
    assert c.doc.startswith("What it checks: ")


def test_the_doc_has_the_three_sections_and_names_the_new_cases():
    doc = " ".join(binfmt_mount.doc.split())
    assert [doc.find(s) >= 0 for s in ("What it checks:", "Why it matters:", "How to fix:")] == [True] * 3
    assert doc.index("What it checks:") < doc.index("Why it matters:") < doc.index("How to fix:")
    for words in ("/proc/self/uid_map is the identity map", "Linux 6.7", "rootless Podman", "WSL 2",
                  "`sudo mab-doctor --fix --persist`", "`command =` under `[boot]` in /etc/wsl.conf"):
        assert words in doc, words


def test_the_initial_namespace_says_so_and_names_rootless_podman_when_podman_is_there(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/self/uid_map": IDENTITY, "/usr/bin/podman": "#!/bin/sh\n",
             "/proc/sys/fs/binfmt_misc/status": "enabled\n", "/proc/sys/fs/binfmt_misc/register": ""}
    ctx = host(make_host, base_host, release="6.8.0-44-generic", **files)
    ctx.path("/usr/bin/podman").chmod(0o755)
    res = binfmt_mount(ctx)
    assert res.status is Status.OK and res.summary == "mounted and enabled (0 entries registered)"
    assert res.details[3:] == (
        "binfmt_misc instance: the initial user namespace's: this process is in the initial user namespace (its "
        "uid_map is the identity map), so it sees and uses the host's table",
        f"rootless Podman/Buildah builds use: {ROOTLESS_68}")
    assert (res.data["instance"]["kind"], res.data["instance"]["initial_user_namespace"],
            res.data["instance"]["uid_map"], res.data["instance"]["per_user_namespace"]) == (
        "initial", True, ((0, 0, 4294967295),), True)


def test_without_podman_the_initial_namespace_gets_one_line(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/self/uid_map": IDENTITY,
             "/proc/sys/fs/binfmt_misc/status": "enabled\n", "/proc/sys/fs/binfmt_misc/register": ""}
    res = binfmt_mount(host(make_host, base_host, release="6.8.0-44-generic", **files))
    assert len(res.details) == 4 and res.details[3].startswith("binfmt_misc instance: the initial user namespace's")


def test_not_mounted_in_another_namespace_is_a_warn_without_the_mount_fix(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO.splitlines()[0] + "\n", "/proc/self/uid_map": ROOT_AS_ROOT}
    res = binfmt_mount(host(make_host, base_host, release="6.1.0-13-amd64", **files))
    assert res.status is Status.WARN and res.fix is None
    assert res.summary == ("binfmt_misc is not visible from this user namespace: builds started here use the "
                           "initial namespace's handlers, which cannot be listed from here")
    assert res.remediation.startswith("Check the handlers from the host (run mab-doctor outside this user namespace "
                                      "or container), or prove them with `mab-doctor --build`.")
    assert res.details[2] == ("binfmt_misc instance: inherited from the initial namespace: this process is in a user "
                              "namespace other than the initial one, on kernel 6.1.0-13-amd64, older than 6.7, which "
                              "has one binfmt_misc table for the whole system")


def test_not_mounted_in_another_namespace_and_not_needed_stays_ok(make_host, base_host):
    files = {"/proc/self/mountinfo": "", "/proc/self/uid_map": ROOT_AS_ROOT}
    res = binfmt_mount(host(make_host, base_host, targets="linux/amd64", **files))
    assert res.status is Status.OK and res.summary == "not mounted, and not needed: every target runs natively"


def test_not_mounted_in_the_initial_namespace_keeps_the_fail_and_the_mount_fix(make_host, base_host):
    files = {"/proc/self/mountinfo": "", "/proc/self/uid_map": IDENTITY}
    res = binfmt_mount(host(make_host, base_host, release="6.8.0-44-generic", **files))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not mounted"
    assert res.fix.commands == (("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"),)


def test_an_own_instance_with_a_qemu_handler_is_ok(make_host, base_host):
    from helpers import DEBIAN_AARCH64, entry_text

    files = {"/proc/self/mountinfo": MOUNTINFO + OWN_MOUNT, "/proc/self/uid_map": ROOT_AS_ROOT,
             "/proc/sys/fs/binfmt_misc/status": "enabled\n", "/proc/sys/fs/binfmt_misc/register": "",
             "/proc/sys/fs/binfmt_misc/qemu-aarch64": entry_text(DEBIAN_AARCH64)}
    res = binfmt_mount(host(make_host, base_host, release="6.8.0-44-generic", **files))
    assert res.status is Status.OK and res.summary == "mounted and enabled (1 entries registered)"
    assert res.data["instance"]["kind"] == "own" and res.data["instance"]["mount_devices"] == ("0:40", "0:49")


def test_an_own_instance_with_only_other_handlers_still_warns(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO + OWN_MOUNT, "/proc/self/uid_map": ROOT_AS_ROOT,
             "/proc/sys/fs/binfmt_misc/status": "enabled\n", "/proc/sys/fs/binfmt_misc/register": "",
             "/proc/sys/fs/binfmt_misc/python3.11": "enabled\ninterpreter /usr/bin/python3.11\nflags: \n"
                                                    "offset 0\nmagic a70d0d0a\n"}
    res = binfmt_mount(host(make_host, base_host, release="6.8.0-44-generic", **files))
    assert res.status is Status.WARN and res.summary.startswith("this user namespace has its own binfmt_misc "
                                                                "instance, without QEMU handlers")


def test_a_disabled_own_instance_is_the_disabled_fail_with_the_enable_fix(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO + OWN_MOUNT, "/proc/self/uid_map": ROOT_AS_ROOT,
             "/proc/sys/fs/binfmt_misc/status": "disabled\n", "/proc/sys/fs/binfmt_misc/register": ""}
    res = binfmt_mount(host(make_host, base_host, release="6.8.0-44-generic", **files))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is mounted but globally disabled: no handler runs"
    assert res.fix.commands == (("sh", "-c", "echo 1 > /proc/sys/fs/binfmt_misc/status"),)
