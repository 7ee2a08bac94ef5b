"""kernel-version, binfmt-kernel and binfmt-mount on synthetic trees."""

import gzip

import pytest

from mab_doctor.checks.binfmt_kernel import binfmt_kernel
from mab_doctor.checks.binfmt_mount import binfmt_mount, mount_types
from mab_doctor.checks.kernel_version import kernel_version
from mab_doctor.core.model import Status
from elfbuild import build_elf

BASE = {"/proc/sys/kernel/arch": "x86_64\n", "/usr/bin/sh": build_elf("x86_64"), "/bin": "-> usr/bin",
        "/etc/os-release": "ID=debian\nVERSION_ID=12\n"}
MOUNTINFO = ("22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
             "45 22 0:40 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw\n")


def host(make_host, release="6.1.0-13-amd64", targets="linux/amd64,linux/arm64", **files):
    return make_host({**BASE, "/proc/sys/kernel/osrelease": release + "\n", **files}, targets=targets)


@pytest.mark.parametrize("release, targets, status, phrase", [
    ("6.1.0-13-amd64", "linux/arm64", Status.OK, "(>= 4.8)"),
    ("4.8.0", "linux/arm64", Status.OK, "(>= 4.8)"),
    ("4.4.0-210-generic", "linux/arm64", Status.FAIL, "older than 4.8"),
    ("4.4.0-210-generic", "linux/amd64,linux/386", Status.OK, "every target runs natively"),
    ("weird", "linux/arm64", Status.WARN, "cannot parse"),
])
def test_kernel_version(make_host, release, targets, status, phrase):
    res = kernel_version(host(make_host, release, targets))
    assert res.status is status and phrase in res.summary
    if status is Status.FAIL:
        assert res.data["emulated_targets"] == ("linux/arm64",) and res.remediation


def test_binfmt_kernel_listed(make_host):
    res = binfmt_kernel(host(make_host, **{"/proc/filesystems": "nodev\tproc\nnodev\tbinfmt_misc\n"}))
    assert res.status is Status.OK and res.fix is None


def test_binfmt_kernel_module_not_loaded_from_config_gz(make_host):
    config = gzip.compress(b"CONFIG_BINFMT_SCRIPT=y\nCONFIG_BINFMT_MISC=m\n")
    res = binfmt_kernel(host(make_host, **{"/proc/filesystems": "nodev\tproc\n", "/proc/config.gz": config}))
    assert res.status is Status.WARN and "module that is not loaded" in res.summary
    assert res.fix.commands == (("modprobe", "binfmt_misc"),) and res.fix.needs_root


def test_binfmt_kernel_built_without(make_host):
    files = {"/proc/filesystems": "nodev\tproc\n",
             "/boot/config-6.1.0-13-amd64": "# CONFIG_BINFMT_MISC is not set\n"}
    res = binfmt_kernel(host(make_host, **files))
    assert res.status is Status.FAIL and "built without binfmt_misc" in res.summary
    native_only = binfmt_kernel(host(make_host, targets="linux/amd64", **files))
    assert native_only.status is Status.WARN


def test_binfmt_kernel_truncated_config_gz_is_not_a_crash(make_host):
    files = {"/proc/filesystems": "nodev\tproc\n", "/proc/config.gz": gzip.compress(b"CONFIG_X=y\n" * 50)[:20]}
    res = binfmt_kernel(host(make_host, **files))
    assert res.status is Status.FAIL and "no kernel config found" in res.details


def test_binfmt_kernel_unreadable_filesystems(make_host):
    res = binfmt_kernel(host(make_host, **{"/proc/filesystems/x": ""}))
    assert res.status is Status.WARN and "cannot read /proc/filesystems" in res.summary


def test_mount_types_parses_mountinfo():
    autofs = "30 22 0:26 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw,fd=29\n"
    assert mount_types(MOUNTINFO) == ["binfmt_misc"]
    assert mount_types(autofs + MOUNTINFO) == ["autofs", "binfmt_misc"]
    assert mount_types("garbage line\n") == []


def test_binfmt_mount_ok(make_host):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/status": "enabled\n",
             "/proc/sys/fs/binfmt_misc/register": "", "/proc/sys/fs/binfmt_misc/qemu-aarch64": "enabled\n"}
    res = binfmt_mount(host(make_host, **files))
    assert res.status is Status.OK and "1 entries registered" in res.summary
    assert res.data["entries"] == ("qemu-aarch64",)


def test_binfmt_mount_missing_is_fail_with_mount_fix(make_host):
    res = binfmt_mount(host(make_host, **{"/proc/self/mountinfo": MOUNTINFO.splitlines()[0]}))
    assert res.status is Status.FAIL and res.summary == "binfmt_misc is not mounted"
    assert res.fix.commands == (("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"),)
    assert "linux/arm64" in res.remediation


def test_binfmt_mount_not_needed_for_native_targets(make_host):
    res = binfmt_mount(host(make_host, targets="linux/amd64,linux/386", **{"/proc/self/mountinfo": ""}))
    assert res.status is Status.OK and "not needed" in res.summary


def test_binfmt_mount_disabled(make_host):
    files = {"/proc/self/mountinfo": MOUNTINFO, "/proc/sys/fs/binfmt_misc/status": "disabled\n"}
    res = binfmt_mount(host(make_host, **files))
    assert res.status is Status.FAIL and "globally disabled" in res.summary
    assert res.fix.commands == (("sh", "-c", "echo 1 > /proc/sys/fs/binfmt_misc/status"),)


def test_binfmt_mount_systemd_automount_in_an_image(make_host):
    autofs = "30 22 0:26 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw,fd=29\n"
    res = binfmt_mount(host(make_host, **{"/proc/self/mountinfo": autofs}))
    assert res.status is Status.WARN and "automount" in res.summary
