"""buildx checks against the real Docker CLI and daemon, with the fixture plugin in a temp DOCKER_CONFIG."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from make_plugin import write_plugin
from mab_doctor.cli import main

ARGS = ["buildx", "buildx-builder", "--format", "json", "--no-plugins", "--platform", "linux/amd64,linux/arm64"]


@pytest.fixture
def docker_config(monkeypatch, dockerd):
    """A private DOCKER_CONFIG (never ~/.docker) with the two buildx checks registered; removed afterwards."""
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
    assert shutil.which("docker") == "/usr/local/bin/docker"
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, env=os.environ.copy())


def doctor(capsys) -> tuple[int, dict]:
    code = main(ARGS)
    data = json.loads(capsys.readouterr().out)
    return code, {(r["name"], r["target"]): r for r in data["results"]}


def test_real_cli_runs_the_fixture_and_the_doctor_agrees(docker_config, capsys):
    new = write_plugin(docker_config / "new", "v0.13.1", current="multi")
    set_extra_dirs(docker_config, new.parent)
    version = docker("buildx", "version")
    assert version.returncode == 0 and "github.com/docker/buildx v0.13.1" in version.stdout, version.stderr
    listed = docker("buildx", "ls")
    assert listed.returncode == 0 and "multi*" in listed.stdout and r" \_ multi1" in listed.stdout

    code, res = doctor(capsys)
    plugin = res[("buildx", None)]
    assert plugin["status"] == "ok" and plugin["data"]["plugin"] == str(new), plugin
    assert plugin["data"]["version"] == "v0.13.1" and plugin["data"]["search_order"][0] == str(new.parent)
    amd64, arm64 = res[("buildx-builder", "linux/amd64")], res[("buildx-builder", "linux/arm64")]
    assert amd64["status"] == "ok" and amd64["data"] == {"builder": "multi", "driver": "docker-container",
                                                         "node": "multi0", "how": "native"}
    assert arm64["status"] == "ok" and arm64["data"]["node"] == "multi1"
    assert "read `docker buildx ls --format json`" in arm64["details"]
    assert code == 0


def test_older_copy_in_an_earlier_extra_dir_wins_and_warns(docker_config, capsys):
    new = write_plugin(docker_config / "new", "v0.13.1")
    old = write_plugin(docker_config / "old", "v0.10.4")
    set_extra_dirs(docker_config, old.parent, new.parent)
    version = docker("buildx", "version")  # the real CLI picks the first extra dir: matrix pitfall 16
    assert "github.com/docker/buildx v0.10.4" in version.stdout, version.stderr
    info = docker("info", "--format", "{{json .ClientInfo.Plugins}}")
    (cli_view,) = [p for p in json.loads(info.stdout) if p.get("Name") == "buildx"]
    assert cli_view["Path"] == str(old) and cli_view["ShadowedPaths"] == [str(new)]  # the CLI's own verdict
    assert not [p for p in json.loads(info.stdout) if p.get("Err")]  # the fixture adds no bogus candidates

    code, res = doctor(capsys)
    plugin = res[("buildx", None)]
    assert plugin["status"] == "warn" and plugin["data"]["plugin"] == str(old)
    assert str(old) in plugin["remediation"] and str(new) in plugin["remediation"]
    assert plugin["data"]["shadowed"] == [{"path": str(new), "version": "v0.13.1"}]
    # v0.10.4 has no `ls --format json`: the classic table is parsed; current builder is `default` (docker driver)
    assert res[("buildx-builder", "linux/amd64")]["status"] == "ok"
    assert res[("buildx-builder", "linux/arm64")]["status"] == "fail"
    warn = res[("buildx-builder", None)]
    assert warn["status"] == "warn" and "cannot export a multi-platform image" in warn["summary"]
    assert code == 1
