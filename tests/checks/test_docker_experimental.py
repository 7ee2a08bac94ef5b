"""docker-experimental: judged by the Docker version; config.json and daemon.json read safely."""

import json
import os

import pytest

from helpers import docker_data
from mab_doctor.checks.docker_experimental import docker_experimental
from mab_doctor.core.model import Status


def test_experimental_not_needed_on_20_10(docker_host):
    res = docker_experimental(docker_host.up())
    assert res.status is Status.OK and res.summary.startswith("not needed: Docker CLI 28.2.2 always enables")


def test_experimental_needed_on_19_03_with_a_safe_fix(docker_host):
    data = json.loads(docker_data("version-20.10.json"))
    data["Client"]["Version"] = "19.03.15"  # derived from the 20.10 capture: only the versions changed
    data["Server"]["Version"] = "19.03.15"
    files = {"/root/.docker/config.json": json.dumps({"auths": {"example": {}}, "credsStore": "pass"})}
    res = docker_experimental(docker_host(json.dumps(data), info=docker_data("info-20.10.json"), files=files))
    assert res.status is Status.FAIL and "19.03.15 hides buildx" in res.summary
    (action,) = res.fix.actions
    assert action.kind == "json-set" and action.subject == "/root/.docker/config.json"
    assert json.loads(action.line) == {"experimental": "enabled"} and res.fix.needs_root is False
    enabled = docker_experimental(docker_host(json.dumps(data), info=docker_data("info-20.10.json"), files=files,
                                              env={"DOCKER_CLI_EXPERIMENTAL": "enabled"}))
    assert enabled.status is Status.WARN and "not experimental" in enabled.summary


@pytest.mark.parametrize("path", ["/root/.docker/config.json", "/etc/docker/daemon.json"])
def test_corrupt_json_names_file_line_and_column(docker_host, path):
    broken = '{\n  "experimental": "enabled",\n  "auths": {\n}\n'
    res = docker_experimental(docker_host.up(files={path: broken}))
    assert res.status is Status.FAIL and f"{path}: line 5, column 1" in res.summary
    assert (res.data["errors"][0]).startswith(path)


def test_docker_config_env_moves_the_config(docker_host):
    files = {"/srv/dc/config.json": "{oops"}
    res = docker_experimental(docker_host.up(files=files, env={"DOCKER_CONFIG": "/srv/dc"}))
    assert res.status is Status.FAIL and "/srv/dc/config.json: line 1, column 2" in res.summary


def unreadable(ctx, path):
    """Make ``path`` of the tree unreadable to this user: mode 000 when not root (root reads
    anything), else a FIFO, which is no more readable as a config file."""
    real = ctx.path(path)
    if os.geteuid() != 0:
        real.chmod(0)
    else:
        real.unlink()
        os.mkfifo(real)
    return ctx


@pytest.mark.parametrize("path", ["/root/.docker/config.json", "/etc/docker/daemon.json"])
def test_an_unreadable_config_is_unreadable_not_corrupt(docker_host, path):
    ctx = unreadable(docker_host.up(files={path: "{}"}), path)
    res = docker_experimental(ctx)
    assert res.status is Status.WARN and res.summary.startswith(f"cannot read {path}: ")
    assert "corrupt" not in res.summary and res.data["unreadable"][0].startswith(path)


def test_a_directory_where_config_json_belongs_is_unreadable(docker_host):
    ctx = docker_host.up(files={"/root/.docker/config.json/oops": "{}"})
    res = docker_experimental(ctx)
    assert res.status is Status.WARN
    assert res.summary == "cannot read /root/.docker/config.json: a directory, not a regular file: not read"
