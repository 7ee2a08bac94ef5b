"""docker-daemon: up, down, denied, hung and unreachable endpoints, with captured `docker version`/`docker info`."""

import json

import pytest

from helpers import DOCKER, INFO, VERSION, docker_data
from mab_doctor.checks.docker_cli import docker_cli
from mab_doctor.checks.docker_daemon import docker_daemon
from mab_doctor.core.model import Status


def test_daemon_up_shares_one_docker_version_with_the_cli(docker_host):
    ctx = docker_host.up()
    cli = docker_cli(ctx)
    assert cli.status is Status.OK and cli.summary.startswith("docker 28.2.2 (/usr/bin/docker), context default")
    daemon = docker_daemon(ctx)
    assert daemon.status is Status.OK
    assert daemon.summary == "dockerd 20.10.24+dfsg1 (linux/amd64, overlay2, classic image store)"
    assert daemon.data["rootless"] is False and daemon.data["storage_driver"] == "overlay2"
    assert [c[0] for c in ctx.runner.calls] == [VERSION, INFO]  # once per run, shared by both checks


def test_daemon_down_and_denied_have_different_remedies(docker_host):
    down = docker_daemon(docker_host.down())
    assert down.status is Status.FAIL and down.summary.startswith("the Docker daemon is not running: ")
    assert "systemctl start docker" in down.remediation and down.data["state"] == "down"
    denied = docker_daemon(docker_host(docker_data("version-denied.json"), rc=1,
                                       stderr=docker_data("version-denied.stderr")))
    assert denied.status is Status.FAIL and denied.summary.startswith("permission to the Docker daemon's socket is denied: ")
    assert "docker group" in denied.remediation


def test_hung_daemon_costs_one_timeout_and_client_version_still_known(docker_host):
    ctx = docker_host("", timed_out=True, env={"DOCKER_HOST": "unix:///tmp/hung.sock"})
    daemon = docker_daemon(ctx)
    assert daemon.status is Status.FAIL and "timed out" in daemon.summary
    assert "DOCKER_HOST=unix:///tmp/hung.sock" in daemon.details[0]
    assert docker_cli(ctx).status is Status.OK
    assert [c[0] for c in ctx.runner.calls] == [VERSION, (DOCKER, "--version")]  # no `docker info` after a hang


@pytest.mark.parametrize("docker_host_env, stderr", [
    ("tcp://127.0.0.1:1", "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?\n"),
    ("nonsense", "unable to parse docker host `nonsense`\n"),  # derived: the CLI's words for garbage vary
])
def test_a_bad_docker_host_is_named_not_sent_to_start_the_daemon(docker_host, docker_host_env, stderr):
    ctx = docker_host(docker_data("version-down.json"), rc=1, stderr=stderr, env={"DOCKER_HOST": docker_host_env})
    res = docker_daemon(ctx)
    assert res.status is Status.FAIL and res.data["state"] == "unreachable"
    assert res.summary.startswith(f"the Docker endpoint DOCKER_HOST={docker_host_env} cannot be reached: ")
    assert f"DOCKER_HOST={docker_host_env} is wrong or unreachable" in res.remediation
    assert "unset DOCKER_HOST" in res.remediation and "Start" not in res.remediation


def test_a_missing_docker_context_is_named(docker_host):
    stderr = "Current context \"gone\" is not found on the file system, please check your config file\n"
    res = docker_daemon(docker_host(docker_data("version-down.json"), rc=1, stderr=stderr,
                                    env={"DOCKER_CONTEXT": "gone"}))
    assert res.data["state"] == "unreachable" and "DOCKER_CONTEXT=gone is wrong or unreachable" in res.remediation
    assert "docker context ls" in res.remediation and "unset DOCKER_CONTEXT" in res.remediation


def test_containerd_image_store_is_recognised(docker_host):
    info = json.loads(docker_data("info-20.10.json"))
    info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]  # derived: a containerd-store daemon
    res = docker_daemon(docker_host(docker_data("version-28-client-20.10-server.json"), info=json.dumps(info)))
    assert res.status is Status.OK and res.data["image_store"] == "containerd image store"
