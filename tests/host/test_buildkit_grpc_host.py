"""The default builder read from the daemon's BuildKit (ListWorkers over /grpc) equals what the real `buildx ls --format json` prints."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mab_doctor.core.context import Context
from mab_doctor.engines.buildkit import ask_daemon
from mab_doctor.engines.builders import list_builders

PLUGIN = Path("/usr/libexec/docker/cli-plugins/docker-buildx")
DOCKER = "/usr/bin/docker"


def real_ls(env: dict) -> list[dict]:
    """`docker buildx ls --format json` as the CLI runs the plugin: one object per line."""
    if not PLUGIN.is_file():
        print(f"skipped: {PLUGIN} is missing")
        pytest.skip(f"{PLUGIN} is missing: scripts/test installs Debian's docker-buildx")
    proc = subprocess.run([str(PLUGIN), "buildx", "ls", "--format", "json"], capture_output=True, text=True,
                          timeout=60, env={**env, "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": DOCKER})
    if proc.returncode != 0 and "--format" in proc.stderr:
        print("skipped: this buildx has no `ls --format json` (before v0.13)")
        pytest.skip("this buildx has no `ls --format json` (before v0.13)")
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def compare(env: dict, sock: str) -> None:
    ctx = Context(env=env)
    builders, notes, problem = list_builders(ctx, DOCKER)  # first: `buildx ls` writes its folder
    ids = sorted(w.id for w in ask_daemon(ctx, sock).workers)
    listed = real_ls(env)
    assert {b["Name"] for b in listed} == {"default"}, listed
    want = listed[0]
    assert notes[0].startswith("read the daemon's BuildKit workers") and problem is None, notes
    (got,) = builders
    assert (got.name, got.driver) == (want["Name"], want["Driver"])
    assert [(n.name, n.endpoint, n.status, n.buildkit, n.platforms) for n in got.nodes] == [
        (n["Name"], n["Endpoint"], n["Status"], n.get("Version", ""), n.get("Platforms", [])) for n in want["Nodes"]]
    assert ids == want["Nodes"][0]["IDs"]
    assert got.current  # nothing else exists to be current
    print(f"{sock}: {got.nodes[0].buildkit}, {ids}, {', '.join(got.nodes[0].platforms)}")


def test_the_machine_daemon_default_builder_matches_buildx_ls(dockerd):
    compare(dict(os.environ), dockerd)


def test_docker_26_default_builder_matches_buildx_ls(docker26):
    # Docker 26's BuildKit answers Info: the version comes from it, not from buildx's table
    compare({**os.environ, "DOCKER_HOST": f"unix://{docker26}"}, docker26)
