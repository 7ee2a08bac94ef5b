"""image-cache with real captured Docker 20.10 and Podman 4.3.1 image listings (tests/data/captured)."""

import json

import pytest

from elfbuild import build_elf
from helpers import CAPTURED, DOCKER, INFO, VERSION, captured, docker_data, executable
from mab_doctor.checks.image_cache import image_cache
from mab_doctor.core.context import CommandResult, Uname
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


def row(id_, repo="made/up", tag="latest"):
    """One line of `docker image ls --format '{{json .}}'` (only the keys the check reads)."""
    return {"ID": id_, "Repository": repo, "Tag": tag}


def doc(id_, arch, variant=None, os_="linux"):
    """One `docker image inspect` document (only the keys the check reads)."""
    d = {"Id": f"sha256:{id_}{'0' * 52}", "Architecture": arch}
    if os_ is not None:
        d["Os"] = os_
    if variant:
        d["Variant"] = variant
    return d


def docker_images(host, rows, docs, *, inspected=None, rc=0, machine="x86_64", info=None):
    """Docker up, listing ``rows`` and answering one inspect of ``inspected`` (default: every row's
    ID once, in order) with ``docs``."""
    ids = inspected if inspected is not None else tuple(dict.fromkeys(r["ID"] for r in rows))
    cmds = ok(LS, "".join(json.dumps(r) + "\n" for r in rows))
    if ids:
        argv = (DOCKER, "image", "inspect", "--format", "{{json .}}", *ids)
        cmds.update(ok(argv, "".join(json.dumps(d) + "\n" for d in docs), rc))
    return image_cache(host(cmds, machine=machine, info=info))


ARM64_ID, ARMV7_ID, AMD64_ID, S390_ID, PPC_ID, RISCV_ID = (
    "a64a64a64a64", "a7a7a7a7a7a7", "d64d64d64d64", "390390390390", "ccccc64cccc6", "5c5c5c5c5c5c")
ARCHES = [(ARM64_ID, "arm64", None), (ARMV7_ID, "arm", "v7"), (S390_ID, "s390x", None), (PPC_ID, "ppc64le", None),
          (RISCV_ID, "riscv64", None), ("b86b86b86b86", "386", None)]


def foreign(n):
    """``n`` foreign images (from ARCHES) as (rows, docs)."""
    chosen = ARCHES[:n]
    return ([row(i, "x/" + arch, "t") for i, arch, _ in chosen], [doc(i, arch, v) for i, arch, v in chosen])


@pytest.mark.parametrize("n, summary", [
    (1, "1 of 1 local images are not linux/amd64: x/arm64:t (linux/arm64)"),
    (2, "2 of 2 local images are not linux/amd64: x/arm64:t (linux/arm64), x/arm:t (linux/arm/v7)"),
    (3, "3 of 3 local images are not linux/amd64: x/arm64:t (linux/arm64), x/arm:t (linux/arm/v7) and 1 more"),
])
def test_the_summary_names_two_foreign_images_and_counts_the_rest(host, n, summary):
    rows, docs = foreign(n)
    res = docker_images(host, rows, docs)
    assert res.status is Status.WARN and res.summary == summary


WHY_DOCKER = ("A plain `docker run` or legacy `docker build` of such a tag silently uses the foreign image "
              "(Docker 20.10+ only prints \"The requested image's platform (...) does not match the detected host "
              "platform\").")


def test_the_remedy_lists_five_images_then_dots(host):
    five = docker_images(host, *foreign(5))
    assert five.remediation == (
        WHY_DOCKER + " Re-pull or remove each: "
        "`docker pull --platform linux/amd64 x/arm64:t` or `docker image rm x/arm64:t`; "
        "`docker pull --platform linux/amd64 x/arm:t` or `docker image rm x/arm:t`; "
        "`docker pull --platform linux/amd64 x/s390x:t` or `docker image rm x/s390x:t`; "
        "`docker pull --platform linux/amd64 x/ppc64le:t` or `docker image rm x/ppc64le:t`; "
        "`docker pull --platform linux/amd64 x/riscv64:t` or `docker image rm x/riscv64:t`. "
        "Or pass --platform explicitly.")
    six = docker_images(host, *foreign(6))
    assert six.remediation.endswith("`docker image rm x/riscv64:t`; .... Or pass --platform explicitly.")
    assert "x/386:t`" not in six.remediation and six.summary.endswith(" and 4 more")


def test_containerd_store_remedy_names_the_host(host):
    info = json.loads(docker_data("info-20.10.json"))
    info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]
    res = docker_images(host, *foreign(1), info=json.dumps(info))
    assert res.remediation.startswith("The containerd image store holds no linux/amd64 variant of these Docker "
                                      "tags. Re-pull or remove each: ")
    empty = docker_images(host, [], [], info=json.dumps(info))
    assert empty.status is Status.OK and empty.summary == "no local tagged images"
    one = docker_images(host, [row(AMD64_ID)], [doc(AMD64_ID, "amd64")], info=json.dumps(info))
    assert one.summary == ("1 local images; the containerd image store keeps every platform of a tag: "
                           "the one-tag-one-platform trap does not apply")


@pytest.mark.parametrize("d, platform", [
    (doc(ARMV7_ID, "arm"), "linux/arm/v7 (no variant recorded)"),
    (doc(ARMV7_ID, "arm", "v6"), "linux/arm/v6"),
    (doc(ARMV7_ID, "arm64", os_=None), "linux/arm64"),
    (doc(ARMV7_ID, "amd64", os_="windows"), "windows/amd64"),
    (doc(ARMV7_ID, "vax"), "linux/vax"),
])
def test_the_recorded_platform_is_normalised(host, d, platform):
    res = docker_images(host, [row(ARMV7_ID)], [d])
    assert res.status is Status.WARN and [f["platform"] for f in res.data["foreign"]] == [platform]


def test_an_image_without_architecture_is_not_called_foreign(host):
    res = docker_images(host, [row(ARMV7_ID)], [{"Id": "sha256:" + ARMV7_ID, "Os": "linux"}])
    assert res.status is Status.OK and res.summary == "1 local images, all linux/amd64"


def test_untagged_and_idless_rows_are_left_out(host):
    rows = [row(AMD64_ID), row("", "x/noid"), row(ARM64_ID, "<none>"), row(ARM64_ID, "x/notag", "<none>"),
            row(ARM64_ID, "", "t"), row(ARM64_ID, "x/emptytag", ""), {"ID": ARM64_ID, "Tag": "t"},
            {"ID": ARM64_ID, "Repository": "x/r"}]
    res = docker_images(host, rows, [doc(AMD64_ID, "amd64")], inspected=(AMD64_ID,))
    assert res.status is Status.OK and res.data["checked"] == 1


def test_two_tags_of_one_image_are_inspected_once_and_both_flagged(host):
    res = docker_images(host, [row(ARM64_ID, "x/a"), row(ARM64_ID, "x/b")], [doc(ARM64_ID, "arm64")])
    assert res.summary.startswith("2 of 2 local images are not linux/amd64: x/a:latest (linux/arm64), "
                                  "x/b:latest (linux/arm64)")


def test_answers_are_matched_by_id_not_by_order(host):
    res = docker_images(host, [row(AMD64_ID, "x/native"), row(ARM64_ID, "x/foreign")],
                        [doc(ARM64_ID, "arm64"), doc(AMD64_ID, "amd64")])
    assert [f["image"] for f in res.data["foreign"]] == ["x/foreign:latest"]


def test_unmatched_ids_fall_back_to_position_only_when_every_image_answered(host):
    # podman answers a manifest list with its native instance, whose Id differs from the listed one
    other = lambda arch: {"Id": "sha256:ffffffffffff", "Os": "linux", "Architecture": arch}  # noqa: E731
    res = docker_images(host, [row(AMD64_ID, "x/native"), row(ARM64_ID, "x/foreign")],
                        [other("amd64"), other("arm64")])
    assert res.status is Status.WARN and [f["image"] for f in res.data["foreign"]] == ["x/foreign:latest"]
    short = docker_images(host, [row(AMD64_ID, "x/native"), row(ARM64_ID, "x/foreign")], [other("arm64")])
    assert short.status is Status.WARN and short.data["foreign"] == ()
    assert short.summary == "could not inspect every local image (2 checked)"
    assert short.remediation == "Run the commands named above by hand and fix what they report."
    assert (f"docker: inspect answered for 1 of 2 images (`{DOCKER} image inspect --format {{{{json .}}}} "
            f"{AMD64_ID} {ARM64_ID}`: exit code 0: {json.dumps(other('arm64'))})") in short.details


def test_a_failed_inspect_that_answered_everything_is_still_a_problem(host):
    res = docker_images(host, [row(AMD64_ID)], [doc(AMD64_ID, "amd64")], rc=1)
    assert res.status is Status.WARN and res.summary == "could not inspect every local image (1 checked)"


def test_a_failed_docker_image_ls_is_a_problem(host):
    ctx = host(ok(LS, "", 1, "Error response from daemon: boom\n"))
    res = image_cache(ctx)
    assert res.status is Status.WARN and res.summary == "could not inspect every local image (0 checked)"
    assert (f"docker: could not list images (`{DOCKER} image ls --format {{{{json .}}}}`: exit code 1: "
            "Error response from daemon: boom)") in res.details


def test_podman_dangling_and_none_names_are_left_out(host):
    rows = [{"Id": AMD64_ID, "Names": ["localhost/a:1", "localhost/<none>:<none>"]},
            {"Id": ARM64_ID, "Names": ["localhost/dangling:1"], "Dangling": True},
            {"Id": "", "Names": ["localhost/noid:1"]}, {"Id": RISCV_ID}]
    inspect = (PODMAN, "image", "inspect", AMD64_ID)
    res = image_cache(host({**ok(P_LS, json.dumps(rows)), **ok(inspect, json.dumps([doc(AMD64_ID, "amd64")]))},
                           docker=None, podman=True))
    assert res.status is Status.OK and res.summary == "1 local images, all linux/amd64"
    assert list(res.details) == ["docker: docker is not on PATH", "podman: 1 tagged images"]


def test_podman_only_remedy(host):
    long_id = ARM64_ID + "f" * 52  # podman lists full 64-digit ids; reports show the first 12
    rows = [{"Id": long_id, "Names": ["localhost/a:1"]}]
    inspect = (PODMAN, "image", "inspect", long_id)
    res = image_cache(host({**ok(P_LS, json.dumps(rows)), **ok(inspect, json.dumps([doc(long_id, "arm64")]))},
                           docker=None, podman=True))
    assert res.remediation == (
        "Podman 4.3 likewise uses the stored image, printing only \"WARNING: image platform (...) does not match "
        "the expected platform\". Re-pull or remove each: `podman pull --platform linux/amd64 localhost/a:1` or "
        "`podman rmi localhost/a:1`. Or pass --platform explicitly.")
    assert res.details[-1] == "podman localhost/a:1 (a64a64a64a64): linux/arm64"


def test_podman_on_a_foreign_root_and_docker_down_skips(host):
    ctx = host({P_LS: CommandResult(P_LS, refused=True)}, docker="down", podman=True)
    res = image_cache(ctx)
    assert res.status is Status.SKIP
    assert res.summary == "no image store to inspect: the Docker daemon is not running; Podman not run"
    assert res.details[1] == "podman: not run on a foreign --root"


def test_podman_on_a_foreign_root_with_docker_up_checks_docker(host):
    ctx = host({**ok(LS, ""), P_LS: CommandResult(P_LS, refused=True)}, podman=True)
    res = image_cache(ctx)
    assert res.status is Status.OK and list(res.details) == ["docker: 0 tagged images",
                                                             "podman: not run on a foreign --root"]


def test_an_unknown_host_platform_skips(host):
    ctx = host({}, docker=None)
    ctx.path("/usr/bin/sh").write_bytes(b"")
    ctx.uname_override = Uname("2.11", "pdp11")
    res = image_cache(ctx)
    assert res.status is Status.SKIP and res.summary == "host platform unknown: nothing to compare image platforms with"


def test_the_check_is_declared_without_requirements():
    assert (image_cache.name, image_cache.category, image_cache.requires) == ("image-cache", "docker", ())


@pytest.mark.parametrize("out, rc", [("not json at all\n", 0), ("[]\n", 1)])
def test_a_podman_listing_that_fails_or_does_not_parse_is_a_problem(host, out, rc):
    res = image_cache(host(ok(P_LS, out, rc), docker=None, podman=True))
    assert res.status is Status.WARN and res.summary == "could not inspect every local image (0 checked)"
    assert res.details[-1].startswith(
        "podman: could not list images (`/usr/bin/podman images --format json`: exit code ")


def test_only_arm_images_can_lack_a_variant(host):
    res = docker_images(host, [row(AMD64_ID, "x/amd64"), row("b86b86b86b86", "x/386")],
                        [doc(AMD64_ID, "amd64"), doc("b86b86b86b86", "386")], machine="aarch64")
    assert [f["platform"] for f in res.data["foreign"]] == ["linux/amd64", "linux/386"]


def test_extra_inspect_answers_are_not_matched_by_position(host):
    stray = lambda arch: {"Id": "sha256:ffffffffffff", "Os": "linux", "Architecture": arch}  # noqa: E731
    res = docker_images(host, [row(AMD64_ID, "x/native"), row(ARM64_ID, "x/unmatched")],
                        [doc(AMD64_ID, "amd64"), stray("arm64"), stray("s390x")])
    assert res.status is Status.OK and res.summary == "2 local images, all linux/amd64"


def test_podman_images_keep_the_podman_reason_with_the_containerd_store(host):
    info = json.loads(docker_data("info-20.10.json"))
    info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]
    rows = [{"Id": ARM64_ID, "Names": ["localhost/a:1"]}]
    cmds = {**ok(LS, ""), **ok(P_LS, json.dumps(rows)),
            **ok((PODMAN, "image", "inspect", ARM64_ID), json.dumps([doc(ARM64_ID, "arm64")]))}
    res = image_cache(host(cmds, podman=True, info=json.dumps(info)))
    assert res.remediation.startswith("Podman 4.3 likewise uses the stored image")


API_ID = "a536eb9fbe39d7aa9c6c4e7ddf2cd96b6c9ed5e0b954ef8802a967a1a2ad833e"


def engine_api(answers):
    """A stand-in for the daemon's socket: path -> (status, body); records what was asked."""
    from mab_doctor.core.unixhttp import HttpAnswer

    asked = []

    def request(sock, method, path, *, timeout):
        asked.append((sock, method, path))
        status, body = answers.get(path, (404, b'{"message":"page not found"}'))
        return HttpAnswer(f"{method} {path}", status, body)
    return request, asked


def test_docker_images_are_read_over_the_engine_api_without_the_cli(host):
    ctx = host({})  # neither `docker image ls` nor `inspect` is known to the runner: running one fails the test
    ctx.requester, asked = engine_api({
        "/images/json": (200, (CAPTURED / "docker-api-images.json").read_bytes()),
        f"/images/sha256:{API_ID}/json": (200, (CAPTURED / "docker-api-image-inspect.json").read_bytes())})
    res = image_cache(ctx)
    assert res.status is Status.WARN
    assert res.summary == ("2 of 2 local images are not linux/amd64: mabtest/api:arm64 (linux/arm64), "
                           "mabtest/api:second (linux/arm64)")
    assert [dict(f)["id"] for f in res.data["foreign"]] == ["a536eb9fbe39", "a536eb9fbe39"]
    # one listing, one inspect per image (not per tag), nothing else
    assert [a[2] for a in asked if a[2] != "/info"] == ["/images/json", f"/images/sha256:{API_ID}/json"]
    assert all(c[0][1:3] != ("image", "ls") for c in ctx.runner.calls)


def test_an_api_that_does_not_list_sends_the_doctor_to_the_cli(docker_up):
    ctx = docker_up()
    ctx.requester, asked = engine_api({"/images/json": (500, b'{"message":"boom"}')})
    res = image_cache(ctx)
    assert res.data["checked"] == 4 and LS in [c[0] for c in ctx.runner.calls]
    assert ("/var/run/docker.sock", "GET", "/images/json") in asked


def test_an_image_the_api_cannot_inspect_is_said(host):
    ctx = host({})
    ctx.requester, _ = engine_api({"/images/json": (200, (CAPTURED / "docker-api-images.json").read_bytes())})
    res = image_cache(ctx)
    assert res.status is Status.WARN and res.summary == "could not inspect every local image (2 checked)"
    assert (f"docker: inspect answered for 0 of 1 images (`GET /images/sha256:{API_ID}/json`: HTTP 404)"
            in res.details)


def test_odd_api_listings_are_values(host):
    ctx = host({})
    ctx.requester, asked = engine_api({"/images/json": (200, b'[5, {"Id": "../../etc", "RepoTags": ["x:y"]}, '
                                                             b'{"Id": "sha256:abc", "RepoTags": null}]')})
    res = image_cache(ctx)
    assert res.status is Status.OK and res.summary == "no local tagged images"
    assert [a[2] for a in asked if a[2] != "/info"] == ["/images/json"]


def test_podman_images_are_listed_once_per_run(host):
    # A full run starts the listing before the checks are imported; image-cache then finds it done.
    from mab_doctor.engines.localimages import podman_images

    rows = [{"Id": ARM64_ID, "Names": ["localhost/a:1"]}]
    ctx = host({**ok(LS, ""), **ok(P_LS, json.dumps(rows)),
                **ok((PODMAN, "image", "inspect", ARM64_ID), json.dumps([doc(ARM64_ID, "arm64")]))}, podman=True)
    early = podman_images(ctx, PODMAN)
    res = image_cache(ctx)
    assert early is podman_images(ctx, PODMAN) and early.named == (("localhost/a:1", ARM64_ID),)
    assert [argv for argv, _ in ctx.runner.calls].count(P_LS) == 1
    assert res.status is Status.WARN and res.data["foreign"][0]["platform"] == "linux/arm64"
