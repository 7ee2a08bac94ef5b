"""`docker doctor` through the real Docker CLIs (Debian's 20.10 and Docker's 28): install, run, context, uninstall.

Everything happens in a private DOCKER_CONFIG: the plugin, the test's context and whatever the CLIs write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mab_doctor.engines.buildx import SYSTEM_PLUGIN_DIRS

CLIS = ("/usr/bin/docker", "/usr/local/bin/docker")
SOCKET = "unix:///var/run/docker.sock"
NOWHERE = "unix:///nonexistent/docker.sock"
ARGS = ("--format", "json", "--no-plugins", "--platform", "linux/arm64", "binfmt-mount")


def mab(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mab_doctor", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd="/")


def docker(cli: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=120, cwd="/")


def client_plugins(info: str) -> list[str]:
    """The plugin names of `docker info`'s client half ("Plugins:" up to the server half)."""
    client = info.split("\nServer:", 1)[0]
    assert " Plugins:\n" in client, info
    names = []
    for line in client.split(" Plugins:\n", 1)[1].splitlines():
        if not line.startswith("  "):
            break
        if not line.startswith("   ") and ":" in line:  # 28 indents each plugin's Version and Path further
            names.append(line.strip().split(":", 1)[0])
    return names


@pytest.fixture
def env(tmp_path, dockerd) -> dict:
    if any(os.path.lexists(f"{d}/docker-doctor") for d in SYSTEM_PLUGIN_DIRS):
        pytest.skip("a system-wide docker-doctor is installed: it would answer instead of the test's")
    environ = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY")}
    environ.update(DOCKER_CONFIG=str(tmp_path / "docker-config"), NO_COLOR="1")
    return environ


@pytest.mark.parametrize("cli", CLIS)
def test_docker_doctor_runs_this_mab_doctor_and_uninstall_takes_it_away(cli, env, validate_report):
    if not os.access(cli, os.X_OK):
        pytest.skip(f"{cli} is not installed")
    plugin = Path(env["DOCKER_CONFIG"]) / "cli-plugins" / "docker-doctor"
    installed = mab("install-docker-plugin", "--user", env=env)
    assert (installed.returncode, installed.stderr) == (0, "")
    assert installed.stdout.startswith(f"Installed {plugin}: ")
    assert mab("install-docker-plugin", "--user", env=env).stdout == f"Already installed: {plugin} (unchanged)\n"

    assert "doctor" in client_plugins(docker(cli, "info", env=env).stdout)
    through = docker(cli, "doctor", *ARGS, env=env)
    report = validate_report(through.stdout)
    direct = json.loads(mab(*ARGS, env=env).stdout)
    rows = [(r["name"], r["status"]) for r in report["results"]]
    assert rows == [(r["name"], r["status"]) for r in direct["results"]]
    assert [name for name, _ in rows] == ["binfmt-kernel", "binfmt-mount"]  # binfmt-mount requires binfmt-kernel
    assert report["targets"] == ["linux/arm64"]
    assert through.returncode == report["exit_code"] == direct["exit_code"]
    assert docker(cli, "doctor", "no-such-check", env=env).returncode == 2

    removed = mab("install-docker-plugin", "--user", "--uninstall", env=env)
    assert (removed.returncode, removed.stdout) == (0, f"Removed {plugin}\n")
    assert os.listdir(plugin.parent) == []
    assert "doctor" not in client_plugins(docker(cli, "info", env=env).stdout)
    gone = docker(cli, "doctor", *ARGS, env=env)  # the CLI now reads --format as its own (unknown) flag
    assert (gone.returncode, gone.stdout) == (125, "") and gone.stderr.startswith("unknown flag: --format\n")
    gone = docker(cli, "doctor", env=env)
    assert (gone.returncode, gone.stdout) == (1, "")
    assert gone.stderr.split("\n")[0] in ("docker: 'doctor' is not a docker command.",  # 20.10
                                          "docker: unknown command: docker doctor")     # 28


def docker_rows(cli: str, *global_options: str, env: dict) -> dict:
    """{check: (status, summary, data)} of docker-cli and docker-daemon as `docker [OPTIONS] doctor` saw them."""
    done = docker(cli, *global_options, "doctor", "--format", "json", "--no-plugins", "docker-cli", "docker-daemon",
                  env=env)
    assert done.stdout, done.stderr
    return {r["name"]: (r["status"], r["summary"], r["data"]) for r in json.loads(done.stdout)["results"]}


@pytest.mark.parametrize("cli", CLIS)
def test_the_clis_context_host_and_config_options_reach_mab_doctor(cli, env, tmp_path):
    if not os.access(cli, os.X_OK):
        pytest.skip(f"{cli} is not installed")
    assert mab("install-docker-plugin", env=env).returncode == 0
    made = docker(cli, "context", "create", "mab-test", "--docker", f"host={SOCKET}", env=env)
    assert made.returncode == 0, made.stderr

    # --context beats DOCKER_HOST, as in the CLI: the daemon is reached through the context.
    rows = docker_rows(cli, "--context", "mab-test", env={**env, "DOCKER_HOST": NOWHERE})
    assert rows["docker-cli"][2]["context"] == "mab-test" and rows["docker-cli"][2]["docker_host"] is None
    assert rows["docker-daemon"][0] == "ok"

    # -H beats DOCKER_CONTEXT: the doctor judges the (missing) daemon that -H names.
    rows = docker_rows(cli, "-H", NOWHERE, env={**env, "DOCKER_CONTEXT": "mab-test"})
    assert rows["docker-cli"][2]["docker_host"] == NOWHERE
    assert rows["docker-daemon"][0] == "fail" and f"DOCKER_HOST={NOWHERE}" in rows["docker-daemon"][1]

    # --config: the CLI finds the plugin there, and the doctor's own docker commands find the context there.
    rows = docker_rows(cli, "--config", env["DOCKER_CONFIG"], "--context", "mab-test",
                       env={**env, "DOCKER_CONFIG": str(tmp_path / "empty-config")})
    assert rows["docker-cli"][2]["context"] == "mab-test" and rows["docker-daemon"][0] == "ok"
    assert not (tmp_path / "empty-config" / "contexts").exists()

    # DOCKER_CONTEXT from the environment alone passes through unchanged.
    rows = docker_rows(cli, env={**env, "DOCKER_CONTEXT": "mab-test"})
    assert rows["docker-cli"][2]["context"] == "mab-test" and rows["docker-daemon"][0] == "ok"
    assert mab("install-docker-plugin", "--uninstall", env=env).returncode == 0
