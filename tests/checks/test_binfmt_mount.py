"""binfmt-mount: mountinfo, the status file and systemd's automount, on synthetic trees."""

import os

from mab_doctor.checks.binfmt_mount import binfmt_mount, mount_types
from mab_doctor.core.model import Status

MOUNTINFO = ("22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
             "45 22 0:40 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw\n")



def host(make_host, base_host, release="6.1.0-13-amd64", targets="linux/amd64,linux/arm64", **files):
    return make_host({**base_host, "/proc/sys/kernel/osrelease": release + "\n", **files}, targets=targets)


def test_mount_types_parses_mountinfo():
    autofs = "30 22 0:26 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw,fd=29\n"
    assert mount_types(MOUNTINFO) == ["binfmt_misc"]
    assert mount_types(autofs + MOUNTINFO) == ["autofs", "binfmt_misc"]
    assert mount_types("garbage line\n") == []


def test_binfmt_mount_ok(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/status": "enabled\n",
             "/proc/sys/fs/binfmt_misc/register": "", "/proc/sys/fs/binfmt_misc/qemu-aarch64": "enabled\n"}
    res = binfmt_mount(host(make_host, base_host, **files))
    assert res.status is Status.OK and "1 entries registered" in res.summary
    assert res.data["entries"] == ("qemu-aarch64",)


def test_binfmt_mount_missing_is_fail_with_mount_fix(make_host, base_host):
    res = binfmt_mount(host(make_host, base_host, **{"/proc/self/mountinfo": MOUNTINFO.splitlines()[0]}))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not mounted"
    assert res.fix.commands == (("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"),)
    assert "linux/arm64" in res.remediation


def test_binfmt_mount_not_needed_for_native_targets(make_host, base_host):
    res = binfmt_mount(host(make_host, base_host, targets="linux/amd64,linux/386", **{"/proc/self/mountinfo": ""}))
    assert res.status is Status.OK and "not needed" in res.summary


def test_binfmt_mount_disabled(make_host, base_host):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/status": "disabled\n"}
    res = binfmt_mount(host(make_host, base_host, **files))
    assert res.status is Status.FAIL and "globally disabled" in res.summary
    assert res.fix.commands == (("sh", "-c", "echo 1 > /proc/sys/fs/binfmt_misc/status"),)


def test_binfmt_mount_systemd_automount_in_an_image(make_host, base_host):
    autofs = "30 22 0:26 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw,fd=29\n"
    res = binfmt_mount(host(make_host, base_host, **{"/proc/self/mountinfo": autofs}))
    assert res.status is Status.WARN and "automount" in res.summary


def test_a_status_that_is_not_a_regular_file_is_unreadable_not_unmounted(make_host, base_host):
    ctx = host(make_host, base_host, **{"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/register": ""})
    os.mkfifo(ctx.path("/proc/sys/fs/binfmt_misc/status"))
    res = binfmt_mount(ctx)
    assert res.status is Status.FAIL and res.fix is None
    assert res.summary == "cannot read /proc/sys/fs/binfmt_misc/status: a FIFO, not a regular file: not read"
