"""podman check with real captured Podman 4.3.1 / Buildah 1.28.2 outputs (tests/data/captured)."""

import json
import os
import time

import pytest

from elfbuild import build_elf
from helpers import captured, executable
from mab_doctor.checks.podman import podman
from mab_doctor.core.context import CommandResult, Uname
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


def _host(make_host, base_host, commands, *, tools=("podman", "buildah"), machine="x86_64", thorough=True,
          dpkg=None, **kw):
    tree = {**base_host, "/proc/sys/kernel/arch": f"{machine}\n", "/usr/bin/sh": build_elf(machine), **(dpkg or {})}
    tree.update({f"/usr/bin/{t}": "#!/bin/sh\n" for t in tools})
    ctx = make_host(tree, commands=commands, env={"PATH": "/usr/bin", "HOME": "/root"}, **kw)
    ctx.thorough = thorough  # `podman info` runs only when details are asked for (-v, or the check named)
    executable(ctx, *(f"/usr/bin/{t}" for t in tools))
    now = time.time()  # dpkg writes a package's file list after its files: stamped after the chmod above
    for name in dpkg or {}:
        if name.endswith(".list"):
            os.utime(ctx.path(name), (now, now))
    return ctx


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


BUILDAH_REMEDY = ("Upgrade Buildah to >= 1.23; on older versions build each platform separately and assemble with "
                  "`buildah manifest add`. (containers/buildah PR #3402)")
EMULATION_NOTE = ("Podman and Buildah have no built-in emulators: foreign RUN steps need the same host binfmt_misc "
                  "handlers with static QEMU as Docker (see binfmt-handlers)")
UNVERIFIED = ("podman minimum 3.4.0 for multi-platform builds is unverified (containers/podman PR #11574); "
              "the Buildah version decides")


def info_with(**host_changes):
    """The captured rootful `podman info` with keys of its "host" section changed (None: removed)."""
    info = json.loads(captured("podman-info.json"))
    for key, value in host_changes.items():
        if value is None:
            info["host"].pop(key, None)
        else:
            info["host"][key] = value
    return json.dumps(info)


def podman_version(version):
    data = json.loads(captured("podman-version.json"))
    data["Client"]["Version"] = version
    return json.dumps(data)


def buildah_version(version):
    return json.dumps(json.loads(captured("buildah-version.json")) | {"version": version})


def test_not_installed_skips_with_empty_data(host):
    r = podman(host({}, tools=()))
    assert r.data == {"versions": {}, "rootless": None, "arch": None}


def test_the_real_pair_gives_these_details(host):
    r = podman(host(real()))
    assert list(r.details) == [
        "`/usr/bin/podman version --format json`: 4.3.1", "`/usr/bin/buildah version --json`: 1.28.2",
        "podman info: linux/amd64, rootless False, buildah library 1.28.2, storage /var/lib/containers/storage",
        EMULATION_NOTE, UNVERIFIED]


def test_a_foreign_root_runs_nothing_and_skips(host):
    refused = {argv: CommandResult(argv, refused=True) for argv in (P_VERSION, P_INFO, B_VERSION)}
    r = podman(host(refused))
    assert r.status is Status.SKIP
    assert r.summary == "Podman/Buildah found but not run (foreign --root, or they did not answer)"
    assert dict(r.data["versions"]) == {"podman": None, "buildah": None, "podman_buildah": None}
    assert list(r.details) == ["`/usr/bin/podman version --format json`: not run (foreign --root)",
                               "`/usr/bin/buildah version --json`: not run (foreign --root)"]


def test_tools_that_do_not_answer_skip(host):
    cmds = {**res(P_VERSION, "", 1, "boom\n"), **res((PODMAN, "--version"), "", 1, "boom\n"),
            **res(P_INFO, "", 1, "boom\n")}
    r = podman(host(cmds, tools=("podman",)))
    assert r.status is Status.SKIP and r.summary.startswith("Podman/Buildah found but not run")


def test_podman_info_alone_answers(host):
    cmds = {**res(P_VERSION, "", 1, "boom\n"), **res((PODMAN, "--version"), "podman, no version\n"),
            **res(P_INFO, captured("podman-info.json"))}
    r = podman(host(cmds, tools=("podman",)))
    assert r.status is Status.OK and r.summary == "podman answers, rootful, linux/amd64"


def test_an_empty_json_version_falls_back_to_the_plain_one(host):
    cmds = {**real(), **res(P_VERSION, podman_version("")), **res((PODMAN, "--version"), "podman version v4.3.1\n")}
    r = podman(host(cmds))
    assert r.status is Status.OK and r.data["versions"]["podman"] == "4.3.1"
    assert r.details[0] == "`/usr/bin/podman --version`: podman version v4.3.1"


@pytest.mark.parametrize("out", ['[1, 2, 3]', '[{"Client": {"Version": "4.3.1"}}, {}]',
                                 '{"Client": {"Version": "4.3.1"}}\n{}',
                                 '{"Client": {"Version": true}}', '{"Client": {"Version": ["4.3.1"]}}',
                                 '{"Client": "4.3.1"}'])
def test_a_version_answer_that_is_not_one_object_with_a_word_is_not_trusted(host, out):
    cmds = {**real(), **res(P_VERSION, out), **res((PODMAN, "--version"), "podman version 4.2.0\n")}
    r = podman(host(cmds))
    assert r.data["versions"]["podman"] == "4.2.0"


def test_a_numeric_version_is_a_word(host):
    cmds = {**real(), **res(B_VERSION, json.dumps({"version": 2}))}
    r = podman(host(cmds))
    assert r.status is Status.OK and r.data["versions"]["buildah"] == "2"


def test_an_info_failure_without_stderr_and_its_remedy(host):
    r = podman(host({**real(), **res(P_INFO, "", 125)}))
    assert r.status is Status.WARN
    assert r.summary == "`podman info` failed: `/usr/bin/podman info --format json`: exit code 125, no JSON"
    assert r.remediation == ("Run `podman info` and fix what it names (usually storage.conf: "
                             "/etc/containers/storage.conf or ~/.config/containers/storage.conf); "
                             "`podman build` cannot work until it succeeds.")
    stderr = podman(host({**real(), **res(P_INFO, "", 125, "first\nError: no storage\n")}))
    assert stderr.summary == ("`podman info` failed: `/usr/bin/podman info --format json`: exit code 125: "
                              "Error: no storage")


@pytest.mark.parametrize("version", ["1.23.0", "1.23.1", "1.28.2"])
def test_buildah_1_23_and_newer_is_enough(host, version):
    r = podman(host({**real(), **res(B_VERSION, buildah_version(version))}))
    assert r.status is Status.OK and r.summary == f"podman 4.3.1, buildah {version}, rootful, linux/amd64"


@pytest.mark.parametrize("version", ["1.22.99", "1.9.0"])
def test_buildah_before_1_23_warns(host, version):
    r = podman(host({**real(), **res(B_VERSION, buildah_version(version))}))
    assert r.status is Status.WARN
    assert r.summary == f"buildah {version} older than 1.23.0: no multi-value --platform with --manifest"
    assert r.remediation == BUILDAH_REMEDY


def test_both_buildahs_too_old_are_named_together(host):
    r = podman(host({**real(), **res(B_VERSION, buildah_version("1.22.3")),
                     **res(P_INFO, info_with(buildahVersion="1.21.0"))}))
    assert r.summary == ("buildah 1.22.3 and Podman's buildah 1.21.0 older than 1.23.0: "
                         "no multi-value --platform with --manifest")


def test_an_unparsable_buildah_version_is_not_judged(host):
    r = podman(host({**real(), **res(B_VERSION, buildah_version("dev-build"))}))
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah dev-build, rootful, linux/amd64"


def test_foreign_podman_architecture_remedy(host):
    r = podman(host({**real(), **res(P_INFO, info_with(arch="arm64"))}))
    assert r.remediation == "Pass --platform linux/amd64 explicitly, or install the distribution's native Podman."
    arm = podman(host({**real(), **res(P_INFO, info_with(arch="arm64"))}, machine="aarch64"))
    assert arm.summary == "podman 4.3.1, buildah 1.28.2, rootful, linux/arm64"


@pytest.mark.parametrize("version, status", [("3.3.1", Status.WARN), ("3.3.99", Status.WARN),
                                             ("3.4.0", Status.OK), ("3.4.2", Status.OK)])
def test_podman_minimum_without_a_buildah_version(host, version, status):
    r = podman(host({**res(P_VERSION, podman_version(version)), **res(P_INFO, info_with(buildahVersion=None))},
                    tools=("podman",)))
    assert r.status is status
    if status is Status.WARN:
        assert r.summary == (f"podman {version} is older than 3.4.0, the release expected to take a --platform "
                             f"list (unverified in the matrix)")
        assert r.remediation == ("Upgrade Podman; push with `podman manifest push --all NAME docker://REG/NAME`, "
                                 "remove with `podman manifest rm`.")
    else:
        assert r.summary == f"podman {version}, rootful, linux/amd64" and r.details[-1] == UNVERIFIED


def test_an_old_podman_with_a_new_buildah_library_is_judged_by_buildah(host):
    r = podman(host({**res(P_VERSION, podman_version("3.3.1")), **res(P_INFO, captured("podman-info.json"))},
                    tools=("podman",)))
    assert r.status is Status.OK and r.summary == "podman 3.3.1, rootful, linux/amd64"


def test_rootless_unknown_says_no_mode(host):
    info = json.loads(captured("podman-info.json"))
    info["host"]["security"]["rootless"] = "yes"  # not a boolean: unknown
    r = podman(host({**real(), **res(P_INFO, json.dumps(info))}))
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, linux/amd64"
    assert r.data["rootless"] is None
    assert not any("registering them needs root" in d for d in r.details)


def test_buildah_only_has_no_podman_note(host):
    r = podman(host(res(B_VERSION, captured("buildah-version.json")), tools=("buildah",)))
    assert r.status is Status.OK and r.summary == "buildah 1.28.2"
    assert list(r.details) == ["`/usr/bin/buildah version --json`: 1.28.2", EMULATION_NOTE]


def test_the_check_is_declared():
    assert (podman.name, podman.category, podman.requires) == ("podman", "podman", ())


def test_an_amd64_podman_on_an_arm64_host_warns(host):
    r = podman(host({**real(), **res(P_INFO, info_with(arch="amd64"))}, machine="aarch64"))
    assert r.status is Status.WARN
    assert r.summary == ("Podman is a linux/amd64 build on a linux/arm64 host: "
                         "it pulls and builds linux/amd64 by default")


def test_a_default_run_leaves_podman_info_out_and_takes_the_architecture_from_podman_version(host, monkeypatch):
    import os

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    commands = {**res(P_VERSION, captured("podman-version.json")), **res(B_VERSION, captured("buildah-version.json"))}
    r = podman(host(commands, thorough=False))  # the strict runner fails the test if `podman info` runs
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, rootful, linux/amd64"
    assert r.data["arch"] == "amd64" and r.data["rootless"] is False and r.data["versions"]["podman_buildah"] is None
    assert "`podman info` not run (it initialises the storage): `mab-doctor podman` or -v runs it" in r.details
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert podman(host(commands, thorough=False)).data["rootless"] is True


# ----- the dpkg database answers: no Go process started --------------------------------------------------------
P_DEB, B_DEB = "4.3.1+ds1-8+deb12u1+b3", "1.28.2+ds1-3+deb12u1+b3"  # this Debian 12 machine's status file
P_FROM_DEB = ("podman 4.3.1 from the Debian package podman 4.3.1+ds1-8+deb12u1+b3 "
              "(/usr/bin/podman as the package installed it; amd64: linux/amd64)")
B_FROM_DEB = ("buildah 1.28.2 from the Debian package buildah 1.28.2+ds1-3+deb12u1+b3 "
              "(/usr/bin/buildah as the package installed it; amd64: linux/amd64)")
INFO_NOT_RUN = "`podman info` not run (it initialises the storage): `mab-doctor podman` or -v runs it"


def debian(podman=(P_DEB, "amd64"), buildah=(B_DEB, "amd64")):
    """A dpkg database in which the podman and buildah packages installed /usr/bin/podman and /usr/bin/buildah."""
    paragraphs = [f"Package: {name}\nStatus: install ok installed\nArchitecture: {arch}\nVersion: {version}\n"
                  for name, (version, arch) in (("podman", podman), ("buildah", buildah)) if version]
    return {"/var/lib/dpkg/status": "Package: dpkg\nStatus: install ok installed\nVersion: 1.21.22\n\n"
                                    + "\n".join(paragraphs),
            "/var/lib/dpkg/info/podman.list": "/.\n/usr\n/usr/bin\n/usr/bin/podman\n/usr/share/man/man1/podman.1.gz\n",
            "/var/lib/dpkg/info/buildah.list": "/usr/bin/buildah\n"}


def argvs(ctx):
    return [argv for argv, _ in ctx.runner.calls]


def test_debian_packages_answer_and_nothing_runs(host, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    ctx = host({}, dpkg=debian(), thorough=False, live=True, uname_override=Uname("6.1.0", "x86_64"))
    r = podman(ctx)  # the strict runner fails the test on any command: neither `version` runs
    assert argvs(ctx) == []
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, rootful, linux/amd64"
    assert r.data == {"versions": {"podman": "4.3.1", "buildah": "1.28.2", "podman_buildah": None},
                      "rootless": False, "arch": "amd64"}
    assert list(r.details) == [P_FROM_DEB, B_FROM_DEB, INFO_NOT_RUN, EMULATION_NOTE, UNVERIFIED]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert podman(host({}, dpkg=debian(), thorough=False, live=True,
                       uname_override=Uname("6.1.0", "x86_64"))).data["rootless"] is True


def test_with_details_asked_only_podman_info_runs(host):
    ctx = host(res(P_INFO, captured("podman-info.json")), dpkg=debian())
    r = podman(ctx)
    assert argvs(ctx) == [P_INFO]
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, rootful, linux/amd64"
    assert list(r.details) == [P_FROM_DEB, B_FROM_DEB, "podman info: linux/amd64, rootless False, buildah library "
                               "1.28.2, storage /var/lib/containers/storage", EMULATION_NOTE, UNVERIFIED]


def test_a_podman_changed_since_its_package_installed_it_is_asked(host, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # it ran: as this user
    ctx = host(res(P_VERSION, captured("podman-version.json")), dpkg=debian(), thorough=False)
    ctime = os.stat(ctx.path(PODMAN)).st_ctime
    os.utime(ctx.path("/var/lib/dpkg/info/podman.list"), (ctime - 60, ctime - 60))  # the binary was copied over later
    r = podman(ctx)
    assert argvs(ctx) == [P_VERSION]  # buildah still answered by its package
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, rootful, linux/amd64"
    assert list(r.details[:3]) == [
        "/usr/bin/podman was changed after the Debian package podman 4.3.1+ds1-8+deb12u1+b3 installed it: "
        "podman asked instead", "`/usr/bin/podman version --format json`: 4.3.1", B_FROM_DEB]
    assert r.data["arch"] == "amd64"  # from `podman version`'s OsArch


def test_a_podman_no_package_installed_is_asked(host):
    ctx = host(res(P_VERSION, captured("podman-version.json")), dpkg=debian(podman=(None, None)), thorough=False)
    r = podman(ctx)
    assert argvs(ctx) == [P_VERSION]
    assert list(r.details[:3]) == ["no Debian package named podman is installed: podman asked instead",
                                   "`/usr/bin/podman version --format json`: 4.3.1", B_FROM_DEB]


def test_an_architecture_independent_record_cannot_say_podman_s_architecture(host):
    ctx = host(res(P_VERSION, captured("podman-version.json")), dpkg=debian(podman=(P_DEB, "all")), thorough=False)
    r = podman(ctx)
    assert argvs(ctx) == [P_VERSION]
    assert list(r.details[:2]) == ["the Debian package podman is for 'all': not an architecture Go builds for: "
                                   "podman asked instead", "`/usr/bin/podman version --format json`: 4.3.1"]
    assert r.data["arch"] == "amd64"


@pytest.mark.parametrize("debian_arch, oci", [("arm64", "linux/arm64"), ("armhf", "linux/arm")])
def test_a_foreign_architecture_package_warns_without_running_podman(host, debian_arch, oci):
    ctx = host({}, dpkg=debian(podman=(P_DEB, debian_arch)), thorough=False)
    r = podman(ctx)
    assert argvs(ctx) == []
    assert r.status is Status.WARN
    assert r.summary == f"Podman is a {oci} build on a linux/amd64 host: it pulls and builds {oci} by default"
    assert r.data["arch"] == oci.partition("/")[2]


def test_an_old_packaged_buildah_warns(host):
    ctx = host({}, dpkg=debian(buildah=("1.22.3+ds1-2", "amd64")), thorough=False)
    r = podman(ctx)
    assert argvs(ctx) == [] and r.status is Status.WARN
    assert r.summary == "buildah 1.22.3 older than 1.23.0: no multi-value --platform with --manifest"
    assert r.remediation == BUILDAH_REMEDY


def test_under_a_foreign_root_the_packages_answer_but_who_runs_podman_is_unknown(host):
    refused = {argv: CommandResult(argv, refused=True) for argv in (P_VERSION, P_INFO, B_VERSION)}
    ctx = host(refused, dpkg=debian(), thorough=False)
    r = podman(ctx)
    assert argvs(ctx) == []
    assert r.status is Status.OK and r.summary == "podman 4.3.1, buildah 1.28.2, linux/amd64"
    assert r.data == {"versions": {"podman": "4.3.1", "buildah": "1.28.2", "podman_buildah": None},
                      "rootless": None, "arch": "amd64"}
