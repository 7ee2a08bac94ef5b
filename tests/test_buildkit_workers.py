"""The daemon's BuildKit workers: ListWorkers/Info bytes, buildx's platform rules, and the builders read without `buildx ls`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from elfbuild import build_elf
from helpers import DOCKER, INFO, VERSION, docker_data
from make_plugin import run_output, store_files
from mab_doctor.checks.buildx_builder import buildx_builder
from mab_doctor.core.context import CommandResult
from mab_doctor.core.h2grpc import GrpcAnswer
from mab_doctor.core.unixhttp import HttpAnswer
from mab_doctor.engines.buildkit import (ProtoError, Worker, ask_daemon, moby_buildkit, parse_info_version,
                                         parse_workers, platform_list)
from mab_doctor.engines.builders import list_builders

DATA = Path(__file__).parent / "data" / "buildkit"
PLUGIN = "/usr/libexec/docker/cli-plugins/docker-buildx"
LS_JSON = (PLUGIN, "buildx", "ls", "--format", "json")
# What real buildx 0.13.1 printed for this daemon (dockerd 20.10.24), node by node.
BUILDX_PLATFORMS = ["linux/amd64", "linux/arm64", "linux/riscv64", "linux/ppc64le", "linux/s390x", "linux/386",
                    "linux/arm/v7", "linux/arm/v6"]


def s(number: int, text: bytes) -> bytes:  # a length-delimited field, written by hand
    return bytes((number << 3 | 2, len(text))) + text


def captured_message() -> bytes:
    raw = (DATA / "dockerd-20.10-listworkers.server.bin").read_bytes()
    at = raw.index(b"\x00\x00\x00\x00\x8f")  # the gRPC prefix: uncompressed, 143 bytes
    return raw[at + 5:at + 5 + 143]


def test_dockerd_20_10_workers_are_read_as_buildx_lists_them():
    (worker,) = parse_workers(captured_message())
    assert worker.id == "moby" and worker.labels == ()
    assert worker.platforms[-1] == ("arm", "linux", "v6") and len(worker.platforms) == 8
    assert platform_list([worker]) == BUILDX_PLATFORMS


def test_labels_several_workers_normalised_and_deduplicated():
    first = s(1, b"w1") + s(2, s(1, b"org.mobyproject.buildkit.worker.snapshotter") + s(2, b"overlayfs")) \
        + s(3, s(1, b"x86_64") + s(2, b"Linux")) + s(3, s(1, b"aarch64") + s(2, b"linux") + s(3, b"v8"))
    second = s(1, b"w0") + s(3, s(1, b"amd64") + s(2, b"linux")) + s(3, s(1, b"armhf") + s(2, b"linux")) \
        + s(3, s(1, b"arm") + s(2, b"linux")) + s(3, s(1, b"i386")) + s(3, s(1, b"arm") + s(2, b"linux") + s(3, b"5"))
    workers = parse_workers(s(1, first) + s(1, second))
    assert workers[0] == Worker("w1", (("org.mobyproject.buildkit.worker.snapshotter", "overlayfs"),),
                                (("x86_64", "Linux", ""), ("aarch64", "linux", "v8")))
    assert platform_list(workers) == ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386", "linux/arm/v5"]


def test_info_version():
    version = s(1, b"github.com/moby/buildkit") + s(2, b"v0.13.2") + s(3, b"a3a2b1c")
    assert parse_info_version(s(1, version)) == "v0.13.2"
    assert parse_info_version(b"") == ""


@pytest.mark.parametrize("data, why", [
    (b"\x0a\x05abc", "truncated field"),
    (b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "varint longer than 10 bytes"),
    (b"\x0a\x80", "truncated varint"),
    (b"\x0b", "wire type 3 (groups are not used here)"),
    (b"\x02\x00", "field number 0"),
    (s(1, s(1, b"\xff\xfe")), "a string field is not UTF-8"),
    (s(1, b"\x08\x01"), "a string field is not length-delimited"),
    (b"\x08\x01", "an embedded message is not length-delimited"),
])
def test_bad_bytes_are_proto_errors(data, why):
    with pytest.raises(ProtoError) as caught:
        parse_workers(data)
    assert str(caught.value) == why


def test_random_bytes_never_raise_anything_else():
    rng = random.Random(7)
    good = captured_message()
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            parse_workers(bytes(data[:rng.randint(0, len(data))]))
        except ProtoError:
            pass


@pytest.mark.parametrize("daemon, buildkit", [
    ("20.10.24+dfsg1", "v0.8+unknown"),     # what real buildx printed for this machine's daemon
    ("20.10.23", "v0.8.2+eeb7b65"), ("20.10.2", "v0.8+unknown"),  # "20.10.0-0 - 20.10.2-0" stops before .2
    ("20.10.1", "v0.8.1"), ("19.03.15", "v0.6.4+396bfe2"), ("18.09.3", "v0.3.3"), ("17.06.0", "v0.4.0+b302896"),
    ("23.0.5", "v0.10.6+d52b2d5"), ("23.0.10", "v0.10+unknown"), ("22.06.0", "v0.10.3"),
    ("26.1.5+dfsg1", "26.1.5+dfsg1"), ("dev-moby", "dev"), ("23.0.0-rc.1", None),
])
def test_daemon_version_to_buildkit_as_buildx_docker_driver(daemon, buildkit):
    assert moby_buildkit(daemon) == buildkit


class Daemon:
    """Fake gRPC and API answers: {method: GrpcAnswer}, {path: (status, body)}; what was asked."""

    def __init__(self, grpc: dict, api: dict | None = None):
        self.grpc, self.api, self.asked, self.timeouts = grpc, api or {}, [], []

    def call(self, sock, upgrade_path, method, message, *, timeout):
        self.asked.append((sock, upgrade_path, method, message))
        self.timeouts.append(timeout)
        return self.grpc.get(method) or GrpcAnswer(method, error="stream reset (error code 2)")

    def request(self, sock, method, path, *, timeout):
        self.asked.append((sock, method, path))
        self.timeouts.append(timeout)
        status, body = self.api.get(path, (404, b""))
        return HttpAnswer(f"{method} {path}", status, body)


LIST = "/moby.buildkit.v1.Control/ListWorkers"
INFO_RPC = "/moby.buildkit.v1.Control/Info"
WORKERS_OK = GrpcAnswer(LIST, captured_message(), 0)
UNIMPLEMENTED = GrpcAnswer(INFO_RPC, status=12, error="grpc-status 12")


def fake_host(make_host, base_host, daemon: Daemon, *, env=None, store=None, ls_json=None):
    tree = {**base_host, DOCKER: "#!/bin/sh\n", PLUGIN: build_elf("x86_64"), **(store or {})}
    cmds = {VERSION: CommandResult(VERSION, 0, docker_data("version-28-client-20.10-server.json")),
            INFO: CommandResult(INFO, 0, docker_data("info-20.10.json"))}
    if ls_json is not None:
        cmds[LS_JSON] = CommandResult(LS_JSON, 0, ls_json)
    ctx = make_host(tree, commands=cmds, targets="linux/amd64,linux/arm64",
                    env={"PATH": "/usr/bin", "HOME": "/root", **(env or {})})
    for path in (DOCKER, PLUGIN):
        ctx.path(path).chmod(0o755)
    ctx.live, ctx.caller, ctx.requester = True, daemon.call, daemon.request
    return ctx


def test_only_the_default_builder_is_read_from_the_daemon(make_host, base_host):
    daemon = Daemon({LIST: WORKERS_OK, INFO_RPC: UNIMPLEMENTED},
                    {"/version": (200, b'{"Version": "20.10.24+dfsg1", "ApiVersion": "1.41"}')})
    ctx = fake_host(make_host, base_host, daemon)
    builders, notes, problem = list_builders(ctx, DOCKER)
    (b,) = builders
    assert (b.name, b.driver, b.current, b.error, problem) == ("default", "docker", True, "", None)
    (node,) = b.nodes
    assert (node.name, node.endpoint, node.status, node.buildkit) == ("default", "default", "running", "v0.8+unknown")
    assert node.platforms == BUILDX_PLATFORMS
    assert notes == ["read the daemon's BuildKit workers (as `docker buildx ls` asks them) and buildx's own "
                     "folder: only the default docker-driver builder exists"]
    assert [a[2] for a in daemon.asked] == [LIST, INFO_RPC, "/version"]
    assert not [c for c in ctx.runner.calls if c[0][1] == "buildx"]
    rows = {r.target: r for r in buildx_builder(ctx)}
    assert rows["linux/arm64"].data == {"builder": "default", "driver": "docker", "node": "default", "how": "emulated"}


def test_info_gives_the_version_on_newer_daemons(make_host, base_host):
    info = GrpcAnswer(INFO_RPC, b"\x0a\x09" + s(2, b"v0.13.2"), 0)
    daemon = Daemon({LIST: WORKERS_OK, INFO_RPC: info}, {"/version": (500, b"")})
    ctx = fake_host(make_host, base_host, daemon, env={"DOCKER_HOST": "unix:///run/user/1000/docker.sock"})
    (b,), _, _ = list_builders(ctx, DOCKER)
    assert b.nodes[0].buildkit == "v0.13.2" and daemon.asked[0][:2] == ("/run/user/1000/docker.sock", "/grpc")
    assert len(daemon.asked) == 2


@pytest.mark.parametrize("grpc", [
    {LIST: GrpcAnswer(LIST, error="the server went away (GOAWAY, error code 2)")},
    {LIST: GrpcAnswer(LIST, b"\x0b", 0)},  # not a worker list
    {LIST: WORKERS_OK, INFO_RPC: GrpcAnswer(INFO_RPC, status=14, error="grpc-status 14")},
    {LIST: WORKERS_OK, INFO_RPC: UNIMPLEMENTED},  # and /version does not answer
])
def test_any_doubt_runs_buildx_ls_as_before(make_host, base_host, grpc):
    ls_json = run_output("v0.14.0", "buildx", "ls", "--format", "json")
    ctx = fake_host(make_host, base_host, Daemon(grpc), ls_json=ls_json)
    builders, notes, _ = list_builders(ctx, DOCKER)
    assert [b.name for b in builders] == ["default", "multi"]
    assert notes == ["read `docker buildx ls --format json` and buildx's own folder"]
    assert [c[0] for c in ctx.runner.calls if c[0][1] == "buildx"] == [LS_JSON]


@pytest.mark.parametrize("setup", [
    {"store": store_files("multi")},  # a created builder: buildx lists it too
    {"store": {"/root/.docker/contexts/meta/0123abcd/meta.json": '{"Name": "remote"}'}},  # another context
    {"env": {"DOCKER_HOST": "tcp://10.0.0.1:2375"}},
    {"env": {"DOCKER_CONTEXT": "remote"}},
])
def test_other_builders_possible_means_buildx_ls_without_asking_the_daemon(make_host, base_host, setup):
    daemon = Daemon({LIST: WORKERS_OK})
    ls_json = run_output("v0.14.0", "buildx", "ls", "--format", "json")
    ctx = fake_host(make_host, base_host, daemon, ls_json=ls_json, **setup)
    list_builders(ctx, DOCKER)
    assert daemon.asked == [] and [c[0] for c in ctx.runner.calls if c[0][1] == "buildx"] == [LS_JSON]


def test_a_hung_daemon_costs_one_timeout_and_no_buildx_ls(make_host, base_host):
    daemon = Daemon({LIST: GrpcAnswer(LIST, error="timed out after 10s", timed_out=True)})
    ctx = fake_host(make_host, base_host, daemon)
    assert list_builders(ctx, DOCKER) == ([], [], f"gRPC {LIST}: timed out after 10s (the default builder's node "
                                                  "does not answer)")
    assert not [c for c in ctx.runner.calls if c[0][1] == "buildx"]


def test_the_three_questions_share_one_run_timeout(make_host, base_host):
    daemon = Daemon({LIST: WORKERS_OK, INFO_RPC: UNIMPLEMENTED}, {"/version": (200, b'{"Version": "23.0.1"}')})
    ctx = fake_host(make_host, base_host, daemon)
    ctx.timeout = 3.0
    (b,), _, _ = list_builders(ctx, DOCKER)
    assert b.nodes[0].buildkit == "v0.10.6+4f0ee09"
    assert len(daemon.timeouts) == 3 and all(0 < t <= 3.0 for t in daemon.timeouts)
    assert daemon.timeouts == sorted(daemon.timeouts, reverse=True)
