"""Runs after every other test (conftest moves it last): the host is as the session found it, Docker still builds."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

# FROM scratch with a RUN step: the step's container needs the daemon's default bridge (docker0).
DOCKERFILE = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "echo intact > /intact"]\n'


def test_docker0_is_still_there(host_at_start):
    if not (host_at_start.docker_answers and "docker0" in host_at_start.interfaces):
        pytest.skip("the host daemon was not running with a docker0 bridge when the session started")
    link = subprocess.run(["ip", "link", "show", "docker0"], capture_output=True, text=True, timeout=30)
    assert link.returncode == 0, f"docker0 is gone: {link.stderr.strip()}"
    assert "docker0" in link.stdout


def test_host_daemon_still_runs_a_build_step(host_at_start, host_docker, busybox_native, tmp_path):
    if not host_at_start.docker_answers:
        pytest.skip("the host daemon was not answering on /var/run/docker.sock when the session started")
    shutil.copy(busybox_native, tmp_path / "busybox")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    tag = f"mab-doctor-test/host-intact:{os.getpid()}"
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    env.pop("DOCKER_CONTEXT", None)
    try:
        build = subprocess.run([*host_docker, "build", "--no-cache", "-t", tag, str(tmp_path)], env=env,
                               capture_output=True, text=True, timeout=300)
        assert build.returncode == 0, f"the host daemon cannot run a build step: {build.stderr[-800:]}"
    finally:
        subprocess.run([*host_docker, "image", "rm", "-f", tag], capture_output=True, timeout=60)
    left = subprocess.run([*host_docker, "image", "ls", "-q", tag], capture_output=True, text=True, timeout=60)
    assert left.returncode == 0 and not left.stdout.strip(), f"{tag} was not removed"


def test_host_state_is_as_the_session_found_it(changes_since_start):
    assert changes_since_start() == ""
