"""docker-cli, docker-daemon, docker-experimental with captured `docker version`/`docker info` outputs."""

import json

import pytest

from mab_doctor.checks.docker_cli import docker_cli
from mab_doctor.checks.docker_daemon import docker_daemon
from mab_doctor.checks.docker_experimental import docker_experimental
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from elfbuild import build_elf
from helpers import TESTS

DATA = TESTS / "data" / "docker"
DOCKER = "/usr/bin/docker"
VERSION = (DOCKER, "version", "--format", "{{json .}}")
INFO = (DOCKER, "info", "--format", "{{json .}}")


def captured(name):
    return (DATA / name).read_text()


def host(make_host, version_out, *, rc=0, stderr="", info=None, files=None, env=None, timed_out=False, **kw):
    tree = {"/proc/sys/kernel/arch": "x86_64\n", "/proc/sys/kernel/osrelease": "6.1.0\n",
            "/usr/bin/sh": build_elf("x86_64"), "/bin": "-> usr/bin", "/etc/os-release": "ID=debian\nVERSION_ID=12\n",
            DOCKER: "#!/bin/sh\n", **(files or {})}
    commands = {VERSION: CommandResult(VERSION, None if timed_out else rc, version_out, stderr,
                                       timed_out=timed_out, timeout=10)}
    if info is not None:
        commands[INFO] = CommandResult(INFO, 0, info)
    if timed_out:
        commands[(DOCKER, "--version")] = CommandResult((DOCKER, "--version"), 0, captured("docker-version.txt"))
    ctx = make_host(tree, commands=commands, env={"PATH": "/usr/bin", "HOME": "/root", **(env or {})}, **kw)
    (ctx.path(DOCKER)).chmod(0o755)
    object.__setattr__(ctx, "_memo", {**ctx._memo, "is_live": True})  # let the docker CLI "run"
    return ctx


def up(make_host, **kw):
    return host(make_host, captured("version-28-client-20.10-server.json"), info=captured("info-20.10.json"), **kw)


def test_cli_and_daemon_up(make_host):
    ctx = up(make_host)
    cli = docker_cli(ctx)
    assert cli.status is Status.OK and cli.summary.startswith("docker 28.2.2 (/usr/bin/docker), context default")
    daemon = docker_daemon(ctx)
    assert daemon.status is Status.OK
    assert daemon.summary == "dockerd 20.10.24+dfsg1 (linux/amd64, overlay2, classic image store)"
    assert daemon.data["rootless"] is False and daemon.data["storage_driver"] == "overlay2"
    assert [c[0] for c in ctx.runner.calls] == [VERSION, INFO]  # once per run, shared by both checks


def test_daemon_down_and_denied_have_different_remedies(make_host):
    down = docker_daemon(host(make_host, captured("version-down.json"), rc=1, stderr=captured("version-down.stderr")))
    assert down.status is Status.FAIL and down.summary.startswith("daemon is not running")
    assert "systemctl start docker" in down.remediation
    denied = docker_daemon(host(make_host, captured("version-denied.json"), rc=1,
                                stderr=captured("version-denied.stderr")))
    assert denied.status is Status.FAIL and denied.summary.startswith("permission denied")
    assert "docker group" in denied.remediation


def test_hung_daemon_costs_one_timeout_and_client_version_still_known(make_host):
    ctx = host(make_host, "", timed_out=True, env={"DOCKER_HOST": "unix:///tmp/hung.sock"})
    daemon = docker_daemon(ctx)
    assert daemon.status is Status.FAIL and "timed out" in daemon.summary
    assert "DOCKER_HOST=unix:///tmp/hung.sock" in daemon.details[0]
    assert docker_cli(ctx).status is Status.OK
    assert [c[0] for c in ctx.runner.calls] == [VERSION, (DOCKER, "--version")]  # no `docker info` after a hang


def test_old_cli_has_no_plugins(make_host):
    data = json.loads(captured("version-20.10.json"))
    data["Client"]["Version"] = "18.09.1"  # derived: Debian 10's CLI version
    res = docker_cli(host(make_host, json.dumps(data), info=captured("info-20.10.json")))
    assert res.status is Status.FAIL and "older than 19.03.0" in res.summary


def test_experimental_not_needed_on_20_10(make_host):
    res = docker_experimental(up(make_host))
    assert res.status is Status.OK and res.summary.startswith("not needed: Docker CLI 28.2.2 always enables")


def test_experimental_needed_on_19_03_with_a_safe_fix(make_host):
    data = json.loads(captured("version-20.10.json"))
    data["Client"]["Version"] = "19.03.15"  # derived from the 20.10 capture: only the versions changed
    data["Server"]["Version"] = "19.03.15"
    files = {"/root/.docker/config.json": json.dumps({"auths": {"example": {}}, "credsStore": "pass"})}
    res = docker_experimental(host(make_host, json.dumps(data), info=captured("info-20.10.json"), files=files))
    assert res.status is Status.FAIL and "19.03.15 hides buildx" in res.summary
    (action,) = res.fix.actions
    assert action.kind == "json-set" and action.subject == "/root/.docker/config.json"
    assert json.loads(action.line) == {"experimental": "enabled"} and res.fix.needs_root is False
    enabled = docker_experimental(host(make_host, json.dumps(data), info=captured("info-20.10.json"), files=files,
                                       env={"DOCKER_CLI_EXPERIMENTAL": "enabled"}))
    assert enabled.status is Status.WARN and "not experimental" in enabled.summary


@pytest.mark.parametrize("path", ["/root/.docker/config.json", "/etc/docker/daemon.json"])
def test_corrupt_json_names_file_line_and_column(make_host, path):
    broken = '{\n  "experimental": "enabled",\n  "auths": {\n}\n'
    res = docker_experimental(up(make_host, files={path: broken}))
    assert res.status is Status.FAIL and f"{path}: line 5, column 1" in res.summary
    assert (res.data["errors"][0]).startswith(path)


def test_docker_config_env_moves_the_config(make_host):
    files = {"/srv/dc/config.json": "{oops"}
    res = docker_experimental(up(make_host, files=files, env={"DOCKER_CONFIG": "/srv/dc"}))
    assert res.status is Status.FAIL and "/srv/dc/config.json: line 1, column 2" in res.summary


def test_no_docker_but_podman_skips(make_host):
    tree = {"/usr/bin/podman": "#!/bin/sh\n", "/proc/sys/kernel/arch": "x86_64\n"}
    ctx = make_host(tree, env={"PATH": "/usr/bin"})
    ctx.path("/usr/bin/podman").chmod(0o755)
    assert docker_cli(ctx).status is Status.SKIP
    ctx.path("/usr/bin/podman").unlink()
    ctx2 = make_host(tree | {"/usr/bin/podman": ""}, env={"PATH": "/nowhere"})
    assert docker_cli(ctx2).status is Status.FAIL
