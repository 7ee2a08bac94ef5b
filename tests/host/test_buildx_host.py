"""buildx checks against the real Docker CLI and daemon, with the fixture plugin in a temp DOCKER_CONFIG.

Whatever buildx this machine has installed stays out of the picture: DOCKER_CONFIG moves the per-user
plugin folder (~/.docker/cli-plugins) into a temp dir, and the CLI and the doctor both run in a private
mount namespace where every system plugin folder is an empty read-only tmpfs."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from make_plugin import store_files, write_plugin
from mab_doctor.engines.buildx import SYSTEM_PLUGIN_DIRS

ARGS = ["buildx", "buildx-builder", "build-path", "--format", "json", "--no-plugins", "--platform",
        "linux/amd64,linux/arm64"]
HIDE_SYSTEM_PLUGINS = "".join(f"if [ -d {shlex.quote(d)} ]; then mount -t tmpfs -o ro,size=4k mab-no-plugins "
                              f"{shlex.quote(d)}; fi; " for d in SYSTEM_PLUGIN_DIRS) + 'exec "$@"'


def without_system_plugins(*argv: str) -> list[str]:
    """argv run where the system cli-plugins folders look empty (the host's own mounts are untouched)."""
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", HIDE_SYSTEM_PLUGINS, "sh", *argv]


@pytest.fixture
def docker_config(monkeypatch, dockerd):
    """A private DOCKER_CONFIG (never ~/.docker) with the two buildx checks registered; removed afterwards."""
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI on PATH")
    hidden = subprocess.run(without_system_plugins("true"), capture_output=True, text=True)
    if hidden.returncode != 0:
        pytest.skip(f"cannot hide the system buildx plugin folders (unshare --mount): {hidden.stderr.strip()}")
    base = Path(tempfile.mkdtemp(prefix="mab-buildx-"))
    monkeypatch.setenv("DOCKER_CONFIG", str(base / "config"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.delenv("MAB_FAKE_BUILDX_CURRENT", raising=False)
    (base / "config").mkdir()
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def set_extra_dirs(base: Path, *dirs: Path) -> None:
    (base / "config" / "config.json").write_text(json.dumps({"cliPluginsExtraDirs": [str(d) for d in dirs]}))


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(without_system_plugins("docker", *args), capture_output=True, text=True, timeout=60,
                          env=os.environ.copy())


def doctor() -> tuple[int, dict]:
    exe = os.path.join(os.path.dirname(sys.executable), "mab-doctor")
    proc = subprocess.run(without_system_plugins(exe, *ARGS), capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())
    data = json.loads(proc.stdout)
    assert data["exit_code"] == proc.returncode, proc.stderr
    return proc.returncode, {(r["name"], r["target"]): r for r in data["results"]}


def test_real_cli_runs_the_fixture_and_the_doctor_agrees(docker_config):
    new = write_plugin(docker_config / "new", "v0.13.1", current="multi")
    set_extra_dirs(docker_config, new.parent)
    # What the real buildx would have saved after `docker buildx create --name multi ... --use`.
    for path, text in store_files("multi", folder=str(docker_config / "config" / "buildx")).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    version = docker("buildx", "version")
    assert version.returncode == 0 and "github.com/docker/buildx v0.13.1" in version.stdout, version.stderr
    listed = docker("buildx", "ls")
    assert listed.returncode == 0 and "multi*" in listed.stdout and r" \_ multi1" in listed.stdout

    code, res = doctor()
    plugin = res[("buildx", None)]
    assert plugin["status"] == "ok" and plugin["data"]["plugin"] == str(new), plugin
    assert plugin["data"]["version"] == "v0.13.1" and plugin["data"]["search_order"][0] == str(new.parent)
    amd64, arm64 = res[("buildx-builder", "linux/amd64")], res[("buildx-builder", "linux/arm64")]
    assert amd64["status"] == "ok" and amd64["data"] == {"builder": "multi", "driver": "docker-container",
                                                         "node": "multi0", "how": "native"}
    assert arm64["status"] == "ok" and arm64["data"]["node"] == "multi1"
    assert "read `docker buildx ls --format json` and buildx's own folder" in arm64["details"]
    assert code == 0


def test_older_copy_in_an_earlier_extra_dir_wins_and_warns(docker_config):
    new = write_plugin(docker_config / "new", "v0.13.1")
    old = write_plugin(docker_config / "old", "v0.10.4")
    set_extra_dirs(docker_config, old.parent, new.parent)
    # The fixture's `multi` builder saved in buildx's folder: with a created builder the doctor asks `buildx ls`
    # (the plugin's table here), not the daemon's BuildKit, which it asks only when `default` is all there is.
    for path, text in store_files(None, folder=str(docker_config / "config" / "buildx")).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    version = docker("buildx", "version")  # the real CLI picks the first extra dir: matrix pitfall 16
    assert "github.com/docker/buildx v0.10.4" in version.stdout, version.stderr
    info = docker("info", "--format", "{{json .ClientInfo.Plugins}}")
    (cli_view,) = [p for p in json.loads(info.stdout) if p.get("Name") == "buildx"]
    assert cli_view["Path"] == str(old) and cli_view["ShadowedPaths"] == [str(new)]  # the CLI's own verdict
    assert not [p for p in json.loads(info.stdout) if p.get("Err")]  # the fixture adds no bogus candidates

    code, res = doctor()
    plugin = res[("buildx", None)]
    assert plugin["status"] == "warn" and plugin["data"]["plugin"] == str(old)
    assert str(old) in plugin["remediation"] and str(new) in plugin["remediation"]
    assert plugin["data"]["shadowed"] == [{"path": str(new), "version": "v0.13.1"}]
    # v0.10.4 has no `ls --format json`: the classic table is parsed; current builder is `default` (docker driver)
    assert res[("buildx-builder", "linux/amd64")]["status"] == "ok"
    assert res[("buildx-builder", "linux/arm64")]["status"] == "fail"
    refused = res[("build-path", None)]  # the fixture's default builder: docker driver, classic-store daemon
    assert refused["status"] == "fail" and "Multi-platform build is not supported for the docker driver" in \
        refused["summary"]
    assert code == 1
