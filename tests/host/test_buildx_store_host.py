"""The current builder and the created-with platforms, read from buildx's own folder, against the real buildx.

Real `docker buildx` (Debian's plugin) in an empty DOCKER_CONFIG: builders are created without booting them
(nothing is pulled or started), chosen with every form of `buildx use`, with docker contexts, DOCKER_CONTEXT
and DOCKER_HOST; after each step the doctor's answer is compared with the marks real `buildx ls` prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path("/usr/libexec/docker/cli-plugins/docker-buildx")


def docker(*args: str, env: dict | None = None) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def table_marks(env: dict | None = None) -> tuple[str, dict[str, list[str]]]:
    """(current builder, its nodes -> their `*` platforms) as the real `buildx ls` table prints them."""
    current, builder, stars = "", "", {}
    for line in docker("buildx", "ls", env=env).splitlines()[1:]:
        if not line.startswith(" "):
            builder = line.split()[0]
            current = builder.rstrip("*") if builder.endswith("*") else current
        elif builder.endswith("*"):
            platforms = line.split("   ")[-1]
            stars[line.split()[1]] = [p.strip().rstrip("*") for p in platforms.split(",") if p.strip().endswith("*")]
    return current, stars


def doctor_marks(env: dict | None = None) -> tuple[str, dict[str, list[str]]]:
    """The same two marks as the doctor's buildx-builder row reports them (JSON: the current builder's nodes)."""
    exe = os.path.join(os.path.dirname(sys.executable), "mab-doctor")
    proc = subprocess.run([exe, "buildx-builder", "--no-plugins", "--platform", "linux/riscv64", "--format", "json"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    (row,) = [r for r in json.loads(proc.stdout)["results"] if r["name"] == "buildx-builder"]
    # Either source of the builders, each with the marks read from buildx's folder: `buildx ls`, or (when only
    # the default docker-driver builder can exist) the daemon's BuildKit workers, as buildx asks them.
    assert any(d in ("read `docker buildx ls --format json` and buildx's own folder",
                     "read the daemon's BuildKit workers (as `docker buildx ls` asks them) and buildx's own folder: "
                     "only the default docker-driver builder exists") for d in row["details"]), row
    current = next(d.split()[2] for d in row["details"] if d.startswith("current builder "))
    stars = {}
    for line in row["details"]:
        if line.startswith("node ") and "): " in line:
            name, platforms = line.split()[1], line.split("): ", 1)[1]
            stars[name] = [p.strip().rstrip("*") for p in platforms.split(",") if p.strip().endswith("*")]
    return current, stars


def agree(step: str, env: dict | None = None) -> str:
    doctor = doctor_marks(env)  # first: `buildx ls` may rewrite its folder (a remembered default becomes current)
    table = table_marks(env)
    assert doctor == table, f"{step}: doctor {doctor}, buildx ls {table}"
    return doctor[0]


@pytest.fixture
def real_buildx(dockerd):
    if not PLUGIN.is_file():
        pytest.skip(f"{PLUGIN} is missing: scripts/test installs Debian's docker-buildx")
    if "--format" not in docker("buildx", "ls", "--help"):
        pytest.skip("this buildx has no `ls --format json` (before v0.13): the doctor reads its table instead")
    return PLUGIN


def test_every_way_of_choosing_a_builder_is_read_as_buildx_reads_it(real_buildx, tmp_path):
    config = Path(os.environ["DOCKER_CONFIG"])  # a fresh one per test (tests/host/conftest.py)
    assert agree("fresh folder") == "default"
    docker("buildx", "create", "--name", "Alpha", "--driver", "docker-container",
           "--platform", "linux/arm64,linux/arm/v7", "--use")
    docker("buildx", "create", "--name", "beta", "--driver", "docker-container", "--platform", "linux/riscv64")
    assert agree("create --use") == "Alpha"
    # The doctor starts the plugin as the CLI does (`<plugin> buildx ls`, the CLI's path in the environment):
    # the same answers, without the CLI's own metadata round trip.
    direct = {**os.environ, "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": shutil.which("docker")}
    for args in (["--format", "json"], []):
        mine = subprocess.run([str(real_buildx), "buildx", "ls", *args], capture_output=True, text=True, env=direct,
                              timeout=60)
        assert mine.returncode == 0 and mine.stdout == docker("buildx", "ls", *args), mine.stderr
    docker("buildx", "use", "beta")
    assert agree("use beta") == "beta"
    docker("buildx", "use", "--global", "alpha")
    assert agree("use --global") == "Alpha"
    docker("context", "create", "other", "--docker", "host=unix:///var/run/docker.sock")
    docker("context", "use", "other")
    assert agree("another context, global choice") == "Alpha"
    docker("buildx", "use", "beta")
    assert agree("a choice for the context") == "beta"
    docker("context", "use", "default")
    assert agree("back to the default context") == "default"
    docker("buildx", "use", "--default", "beta")
    docker("context", "use", "other")
    docker("buildx", "use", "Alpha")
    docker("context", "use", "default")
    assert json.loads((config / "buildx" / "current").read_text())["Key"] == "other"
    assert agree("remembered with --default") == "beta"
    # buildx remembers one choice: reading the default for this endpoint replaced the one made in `other`
    assert agree("DOCKER_CONTEXT", {"DOCKER_CONTEXT": "other"}) == "other"
    link = tmp_path / "alias.sock"
    link.symlink_to("/var/run/docker.sock")
    assert agree("DOCKER_HOST", {"DOCKER_HOST": f"unix://{link}"}) == "default"
    docker("buildx", "rm", "beta")
    assert agree("the chosen builder removed") == "default"
