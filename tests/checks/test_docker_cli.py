"""docker-cli: which binary, its client version, and where it talks to, with captured `docker version` output."""

import json

import pytest

from helpers import DOCKER, VERSION, docker_data, executable, write_tree
from mab_doctor.core.context import CommandResult, Context
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


CLI_REMEDY = ("Upgrade Docker (>= 20.10 avoids the experimental opt-in too); older engines can run the buildx "
              "binary directly with reduced features.")


def client(version):
    """The 20.10 capture with only the client version changed."""
    data = json.loads(docker_data("version-20.10.json"))
    data["Client"]["Version"] = version
    return json.dumps(data)


def test_cli_up_names_binary_context_and_version(docker_host):
    res = docker_cli(docker_host.up())
    assert res.status is Status.OK and res.summary == "docker 28.2.2 (/usr/bin/docker), context default"
    assert list(res.details) == ["on PATH: /usr/bin/docker", "talks to context default",
                                 "client 28.2.2, API 1.41, from `/usr/bin/docker version --format '{{json .}}'`"]
    assert res.data["api_version"] == "1.41" and res.data["context"] == "default"
    assert res.data["docker_host"] is None and res.data["binary"] == "/usr/bin/docker"


def test_docker_host_is_named_in_the_summary(docker_host):
    res = docker_cli(docker_host("", timed_out=True, env={"DOCKER_HOST": "unix:///tmp/hung.sock"}))
    assert res.summary == "docker 28.2.2 (/usr/bin/docker), DOCKER_HOST=unix:///tmp/hung.sock"
    assert res.data["docker_host"] == "unix:///tmp/hung.sock"


def test_every_other_copy_on_path_is_listed(docker_host):
    ctx = executable(docker_host.up(files={"/opt/old/bin/docker": "#!/bin/sh\n"},
                                    env={"PATH": "/usr/bin:/opt/old/bin"}), "/opt/old/bin/docker")
    res = docker_cli(ctx)
    assert res.status is Status.OK and res.data["other_copies"] == ("/opt/old/bin/docker",)
    assert res.details[0] == "on PATH: /usr/bin/docker, /opt/old/bin/docker"


@pytest.mark.parametrize("version", ["19.03.0", "19.03.15", "20.10.24"])
def test_cli_19_03_and_newer_runs_plugins(docker_host, version):
    res = docker_cli(docker_host(client(version), info=docker_data("info-20.10.json")))
    assert res.status is Status.OK and res.summary == f"docker {version} (/usr/bin/docker), context default"


@pytest.mark.parametrize("version", ["18.09.1", "19.02.99", "1.13.1"])
def test_cli_before_19_03_has_no_plugins(docker_host, version):
    res = docker_cli(docker_host(client(version), info=docker_data("info-20.10.json")))
    assert res.status is Status.FAIL
    assert res.summary == f"docker {version} is older than 19.03.0: no CLI plugins, so no buildx"
    assert res.remediation == CLI_REMEDY


def test_no_client_version_warns(docker_host):
    ctx = docker_host("", rc=1, stderr="segmentation fault\n")
    ctx.runner.commands[(DOCKER, "--version")] = CommandResult((DOCKER, "--version"), 0, "")
    res = docker_cli(ctx)
    assert res.status is Status.WARN and res.summary == "/usr/bin/docker did not report a client version"
    assert res.details[-1] == "segmentation fault"
    assert res.remediation == "Run `/usr/bin/docker version` and check its output."


def test_a_foreign_root_is_not_run(tmp_path, base_host):
    root = write_tree(tmp_path, {**base_host, DOCKER: "#!/bin/sh\n"})
    (root / "usr/bin/docker").chmod(0o755)
    res = docker_cli(Context(root=root, env={"PATH": "/usr/bin"}))
    assert res.status is Status.OK and res.summary == "/usr/bin/docker (version not checked on a foreign --root)"
    assert res.data["version"] is None


def test_neither_docker_nor_podman_fails_and_podman_alone_skips(make_host, base_host):
    ctx = make_host(base_host, env={"PATH": "/usr/bin"})
    res = docker_cli(ctx)
    assert res.status is Status.FAIL and res.summary == "neither docker nor podman is installed"
    assert res.remediation == ("Install Docker (`sudo apt-get install docker.io`, or Docker's docker-ce packages) "
                               "or Podman (`sudo apt-get install podman`).")
    assert list(res.details) == []
    podman = executable(make_host({**base_host, "/usr/bin/podman": "#!/bin/sh\n"}, env={"PATH": "/usr/bin"}),
                        "/usr/bin/podman")
    skip = docker_cli(podman)
    assert skip.status is Status.SKIP and skip.summary == "docker is not installed (Podman is: see the podman check)"


def test_the_check_is_declared():
    assert (docker_cli.name, docker_cli.category, docker_cli.requires) == ("docker-cli", "docker", ())


def test_run_as_the_docker_doctor_plugin_the_cli_that_started_it_is_the_one_judged(docker_host):
    from mab_doctor.engines.docker import docker_binary

    ctx = docker_host(docker_data("version-28-client-20.10-server.json"),
                      files={"/opt/docker-20/bin/docker": "#!/bin/sh\n"},
                      env={"DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": "/opt/docker-20/bin/docker"})
    ctx.path("/opt/docker-20/bin/docker").chmod(0o755)
    assert docker_binary(ctx) == "/opt/docker-20/bin/docker"
    ctx.env = {**ctx.env, "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": "docker"}  # not a path: PATH decides
    assert docker_binary(ctx) == "/usr/bin/docker"


def test_docker_version_runs_as_a_quick_go_program_unless_the_user_tuned_go(docker_host):
    ctx = docker_host.up()
    docker_cli(ctx)
    (env,) = [e for (argv, _), e in zip(ctx.runner.calls, ctx.runner.envs) if argv == VERSION]
    assert (env["GOMAXPROCS"], env["GOGC"], env["GOMEMLIMIT"]) == ("1", "off", "256MiB")
    assert {k: v for k, v in env.items() if not k.startswith("GO")} == dict(ctx.env)
    tuned = docker_host.up()
    tuned.env = {**tuned.env, "GOGC": "50"}
    docker_cli(tuned)
    (env,) = [e for (argv, _), e in zip(tuned.runner.calls, tuned.runner.envs) if argv == VERSION]
    assert env == dict(tuned.env)  # the user's own Go setting: nothing of ours added
