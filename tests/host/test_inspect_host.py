"""`inspect` on Debian's real busybox-static binaries and on a local FROM scratch image (Docker, Podman)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mab_doctor.cli import main

CACHE = Path(__file__).resolve().parents[1] / ".cache"

# Debian arch -> (oci_platform, arm_arch, float_abi, elf_class, endianness)
EXPECTED = {
    "armel": ("linux/arm/v5", "v5TE", "soft", 32, "little"),
    "armhf": ("linux/arm/v7", "v7", "hard", 32, "little"),
    "arm64": ("linux/arm64", None, None, 64, "little"),
    "s390x": ("linux/s390x", None, None, 64, "big"),
    "ppc64el": ("linux/ppc64le", None, None, 64, "little"),
    "mips64el": ("linux/mips64le", None, None, 64, "little"),
    "i386": ("linux/386", None, None, 32, "little"),
}


def debian_busybox(arch: str) -> Path:
    """tests/.cache/busybox-<arch> (scripts/test downloads busybox-static:<arch>), else skip saying so."""
    path = CACHE / f"busybox-{arch}"
    if not path.is_file():
        pytest.skip(f"tests/.cache/busybox-{arch} missing: scripts/test could not download busybox-static:{arch}")
    return path


@pytest.fixture(params=sorted(EXPECTED))
def busybox(request) -> tuple[str, Path]:
    """(Debian arch, path of Debian's static busybox for it); skips with the reason when missing."""
    return request.param, debian_busybox(request.param)


def inspect_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["inspect", "--format", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_debian_busybox_identity(capsys, busybox):
    arch, path = busybox
    oci, arm_arch, float_abi, bits, endian = EXPECTED[arch]
    code, doc = inspect_json(capsys, str(path))
    assert code == 0
    item = doc["items"][0]
    assert item["kind"] == "elf", item
    assert (item["oci_platform"], item["debian_arch"], item["arm_arch"], item["float_abi"]) == (
        oci, arch, arm_arch, float_abi)
    assert (item["elf_class"], item["endianness"], item["static"], item["interpreter"]) == (bits, endian, True, None)
    assert item["runs_here"] in ("native", "emulated", "no")
    assert (item["runs_here"] == "emulated") == ("handler" in item)


def test_busybox_tree_is_mixed(capsys, tmp_path):
    for arch in ("armel", "armhf", "arm64"):
        shutil.copy(debian_busybox(arch), tmp_path / f"busybox-{arch}")
    code, doc = inspect_json(capsys, str(tmp_path), "--platform", "linux/arm64")
    item = doc["items"][0]
    assert item["platforms"] == {"linux/arm/v5": ["busybox-armel"], "linux/arm/v7": ["busybox-armhf"],
                                 "linux/arm64": ["busybox-arm64"]}
    assert item["mixed"] is True and code == 1
    assert item["not_requested"] == ["linux/arm/v5", "linux/arm/v7"]


def _scratch_context(tmp_path: Path, binary: Path) -> Path:
    ctx = tmp_path / "build"
    ctx.mkdir()
    shutil.copy(binary, ctx / "busybox")
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
    return ctx


def test_docker_image_with_and_without_deep(capsys, tmp_path, dockerd):
    busybox = debian_busybox("arm64")
    tag = f"mab-doctor-test/inspect:{os.getpid()}"
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    try:
        built = subprocess.run(["/usr/bin/docker", "build", "--platform", "linux/arm64", "-t", tag,
                                str(_scratch_context(tmp_path, busybox))],
                               capture_output=True, text=True, timeout=300, env=env)
        assert built.returncode == 0, built.stderr
        before = subprocess.run(["/usr/bin/docker", "ps", "-aq"], capture_output=True, text=True).stdout

        code, doc = inspect_json(capsys, tag)
        item = doc["items"][0]
        assert code == 0
        assert (item["kind"], item["engine"], item["oci_platform"]) == ("image", "docker", "linux/arm64")
        assert "platforms" not in item

        code, doc = inspect_json(capsys, tag, "--deep", "--platform", "linux/arm64")
        item = doc["items"][0]
        assert code == 0, item
        assert item["oci_platform"] == "linux/arm64"
        assert item["platforms"] == {"linux/arm64": ["bin/busybox"]}
        assert item["mixed"] is False and item["platform_mismatch"] == []
        # the temporary container is gone again
        assert subprocess.run(["/usr/bin/docker", "ps", "-aq"], capture_output=True, text=True).stdout == before
    finally:
        subprocess.run(["/usr/bin/docker", "image", "rm", "-f", tag], capture_output=True, timeout=60)


def test_podman_image_deep(capsys, tmp_path):
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    busybox = debian_busybox("armhf")
    tag = f"localhost/mab-doctor-test/inspect-podman:{os.getpid()}"
    try:
        built = subprocess.run(["podman", "build", "--platform", "linux/arm/v7", "-t", tag,
                                str(_scratch_context(tmp_path, busybox))], capture_output=True, text=True, timeout=300)
        assert built.returncode == 0, built.stderr
        code, doc = inspect_json(capsys, tag, "--deep")
        item = doc["items"][0]
        assert code == 0, item
        assert (item["kind"], item["engine"], item["oci_platform"]) == ("image", "podman", "linux/arm/v7")
        assert item["platforms"] == {"linux/arm/v7": ["bin/busybox"]}
        mounts = subprocess.run(["podman", "image", "mount"], capture_output=True, text=True).stdout
        assert tag not in mounts  # unmounted again
    finally:
        subprocess.run(["podman", "rmi", "-f", tag], capture_output=True, timeout=60)
