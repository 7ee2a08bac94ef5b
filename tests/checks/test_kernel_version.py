"""kernel-version: the release against the F-flag minimum, only when a target needs emulation."""

import pytest

from mab_doctor.checks.kernel_version import kernel_version
from mab_doctor.core.model import Status


def host(make_host, base_host, release="6.1.0-13-amd64", targets="linux/amd64,linux/arm64", **files):
    return make_host({**base_host, "/proc/sys/kernel/osrelease": release + "\n", **files}, targets=targets)


@pytest.mark.parametrize("release, targets, status, phrase", [
    ("6.1.0-13-amd64", "linux/arm64", Status.OK, "(>= 4.8)"),
    ("4.8.0", "linux/arm64", Status.OK, "(>= 4.8)"),
    ("4.4.0-210-generic", "linux/arm64", Status.FAIL, "older than 4.8"),
    ("4.4.0-210-generic", "linux/amd64,linux/386", Status.OK, "every target runs natively"),
    ("weird", "linux/arm64", Status.WARN, "cannot parse"),
])
def test_kernel_version(make_host, release, targets, status, phrase, base_host):
    res = kernel_version(host(make_host, base_host, release, targets))
    assert res.status is status and phrase in res.summary
    if status is Status.FAIL:
        assert res.data["emulated_targets"] == ("linux/arm64",) and res.remediation
