"""image-cache and podman against the real Docker 20.10 daemon and Podman 4.3 (foreign FROM scratch images)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest

from mab_doctor.cli import main


def sh(*argv: str, **env: str) -> subprocess.CompletedProcess:
    """Run a set-up command, failing the test with its output when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, env={**os.environ, **env})
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr[-800:]}")
    return done


def context(tmp_path, name: str, busybox) -> str:
    """A FROM scratch build context holding one static busybox."""
    path = tmp_path / name
    path.mkdir()
    shutil.copy(busybox, path / "busybox")
    (path / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
    return str(path)


def test_foreign_docker_and_podman_images_are_flagged(tmp_path, capsys, monkeypatch, dockerd,
                                                      busybox_arm64, busybox_armhf):
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    tag = uuid.uuid4().hex[:8]
    arm64, armv7 = f"mabtest/ic-{tag}:arm64", f"mabtest/ic-{tag}:armv7"
    pod = f"localhost/mabtest-podman-{tag}:arm64"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dockerd}")
    try:
        for image, platform, busybox in ((arm64, "linux/arm64", busybox_arm64),
                                         (armv7, "linux/arm/v7", busybox_armhf)):
            sh("/usr/bin/docker", "build", "--platform", platform, "-t", image,
               context(tmp_path, image.rsplit(":", 1)[1], busybox), DOCKER_BUILDKIT="1")
        sh("podman", "build", "--platform", "linux/arm64", "-t", pod, context(tmp_path, "podman", busybox_arm64))
        code = main(["image-cache", "podman", "--format", "json", "--no-plugins"])
        report = json.loads(capsys.readouterr().out)
        # The same daemon through a context of its own: the doctor then asks the CLI, not the API.
        sh("docker", "context", "create", "same-daemon", "--docker", f"host=unix://{dockerd}")
        monkeypatch.delenv("DOCKER_HOST")
        monkeypatch.setenv("DOCKER_CONTEXT", "same-daemon")
        main(["image-cache", "--format", "json", "--no-plugins"])
        via_cli = json.loads(capsys.readouterr().out)
    finally:
        subprocess.run(["/usr/bin/docker", "image", "rm", "-f", arm64, armv7], capture_output=True, timeout=60)
        subprocess.run(["podman", "rmi", "-f", pod], capture_output=True, timeout=60)
    assert report["exit_code"] == code
    res = {r["name"]: r for r in report["results"]}
    cache = res["image-cache"]
    assert cache["status"] == "warn", cache
    foreign = {(f["engine"], f["image"]): f["platform"] for f in cache["data"]["foreign"]}
    assert foreign[("docker", arm64)] == "linux/arm64"
    assert foreign[("docker", armv7)] == "linux/arm/v7"
    assert foreign[("podman", pod)] == "linux/arm64"
    host = report["host"]["oci_platform"]
    assert f"local images are not {host}: " in cache["summary"]
    assert cache["data"]["checked"] >= 3 and len(cache["data"]["foreign"]) >= 3
    if len(cache["data"]["foreign"]) <= 5:  # the remediation names the first five
        assert f"`docker pull --platform {host} {arm64}`" in cache["remediation"]
        assert f"`docker image rm {armv7}`" in cache["remediation"]
        assert f"`podman rmi {pod}`" in cache["remediation"]
    (cli_cache,) = [r for r in via_cli["results"] if r["name"] == "image-cache"]
    docker_rows = lambda row: sorted(tuple(f.items()) for f in row["data"]["foreign"] if f["engine"] == "docker")  # noqa: E731
    assert docker_rows(cli_cache) == docker_rows(cache) and len(docker_rows(cache)) >= 2  # API and CLI agree
    pm = res["podman"]
    assert pm["status"] in ("ok", "warn"), pm
    assert pm["data"]["versions"]["podman"] and pm["data"]["versions"]["buildah"]
    version = subprocess.run(["podman", "--version"], capture_output=True, text=True).stdout
    assert pm["data"]["versions"]["podman"] in version
    left = subprocess.run(["/usr/bin/docker", "image", "ls", "-q", f"mabtest/ic-{tag}"], capture_output=True,
                          text=True).stdout + subprocess.run(["podman", "images", "-q", pod], capture_output=True,
                                                             text=True).stdout
    assert not left.strip(), "the test images were not removed"
