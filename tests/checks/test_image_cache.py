"""image-cache with real captured Docker 20.10 and Podman 4.3.1 image listings (tests/data/captured)."""

import json

import pytest

from elfbuild import build_elf
from helpers import CAPTURED, DOCKER, INFO, VERSION, captured, docker_data, executable
from mab_doctor.checks.image_cache import image_cache
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status

PODMAN = "/usr/bin/podman"
LS = (DOCKER, "image", "ls", "--format", "{{json .}}")
DOCKER_IDS = ("ac3cbf067083", "86ebe08e74da", "67ce887dcaf3", "b26f06d251c4")  # ls order, <none> row left out
INSPECT = (DOCKER, "image", "inspect", "--format", "{{json .}}", *DOCKER_IDS)
P_LS = (PODMAN, "images", "--format", "json")
P_IDS = tuple(i["Id"] for i in json.loads((CAPTURED / "podman-images.json").read_text()) if i.get("Names"))
P_INSPECT = (PODMAN, "image", "inspect", *P_IDS)


def ok(argv, out, rc=0, err=""):
    return {argv: CommandResult(argv, rc, out, err)}


def _host(make_host, base_host, commands, *, docker="up", podman=False, machine="x86_64", info=None):
    """A fixture host; docker: up | down | None (not installed); podman: install /usr/bin/podman."""
    tree = {**base_host, "/proc/sys/kernel/arch": f"{machine}\n", "/usr/bin/sh": build_elf(machine)}
    if docker:
        tree[DOCKER] = "#!/bin/sh\n"
    if podman:
        tree[PODMAN] = "#!/bin/sh\n"
    if docker == "up":
        commands = {**ok(VERSION, docker_data("version-28-client-20.10-server.json")),
                    **ok(INFO, info or docker_data("info-20.10.json")), **commands}
    elif docker == "down":
        commands = {**ok(VERSION, docker_data("version-down.json"), 1, docker_data("version-down.stderr")), **commands}
    ctx = make_host(tree, commands=commands, env={"PATH": "/usr/bin", "HOME": "/root"})
    ctx.live = True  # let the CLIs "run" through the FakeRunner
    return executable(ctx, *(binary for binary in (DOCKER, PODMAN) if ctx.path(binary).exists()))


@pytest.fixture
def host(make_host, base_host):
    """host(commands, docker=..., podman=..., machine=..., info=...) over base_host (see _host)."""
    return lambda *args, **kw: _host(make_host, base_host, *args, **kw)


@pytest.fixture
def docker_up(host):
    """docker_up(**kw): Docker up, listing and inspecting the four captured images."""
    return lambda **kw: host({**ok(LS, captured("docker-image-ls.txt")),
                              **ok(INSPECT, captured("docker-image-inspect.txt"))}, **kw)


def test_foreign_docker_images_flagged_with_remedies(docker_up):
    ctx = docker_up()
    res = image_cache(ctx)
    assert res.status is Status.WARN
    assert res.summary == ("3 of 4 local images are not linux/amd64: mabtest/ic:armv7 (linux/arm/v7), "
                           "mabtest/busybox:arm64 (linux/arm64) and 1 more")
    assert [dict(f) for f in res.data["foreign"]] == [
        {"engine": "docker", "image": "mabtest/ic:armv7", "platform": "linux/arm/v7", "id": "86ebe08e74da"},
        {"engine": "docker", "image": "mabtest/busybox:arm64", "platform": "linux/arm64", "id": "67ce887dcaf3"},
        {"engine": "docker", "image": "mabtest/ic:arm64", "platform": "linux/arm64", "id": "b26f06d251c4"}]
    assert res.data["checked"] == 4  # the <none> row (422f4f387700) is neither counted nor inspected
    assert "`docker pull --platform linux/amd64 mabtest/ic:arm64`" in res.remediation
    assert "`docker image rm mabtest/ic:armv7`" in res.remediation
    assert "does not match the detected host platform" in res.remediation
    assert "podman: not installed" in res.details
    assert [c[0] for c in ctx.runner.calls] == [VERSION, INFO, LS, INSPECT]  # one ls, one inspect


def test_host_platform_images_are_ok(host):
    amd64 = captured("docker-image-ls.txt").splitlines()[0]
    inspect = (DOCKER, "image", "inspect", "--format", "{{json .}}", "ac3cbf067083")
    res = image_cache(host({**ok(LS, amd64 + "\n"),
                                       **ok(inspect, captured("docker-image-inspect.txt").splitlines()[0] + "\n")}))
    assert res.status is Status.OK and res.summary == "1 local images, all linux/amd64"
    assert res.data == {"foreign": (), "checked": 1}


def test_only_untagged_images_is_ok_without_inspect(host):
    none_row = captured("docker-image-ls.txt").splitlines()[2]
    assert '"Repository":"\\u003cnone\\u003e"' in none_row
    res = image_cache(host(ok(LS, none_row + "\n")))
    assert res.status is Status.OK and res.summary == "no local tagged images"


def test_arm64_host_flags_the_amd64_and_arm_images(docker_up):
    res = image_cache(docker_up(machine="aarch64"))
    assert res.status is Status.WARN
    assert [f["image"] for f in res.data["foreign"]] == ["mabtest/ic:amd64", "mabtest/ic:armv7"]
    assert "`docker pull --platform linux/arm64 mabtest/ic:amd64`" in res.remediation


def test_docker_and_podman_together(host):
    cmds = {**ok(LS, captured("docker-image-ls.txt")), **ok(INSPECT, captured("docker-image-inspect.txt")),
            **ok(P_LS, captured("podman-images.json")), **ok(P_INSPECT, captured("podman-image-inspect.json"))}
    res = image_cache(host(cmds, podman=True))
    assert res.status is Status.WARN and res.data["checked"] == 8
    podman = [dict(f) for f in res.data["foreign"] if f["engine"] == "podman"]
    # the manifest list resolves to its amd64 instance: not flagged; the dangling build is skipped
    assert [(f["image"], f["platform"]) for f in podman] == [
        ("localhost/mabtest-ic:armv7", "linux/arm/v7 (no variant recorded)"),
        ("localhost/mabtest-ic:arm64", "linux/arm64")]
    assert res.summary.startswith("5 of 8 local images are not linux/amd64")
    assert "and 3 more" in res.summary
    assert "`podman rmi localhost/mabtest-ic:arm64`" in res.remediation
    assert "does not match the expected platform" in res.remediation


def test_docker_down_with_podman_reports_podman_only(host):
    ctx = host({**ok(P_LS, captured("podman-images.json")), **ok(P_INSPECT, captured("podman-image-inspect.json"))},
               docker="down", podman=True)
    res = image_cache(ctx)
    assert res.status is Status.WARN and res.data["checked"] == 4
    assert {f["engine"] for f in res.data["foreign"]} == {"podman"}
    assert res.details[0] == ("docker: Cannot connect to the Docker daemon at unix:///tmp/nope.sock. "
                              "Is the docker daemon running?")
    assert [c[0] for c in ctx.runner.calls] == [VERSION, P_LS, P_INSPECT]  # no docker image command


def test_no_daemon_and_no_podman_skips(host):
    res = image_cache(host({}, docker="down"))
    assert res.status is Status.SKIP
    assert res.summary.startswith("no image store to inspect: the Docker daemon is not running; ")
    assert "Podman not installed" in res.summary
    missing = image_cache(host({}, docker=None))
    assert missing.status is Status.SKIP and "docker is not installed" in missing.summary


def test_podman_without_images(host):
    res = image_cache(host(ok(P_LS, "[]\n"), docker=None, podman=True))
    assert res.status is Status.OK and res.summary == "no local tagged images"


def test_corrupt_outputs_do_not_crash(host):
    lines = captured("docker-image-ls.txt").splitlines()
    garbage_ls = "\n".join(["not json", "{broken", lines[0], "[1, 2]"]) + "\n"
    inspect = (DOCKER, "image", "inspect", "--format", "{{json .}}", "ac3cbf067083")
    ctx = host({**ok(LS, garbage_ls), **ok(inspect, "{\"Id\": oops\n"),
                           **ok(P_LS, "Error: this is not JSON\n", 125, "Error: database is locked\n")}, podman=True)
    res = image_cache(ctx)
    assert res.status is Status.WARN and res.summary == "could not inspect every local image (1 checked)"
    assert any("docker: inspect answered for 0 of 1 images" in d for d in res.details)
    assert any("podman: could not list images" in d and "database is locked" in d for d in res.details)
    assert res.remediation


def test_image_removed_between_ls_and_inspect(host):
    inspect = (DOCKER, "image", "inspect", "--format", "{{json .}}", "ac3cbf067083", "0123456789ab")
    ls = captured("docker-image-ls.txt").splitlines()[0] + "\n" + json.dumps(
        {"ID": "0123456789ab", "Repository": "gone/image", "Tag": "latest"}) + "\n"
    res = image_cache(host({**ok(LS, ls), **ok(inspect, captured("docker-image-inspect-missing.txt"), 1,
                                                          captured("docker-image-inspect-missing.stderr"))}))
    assert res.status is Status.WARN and res.data["checked"] == 2 and res.data["foreign"] == ()
    assert any("No such image: 0123456789ab" in d for d in res.details)


def test_containerd_store(host, docker_up):
    # Derived: info-20.10.json with DriverStatus as the containerd image store reports it.
    info = json.loads(docker_data("info-20.10.json"))
    info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]
    amd64 = (DOCKER, "image", "inspect", "--format", "{{json .}}", "ac3cbf067083")
    res = image_cache(host({**ok(LS, captured("docker-image-ls.txt").splitlines()[0] + "\n"),
                                       **ok(amd64, captured("docker-image-inspect.txt").splitlines()[0])},
                           info=json.dumps(info)))
    assert res.status is Status.OK and "containerd image store keeps every platform" in res.summary
    foreign = image_cache(docker_up(info=json.dumps(info)))
    assert foreign.status is Status.WARN
    assert "containerd image store holds no linux/amd64 variant" in foreign.remediation
