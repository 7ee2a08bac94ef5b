"""kernel-version: the release against the F-flag minimum, only when a target needs emulation."""

import pytest

from mab_doctor.checks.kernel_version import kernel_version
from mab_doctor.core.model import Status

FIX_BINARY_SOURCE = "minimum for the F flag: 4.8 (https://github.com/docker/buildx/pull/219)"


def host(make_host, base_host, release="6.1.0-13-amd64", targets="linux/amd64,linux/arm64", **files):
    return make_host({**base_host, "/proc/sys/kernel/osrelease": release + "\n", **files}, targets=targets)


@pytest.mark.parametrize("release", ["6.1.0-13-amd64", "4.8.0", "4.8", "4.9", "5.0", "4.10.0"])
def test_a_kernel_at_or_above_the_minimum_is_fine(make_host, base_host, release):
    res = kernel_version(host(make_host, base_host, release, "linux/arm64"))
    assert res.status is Status.OK and res.summary == f"kernel {release} (>= 4.8)"
    assert res.details == (f"uname -r: {release}", FIX_BINARY_SOURCE)
    assert res.data == {"release": release, "minimum": "4.8", "emulated_targets": ("linux/arm64",)}
    assert res.remediation is None


@pytest.mark.parametrize("release", ["4.4.0-210-generic", "4.7.99", "3.16"])
def test_an_older_kernel_fails_when_a_target_needs_emulation(make_host, base_host, release):
    res = kernel_version(host(make_host, base_host, release, "linux/arm64,linux/amd64,linux/riscv64"))
    assert res.status is Status.FAIL and res.summary == (
        f"kernel {release} is older than 4.8: binfmt_misc has no F flag, so emulated builds fail inside containers")
    assert res.remediation == "Upgrade to a 4.8 or newer kernel (e.g. the distribution's HWE or backports kernel)."
    assert res.details == (f"uname -r: {release}", FIX_BINARY_SOURCE,
                           "targets that need emulation: linux/arm64, linux/riscv64")
    assert res.data["emulated_targets"] == ("linux/arm64", "linux/riscv64")


def test_an_older_kernel_is_fine_when_every_target_runs_natively(make_host, base_host):
    res = kernel_version(host(make_host, base_host, "4.4.0-210-generic", "linux/amd64,linux/386"))
    assert res.status is Status.OK
    assert res.summary == "kernel 4.4.0-210-generic is older than 4.8, but every target runs natively"
    assert res.details == ("uname -r: 4.4.0-210-generic", FIX_BINARY_SOURCE) and res.remediation is None


def test_an_unparsable_release_warns(make_host, base_host):
    res = kernel_version(host(make_host, base_host, "weird", "linux/arm64"))
    assert res.status is Status.WARN and res.summary == "cannot parse kernel release 'weird'"
    assert res.remediation == "Check `uname -r`; mab-doctor expects a release like 6.1.0."
    assert res.details == ("uname -r: weird", FIX_BINARY_SOURCE)


def test_the_declaration():
    c = kernel_version
    assert (c.name, c.title, c.category, c.requires, c.per_target, c.fixable) == (
        "kernel-version", "Kernel version", "kernel", (), False, False)
    assert c.doc.startswith("What it checks: ")
