"""docker-cli: which binary, its client version, and where it talks to, with captured `docker version` output."""

import json

from helpers import VERSION, docker_data
from mab_doctor.checks.docker_cli import docker_cli
from mab_doctor.core.model import Status


def test_cli_up(docker_host):
    ctx = docker_host.up()
    cli = docker_cli(ctx)
    assert cli.status is Status.OK and cli.summary.startswith("docker 28.2.2 (/usr/bin/docker), context default")
    assert cli.data["version"] == "28.2.2" and cli.data["other_copies"] == ()
    assert [c[0] for c in ctx.runner.calls][0] == VERSION


def test_client_version_known_when_the_daemon_hangs(docker_host):
    ctx = docker_host("", timed_out=True, env={"DOCKER_HOST": "unix:///tmp/hung.sock"})
    assert docker_cli(ctx).status is Status.OK


def test_old_cli_has_no_plugins(docker_host):
    data = json.loads(docker_data("version-20.10.json"))
    data["Client"]["Version"] = "18.09.1"  # derived: Debian 10's CLI version
    res = docker_cli(docker_host(json.dumps(data), info=docker_data("info-20.10.json")))
    assert res.status is Status.FAIL and "older than 19.03.0" in res.summary


def test_no_docker_but_podman_skips(make_host, base_host):
    tree = {**base_host, "/usr/bin/podman": "#!/bin/sh\n"}
    ctx = make_host(tree, env={"PATH": "/usr/bin"})
    ctx.path("/usr/bin/podman").chmod(0o755)
    assert docker_cli(ctx).status is Status.SKIP
    ctx.path("/usr/bin/podman").unlink()
    ctx2 = make_host(tree | {"/usr/bin/podman": ""}, env={"PATH": "/nowhere"})
    assert docker_cli(ctx2).status is Status.FAIL
