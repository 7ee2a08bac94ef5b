"""podman check with real captured Podman 4.3.1 / Buildah 1.28.2 outputs (tests/data/captured)."""

import json

import pytest

from elfbuild import build_elf
from helpers import captured, executable
from mab_doctor.checks.podman import podman
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status

PODMAN, BUILDAH = "/usr/bin/podman", "/usr/bin/buildah"
P_VERSION = (PODMAN, "version", "--format", "json")
P_INFO = (PODMAN, "info", "--format", "json")
B_VERSION = (BUILDAH, "version", "--json")


def res(argv, out, rc=0, err=""):
    return {argv: CommandResult(argv, rc, out, err)}


def real(info="podman-info.json", info_rc=0, info_err=""):
    return {**res(P_VERSION, captured("podman-version.json")), **res(P_INFO, captured(info), info_rc, info_err),
            **res(B_VERSION, captured("buildah-version.json"))}


def _host(make_host, base_host, commands, *, tools=("podman", "buildah"), machine="x86_64"):
    tree = {**base_host, "/proc/sys/kernel/arch": f"{machine}\n", "/usr/bin/sh": build_elf(machine)}
    tree.update({f"/usr/bin/{t}": "#!/bin/sh\n" for t in tools})
    ctx = make_host(tree, commands=commands, env={"PATH": "/usr/bin", "HOME": "/root"})
    return executable(ctx, *(f"/usr/bin/{t}" for t in tools))


@pytest.fixture
def host(make_host, base_host):
    """host(commands, tools=..., machine=...): base_host with Podman/Buildah answering ``commands``."""
    return lambda *args, **kw: _host(make_host, base_host, *args, **kw)


def test_real_rootful_podman_and_buildah(host):
    r = podman(host(real()))
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, rootful, linux/amd64"
    assert dict(r.data["versions"]) == {"podman": "4.3.1", "buildah": "1.28.2", "podman_buildah": "1.28.2"}
    assert r.data["rootless"] is False and r.data["arch"] == "amd64"
    assert any("see binfmt-handlers" in d and "no built-in emulators" in d for d in r.details)
    assert any("3.4.0" in d and "unverified" in d for d in r.details)


def test_real_rootless_podman(host):
    r = podman(host(real("podman-info-rootless.json", 0, captured("podman-info-rootless.stderr"))))
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, rootless, linux/amd64"
    assert r.data["rootless"] is True
    assert any("registering them needs root" in d for d in r.details)


def test_not_installed_skips(host):
    r = podman(host({}, tools=()))
    assert r.status is Status.SKIP and r.summary == "Podman not installed (optional)"


def test_podman_info_failure_warns_with_last_stderr_line(host):
    r = podman(host(real("podman-info-broken.json", 125, captured("podman-info-broken.stderr"))))
    assert r.status is Status.WARN
    assert r.summary.endswith("exit code 125: Error: failed to GetDriver graph nosuchdriver /tmp/mab-bad-graph: "
                              "driver not supported")
    assert "storage.conf" in r.remediation
    assert r.data["versions"]["podman"] == "4.3.1" and r.data["rootless"] is None


def test_old_buildah_warns_with_matrix_remediation(host):
    # Derived: the captured buildah JSON with the version field set to a release before 1.23.
    old = json.loads(captured("buildah-version.json")) | {"version": "1.22.3"}
    r = podman(host({**real(), **res(B_VERSION, json.dumps(old))}))
    assert r.status is Status.WARN
    assert r.summary == "buildah 1.22.3 older than 1.23.0: no multi-value --platform with --manifest"
    assert "buildah manifest add" in r.remediation and "PR #3402" in r.remediation


def test_old_buildah_inside_podman(host):
    # Derived: podman info's host.buildahVersion (the library `podman build` uses) set to 1.21.0.
    info = json.loads(captured("podman-info.json"))
    info["host"]["buildahVersion"] = "1.21.0"
    r = podman(host({**real(), **res(P_INFO, json.dumps(info))}, tools=("podman",)))
    assert r.status is Status.WARN and r.summary.startswith("Podman's buildah 1.21.0 older than 1.23.0")


def test_buildah_only_with_version_fallback(host):
    cmds = {**res(B_VERSION, "", 125, "Error: unknown flag: --json\n"),
            **res((BUILDAH, "--version"), captured("buildah-version.txt"))}
    r = podman(host(cmds, tools=("buildah",)))
    assert r.status is Status.OK and r.summary == "buildah 1.28.2"
    assert r.data["versions"]["buildah"] == "1.28.2" and r.data["arch"] is None


def test_corrupt_podman_json_falls_back_and_does_not_crash(host):
    cmds = {**res(P_VERSION, "{not json"), **res((PODMAN, "--version"), captured("podman-version.txt")),
            **res(P_INFO, "[1, 2, 3]"), **res(B_VERSION, captured("buildah-version.json"))}
    r = podman(host(cmds))
    assert r.status is Status.WARN and r.summary == "`podman info` failed: `/usr/bin/podman info --format json`: " \
                                                    "exit code 0, no JSON"
    assert r.data["versions"]["podman"] == "4.3.1" and r.remediation


def test_foreign_podman_architecture(host):
    # Derived: podman info as an arm64 Podman would print it, on this amd64 host.
    info = json.loads(captured("podman-info.json"))
    info["host"]["arch"] = "arm64"
    r = podman(host({**real(), **res(P_INFO, json.dumps(info))}))
    assert r.status is Status.WARN
    assert r.summary == ("Podman is a linux/arm64 build on a linux/amd64 host: "
                         "it pulls and builds linux/arm64 by default")
    assert "--platform linux/amd64" in r.remediation
    assert podman(host({**real(), **res(P_INFO, json.dumps(info))}, machine="aarch64")).status is Status.OK


def test_old_podman_without_buildah_version_says_unverified(host):
    # Derived: a Podman 3.3 whose info carries no buildahVersion, and no Buildah CLI.
    info = json.loads(captured("podman-info.json"))
    del info["host"]["buildahVersion"]
    version = json.loads(captured("podman-version.json"))
    version["Client"]["Version"] = "3.3.1"
    r = podman(host({**res(P_VERSION, json.dumps(version)), **res(P_INFO, json.dumps(info))},
                    tools=("podman",)))
    assert r.status is Status.WARN and "unverified" in r.summary and r.summary.startswith("podman 3.3.1 is older")
    assert "podman manifest push --all" in r.remediation
