"""binfmt-mount inside real user namespaces of this kernel, against what exec really does there; host untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import binfmt_state
import pytest

from mab_doctor.emulation.instance import PER_USERNS_SINCE, kernel_version

DOCTOR = (sys.executable, "-m", "mab_doctor", "binfmt-mount", "--format", "json", "--platform", "linux/arm64",
          "--no-plugins")
MOUNT = "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"
OWN_NAMESPACE = ("unshare", "--user", "--map-root-user", "--mount")
# A fresh /proc (as a rootless container has): nothing is mounted on its /proc/sys/fs/binfmt_misc.
FRESH_PROC = ("unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--mount-proc")


@pytest.fixture
def host_binfmt(debian_host):
    """The host's binfmt_misc as Debian 12 with qemu-user-static boots it (mounted, handlers registered;
    put back as found afterwards), checked unchanged by what the test does in its namespaces."""
    if (kernel_version(os.uname().release) or (0, 0)) < PER_USERNS_SINCE:
        pytest.skip(f"kernel {os.uname().release}: binfmt_misc is per user namespace only from Linux 6.7")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    before = binfmt_state.snapshot()
    assert before.mounted  # debian_host mounted it: an own instance is stacked over it
    listing = sorted(os.listdir(binfmt_state.MOUNT_POINT))
    yield before
    assert sorted(os.listdir(binfmt_state.MOUNT_POINT)) == listing
    assert binfmt_state.snapshot() == before


def in_namespace(prefix: tuple[str, ...], script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, "sh", "-c", script, "sh", *args], capture_output=True, text=True, timeout=120)


def binfmt_mount_row(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode in (0, 1), done.stderr
    return next(r for r in json.loads(done.stdout)["results"] if r["name"] == "binfmt-mount")


def runs(prefix: tuple[str, ...], before: str, program: str) -> bool:
    done = in_namespace(prefix, f'{before}exec "$1" echo ran-here', program)
    return done.returncode == 0 and done.stdout.strip() == "ran-here"


def host_runs_arm64(busybox) -> bool:
    done = subprocess.run([str(busybox), "echo", "ran-here"], capture_output=True, text=True, timeout=60)
    return done.returncode == 0 and done.stdout.strip() == "ran-here"


def test_an_own_instance_in_a_new_user_namespace_is_named_and_really_empty(host_binfmt, busybox_arm64):
    row = binfmt_mount_row(in_namespace(OWN_NAMESPACE, f'{MOUNT} && exec "$@"', *DOCTOR))
    assert row["status"] == "warn" and row["fix"] is None
    assert row["summary"] == ("this user namespace has its own binfmt_misc instance, without QEMU handlers: emulated "
                              "steps started here fail with 'exec format error'")
    data = row["data"]["instance"]
    assert (data["kind"], data["initial_user_namespace"], data["per_user_namespace"]) == ("own", False, True)
    assert data["uid_map"] == [[0, os.geteuid(), 1]] and len(data["mount_devices"]) == 2
    assert row["data"]["entries"] == [] and row["data"]["status"] == "enabled"
    if not host_runs_arm64(busybox_arm64):
        pytest.skip("the host has no working arm64 handler: exec cannot be compared")
    assert not runs(OWN_NAMESPACE, f"{MOUNT} && ", str(busybox_arm64))  # truth: the own instance is empty
    assert runs(OWN_NAMESPACE, "", str(busybox_arm64))  # the same namespace without a mount reaches the host's


def test_no_mount_in_a_new_user_namespace_warns_and_exec_still_reaches_the_hosts_handlers(host_binfmt, busybox_arm64):
    row = binfmt_mount_row(in_namespace(FRESH_PROC, 'exec "$@"', *DOCTOR))
    assert row["status"] == "warn" and row["fix"] is None
    assert row["summary"] == ("binfmt_misc is not visible from this user namespace: builds started here use the "
                              "initial namespace's handlers, which cannot be listed from here")
    assert row["data"]["instance"]["kind"] == "inherited" and row["data"]["mounted"] is False
    if not host_runs_arm64(busybox_arm64):
        pytest.skip("the host has no working arm64 handler: exec cannot be compared")
    assert runs(FRESH_PROC, "", str(busybox_arm64))  # truth: the host's handlers still apply


def test_the_initial_namespace_is_named_as_such(host_binfmt):
    done = subprocess.run(DOCTOR, capture_output=True, text=True, timeout=120)
    data = binfmt_mount_row(done)["data"]["instance"]
    assert (data["kind"], data["initial_user_namespace"], data["uid_map"]) == ("initial", True, [[0, 0, 4294967295]])
