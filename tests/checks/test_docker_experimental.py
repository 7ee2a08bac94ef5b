"""docker-experimental: judged by the Docker version; config.json and daemon.json read safely."""

import json
import os

import pytest

from helpers import DOCKER, docker_data
from mab_doctor.core.context import CommandResult
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


CLI_REMEDY = ("On 19.03: `export DOCKER_CLI_EXPERIMENTAL=enabled` or set `\"experimental\": \"enabled\"` in "
              "config.json; better: upgrade to >= 20.10.")
DAEMON_REMEDY = ("Upgrade to >= 20.10, or on 19.03 set `\"experimental\": true` in /etc/docker/daemon.json "
                 "and restart dockerd.")


def versions(client="19.03.15", server="19.03.15", experimental=None, engine_experimental="false"):
    """`docker version` JSON derived from the 20.10 capture: the client and server versions changed,
    the server's own Experimental key set only when ``experimental`` is given, the Engine
    component's Experimental set to ``engine_experimental``."""
    data = json.loads(docker_data("version-28-client-20.10-server.json"))
    data["Client"]["Version"] = client
    if server is None:
        data["Server"] = None
        return json.dumps(data)
    data["Server"]["Version"] = server
    data["Server"]["Components"][0]["Details"]["Experimental"] = engine_experimental
    if experimental is not None:
        data["Server"]["Experimental"] = experimental
    return json.dumps(data)


def judge(docker_host, *, files=None, env=None, **version_kw):
    out = versions(**version_kw)
    if version_kw.get("server", "19.03.15") is None:
        return docker_experimental(docker_host(out, rc=1, stderr=docker_data("version-down.stderr"),
                                               files=files, env=env))
    return docker_experimental(docker_host(out, info=docker_data("info-20.10.json"), files=files, env=env))


CONFIG = "/root/.docker/config.json"


@pytest.mark.parametrize("env, config", [
    ({"DOCKER_CLI_EXPERIMENTAL": "enabled"}, None), ({"DOCKER_CLI_EXPERIMENTAL": "true"}, None),
    ({"DOCKER_CLI_EXPERIMENTAL": "1"}, None), ({"DOCKER_CLI_EXPERIMENTAL": "Enabled"}, None),
    ({}, {"experimental": "enabled"}), ({}, {"experimental": True}), ({}, {"experimental": "TRUE"}),
])
def test_client_experimental_switches_on_19_03(docker_host, env, config):
    files = {CONFIG: json.dumps(config)} if config else None
    res = judge(docker_host, env=env, files=files, experimental=True)
    assert res.status is Status.OK and res.summary == "experimental enabled where Docker 19.03.15 needs it"
    assert res.data == {"client_experimental": True, "daemon_experimental": True}


@pytest.mark.parametrize("env, config", [
    ({"DOCKER_CLI_EXPERIMENTAL": "disabled"}, None), ({"DOCKER_CLI_EXPERIMENTAL": "0"}, None),
    ({"DOCKER_CLI_EXPERIMENTAL": "false"}, None), ({}, {"experimental": "disabled"}), ({}, {"experimental": False}),
    ({}, {"auths": {}}), ({}, None),
])
def test_client_experimental_off_on_19_03_fails_with_a_fix(docker_host, env, config):
    files = {CONFIG: json.dumps(config)} if config else None
    res = judge(docker_host, env=env, files=files, experimental=True)
    assert res.status is Status.FAIL
    assert res.summary == "Docker CLI 19.03.15 hides buildx unless experimental is enabled"
    assert res.remediation == CLI_REMEDY
    assert res.fix.title == 'Set "experimental": "enabled" in /root/.docker/config.json'
    assert res.data == {"client_experimental": False, "daemon_experimental": True}


DOCKERD = {"/proc/812/comm": "dockerd\n", "/proc/812/cmdline": b"/usr/bin/dockerd\0--experimental\0-H\0fd://\0"}


@pytest.mark.parametrize("version_kw, files", [
    ({"experimental": True}, {}),
    ({"experimental": "true"}, {}),
    ({"engine_experimental": "true"}, {}),
    ({}, {"/etc/docker/daemon.json": '{"experimental": true}'}),
    ({}, DOCKERD),
    # two daemons, the first seen with the flag: one is enough
    ({}, {**DOCKERD, "/proc/9000/comm": "dockerd\n", "/proc/9000/cmdline": b"/usr/bin/dockerd\0"}),
    ({}, {"/proc/9000/comm": "dockerd\n", "/proc/9000/cmdline": b"/usr/bin/dockerd\0", **DOCKERD}),
    # another process listed before the daemon is passed over, not the end of the search
    ({}, {"/proc/100/comm": "containerd\n", "/proc/100/cmdline": b"containerd\0", **DOCKERD}),
])
def test_each_daemon_side_switch_counts_on_19_03(docker_host, version_kw, files):
    res = judge(docker_host, env={"DOCKER_CLI_EXPERIMENTAL": "enabled"}, files=files, **version_kw)
    assert res.status is Status.OK and res.summary == "experimental enabled where Docker 19.03.15 needs it"
    assert res.data["daemon_experimental"] is True
    assert res.details[1] == "daemon: experimental (docker version, /etc/docker/daemon.json, dockerd command line)"


@pytest.mark.parametrize("version_kw, files", [
    ({}, {}),
    ({"experimental": False, "engine_experimental": "true"}, {}),  # the server's own key wins
    ({"experimental": "disabled"}, {"/etc/docker/daemon.json": '{"experimental": false}'}),
    ({}, {"/proc/812/comm": "dockerd\n", "/proc/812/cmdline": b"/usr/bin/dockerd\0-H\0fd://\0"}),
    ({}, {"/proc/812/comm": "containerd\n", "/proc/812/cmdline": b"containerd\0--experimental\0"}),
    ({}, {"/proc/812/comm": "python3\n", "/proc/812/cmdline": b"python3\0--experimental\0"}),
    ({}, {"/proc/self/comm": "dockerd\n", "/proc/self/cmdline": b"dockerd\0--experimental\0"}),
    ({}, {"/proc/812/comm": "dockerd\n", "/proc/812/cmdline": b"dockerd\0--experimental=false\0"}),
])
def test_a_19_03_daemon_without_experimental_warns(docker_host, version_kw, files):
    res = judge(docker_host, env={"DOCKER_CLI_EXPERIMENTAL": "enabled"}, files=files, **version_kw)
    assert res.status is Status.WARN
    assert res.summary == "daemon 19.03.15 is not experimental: `docker pull --platform` is refused"
    assert res.remediation == DAEMON_REMEDY
    assert res.data == {"client_experimental": True, "daemon_experimental": False}
    assert list(res.details) == [
        "client: DOCKER_CLI_EXPERIMENTAL=enabled, /root/.docker/config.json: experimental=(unset)",
        "daemon: not experimental (docker version, /etc/docker/daemon.json, dockerd command line)"]


def test_a_19_03_client_with_the_daemon_down_judges_only_the_client(docker_host):
    res = judge(docker_host, env={"DOCKER_CLI_EXPERIMENTAL": "enabled"}, server=None)
    assert res.status is Status.OK and res.summary == "experimental enabled where Docker 19.03.15 needs it"


NOT_NEEDED = ("not needed: Docker CLI {} always enables experimental features (since 20.10.0; "
              "DOCKER_CLI_EXPERIMENTAL and config.json are ignored)")


@pytest.mark.parametrize("client, server, version_kw", [
    ("20.10.0", "20.10.0", {}), ("20.10.0", None, {}), ("28.2.2", "20.10.24", {}),
    ("24.0.7", "19.03.15", {"experimental": True}),
])
def test_a_20_10_client_needs_nothing(docker_host, client, server, version_kw):
    res = judge(docker_host, client=client, server=server, **version_kw)
    assert res.status is Status.OK and res.summary == NOT_NEEDED.format(client)


@pytest.mark.parametrize("server", ["19.03.15", "20.9.9"])
def test_a_20_10_client_with_an_old_daemon_not_experimental_warns(docker_host, server):
    res = judge(docker_host, client="20.10.0", server=server)
    assert res.status is Status.WARN
    assert res.summary == f"daemon {server} is not experimental: `--platform` on pull/run needs it"
    assert res.remediation == DAEMON_REMEDY and res.details[0] == NOT_NEEDED.format("20.10.0")


def test_a_19_03_client_just_below_the_limit_still_needs_experimental(docker_host):
    res = judge(docker_host, client="20.9.99", server="20.10.0")
    assert res.status is Status.FAIL and res.summary == "Docker CLI 20.9.99 hides buildx unless experimental is enabled"


def test_unknown_client_version_is_skipped(docker_host):
    ctx = docker_host("", rc=1, stderr="segmentation fault\n")
    ctx.runner.commands[(DOCKER, "--version")] = CommandResult((DOCKER, "--version"), 0, "")
    res = docker_experimental(ctx)
    assert res.status is Status.SKIP and res.summary == "client version unknown (error): nothing to judge"


def test_corrupt_and_unreadable_remedies(docker_host):
    res = docker_experimental(docker_host.up(files={CONFIG: "{"}))
    assert res.remediation == ("Fix the syntax at that line and column (the file was not changed); the docker "
                               "CLI or daemon refuses to start with it as it is.")
    both = docker_experimental(docker_host.up(files={CONFIG: "{", "/etc/docker/daemon.json": "[1,"}))
    assert both.status is Status.FAIL and both.summary.startswith(f"corrupt JSON: {CONFIG}: ")
    assert len(both.data["errors"]) == 2 and both.data["errors"][1].startswith("/etc/docker/daemon.json: ")
    res = docker_experimental(docker_host.up(files={"/etc/docker/daemon.json/x": "{}"}))
    assert res.status is Status.WARN and res.remediation == (
        "Make it a regular file this user can read: the docker CLI or daemon cannot read it either, and its "
        "experimental switches are unknown.")


def test_the_check_is_declared_fixable_after_docker_cli():
    assert (docker_experimental.name, docker_experimental.category, docker_experimental.requires,
            docker_experimental.fixable) == ("docker-experimental", "docker", ("docker-cli",), True)


def test_the_engine_component_is_found_wherever_it_is_listed(docker_host):
    data = json.loads(versions(engine_experimental="true"))
    engine, *others = data["Server"]["Components"]
    # other components, whatever their names, are not the engine
    data["Server"]["Components"] = ["junk", {"Name": "BuildKit", "Details": {}}, *others, engine]
    res = docker_experimental(docker_host(json.dumps(data), info=docker_data("info-20.10.json"),
                                          env={"DOCKER_CLI_EXPERIMENTAL": "enabled"}))
    assert res.status is Status.OK and res.data["daemon_experimental"] is True


def test_components_that_are_not_a_list_are_ignored(docker_host):
    data = json.loads(versions(engine_experimental="true"))
    data["Server"]["Components"] = {"Name": "Engine", "Details": {"Experimental": "true"}}
    res = docker_experimental(docker_host(json.dumps(data), info=docker_data("info-20.10.json"),
                                          env={"DOCKER_CLI_EXPERIMENTAL": "enabled"}))
    assert res.status is Status.WARN and res.data["daemon_experimental"] is False


@pytest.mark.parametrize("padding, seen", [(600_000, True), ((1 << 20) + 10, False)])
def test_the_daemon_command_line_is_read_up_to_one_mebibyte(docker_host, padding, seen):
    cmdline = b"/usr/bin/dockerd\0" + b"--label=" + b"x" * padding + b"\0--experimental\0"
    files = {"/proc/812/comm": "dockerd\n", "/proc/812/cmdline": cmdline}
    res = judge(docker_host, env={"DOCKER_CLI_EXPERIMENTAL": "enabled"}, files=files)
    assert res.data["daemon_experimental"] is seen


def test_two_unreadable_files_name_the_first(docker_host):
    ctx = docker_host.up(files={"/root/.docker/config.json/x": "{}", "/etc/docker/daemon.json/x": "{}"})
    res = docker_experimental(ctx)
    assert res.summary == "cannot read /root/.docker/config.json: a directory, not a regular file: not read"
    assert res.data["unreadable"][1].startswith("/etc/docker/daemon.json: ")
