"""podman check with real captured Podman 4.3.1 / Buildah 1.28.2 outputs (tests/data/captured)."""

import json

from mab_doctor.checks.podman import podman
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from elfbuild import build_elf
from helpers import TESTS

CAP = TESTS / "data" / "captured"
PODMAN, BUILDAH = "/usr/bin/podman", "/usr/bin/buildah"
P_VERSION = (PODMAN, "version", "--format", "json")
P_INFO = (PODMAN, "info", "--format", "json")
B_VERSION = (BUILDAH, "version", "--json")


def cap(name):
    return (CAP / name).read_text()


def res(argv, out, rc=0, err=""):
    return {argv: CommandResult(argv, rc, out, err)}


def real(info="podman-info.json", info_rc=0, info_err=""):
    return {**res(P_VERSION, cap("podman-version.json")), **res(P_INFO, cap(info), info_rc, info_err),
            **res(B_VERSION, cap("buildah-version.json"))}


def host(make_host, commands, *, tools=("podman", "buildah"), machine="x86_64"):
    tree = {"/proc/sys/kernel/arch": f"{machine}\n", "/proc/sys/kernel/osrelease": "6.1.0\n",
            "/usr/bin/sh": build_elf(machine), "/bin": "-> usr/bin", "/etc/os-release": "ID=debian\nVERSION_ID=12\n"}
    tree.update({f"/usr/bin/{t}": "#!/bin/sh\n" for t in tools})
    ctx = make_host(tree, commands=commands, env={"PATH": "/usr/bin", "HOME": "/root"})
    for t in tools:
        ctx.path(f"/usr/bin/{t}").chmod(0o755)
    return ctx


def test_real_rootful_podman_and_buildah(make_host):
    r = podman(host(make_host, real()))
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, rootful, linux/amd64"
    assert dict(r.data["versions"]) == {"podman": "4.3.1", "buildah": "1.28.2", "podman_buildah": "1.28.2"}
    assert r.data["rootless"] is False and r.data["arch"] == "amd64"
    assert any("see binfmt-handlers" in d and "no built-in emulators" in d for d in r.details)
    assert any("3.4.0" in d and "unverified" in d for d in r.details)


def test_real_rootless_podman(make_host):
    r = podman(host(make_host, real("podman-info-rootless.json", 0, cap("podman-info-rootless.stderr"))))
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, rootless, linux/amd64"
    assert r.data["rootless"] is True
    assert any("registering them needs root" in d for d in r.details)


def test_not_installed_skips(make_host):
    r = podman(host(make_host, {}, tools=()))
    assert r.status is Status.SKIP and r.summary == "Podman not installed (optional)"


def test_podman_info_failure_warns_with_last_stderr_line(make_host):
    r = podman(host(make_host, real("podman-info-broken.json", 125, cap("podman-info-broken.stderr"))))
    assert r.status is Status.WARN
    assert r.summary.endswith("exit code 125: Error: failed to GetDriver graph nosuchdriver /tmp/mab-bad-graph: "
                              "driver not supported")
    assert "storage.conf" in r.remediation
    assert r.data["versions"]["podman"] == "4.3.1" and r.data["rootless"] is None


def test_old_buildah_warns_with_matrix_remediation(make_host):
    # Derived: the captured buildah JSON with the version field set to a release before 1.23.
    old = json.loads(cap("buildah-version.json")) | {"version": "1.22.3"}
    r = podman(host(make_host, {**real(), **res(B_VERSION, json.dumps(old))}))
    assert r.status is Status.WARN
    assert r.summary == "buildah 1.22.3 older than 1.23.0: no multi-value --platform with --manifest"
    assert "buildah manifest add" in r.remediation and "PR #3402" in r.remediation


def test_old_buildah_inside_podman(make_host):
    # Derived: podman info's host.buildahVersion (the library `podman build` uses) set to 1.21.0.
    info = json.loads(cap("podman-info.json"))
    info["host"]["buildahVersion"] = "1.21.0"
    r = podman(host(make_host, {**real(), **res(P_INFO, json.dumps(info))}, tools=("podman",)))
    assert r.status is Status.WARN and r.summary.startswith("Podman's buildah 1.21.0 older than 1.23.0")


def test_buildah_only_with_version_fallback(make_host):
    cmds = {**res(B_VERSION, "", 125, "Error: unknown flag: --json\n"),
            **res((BUILDAH, "--version"), cap("buildah-version.txt"))}
    r = podman(host(make_host, cmds, tools=("buildah",)))
    assert r.status is Status.OK and r.summary == "buildah 1.28.2"
    assert r.data["versions"]["buildah"] == "1.28.2" and r.data["arch"] is None


def test_corrupt_podman_json_falls_back_and_does_not_crash(make_host):
    cmds = {**res(P_VERSION, "{not json"), **res((PODMAN, "--version"), cap("podman-version.txt")),
            **res(P_INFO, "[1, 2, 3]"), **res(B_VERSION, cap("buildah-version.json"))}
    r = podman(host(make_host, cmds))
    assert r.status is Status.WARN and r.summary == "`podman info` failed: `/usr/bin/podman info --format json`: " \
                                                    "exit code 0, no JSON"
    assert r.data["versions"]["podman"] == "4.3.1" and r.remediation


def test_foreign_podman_architecture(make_host):
    # Derived: podman info as an arm64 Podman would print it, on this amd64 host.
    info = json.loads(cap("podman-info.json"))
    info["host"]["arch"] = "arm64"
    r = podman(host(make_host, {**real(), **res(P_INFO, json.dumps(info))}))
    assert r.status is Status.WARN
    assert r.summary == ("Podman is a linux/arm64 build on a linux/amd64 host: "
                         "it pulls and builds linux/arm64 by default")
    assert "--platform linux/amd64" in r.remediation
    assert podman(host(make_host, {**real(), **res(P_INFO, json.dumps(info))}, machine="aarch64")).status is Status.OK


def test_old_podman_without_buildah_version_says_unverified(make_host):
    # Derived: a Podman 3.3 whose info carries no buildahVersion, and no Buildah CLI.
    info = json.loads(cap("podman-info.json"))
    del info["host"]["buildahVersion"]
    version = json.loads(cap("podman-version.json"))
    version["Client"]["Version"] = "3.3.1"
    r = podman(host(make_host, {**res(P_VERSION, json.dumps(version)), **res(P_INFO, json.dumps(info))},
                    tools=("podman",)))
    assert r.status is Status.WARN and "unverified" in r.summary and r.summary.startswith("podman 3.3.1 is older")
    assert "podman manifest push --all" in r.remediation
