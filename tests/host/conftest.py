"""Host tests run on the real machine as root (scripts/test sets MAB_HOST_TESTS=1 after set-up)."""

from __future__ import annotations

import os
from pathlib import Path

import binfmt_state  # on pythonpath (pyproject.toml)
import pytest

CACHE = Path(__file__).resolve().parents[1] / ".cache"


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.environ.get("MAB_HOST_TESTS") != "1":
        reason = "host test: run ./scripts/test as root (it installs qemu-user-static and sets MAB_HOST_TESTS=1)"
    elif os.geteuid() != 0:
        reason = "host test: needs root to mount binfmt_misc and register handlers"
    for item in items:
        if "tests/host/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.host)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def binfmt_guard():
    """Snapshot binfmt_misc before the test and restore it exactly afterwards, even on failure."""
    state = binfmt_state.snapshot()
    try:
        yield state
    finally:
        binfmt_state.restore(state)


def debian_busybox(arch: str) -> Path:
    """Debian's static busybox for a Debian architecture, downloaded by scripts/test."""
    path = CACHE / f"busybox-{arch}"
    if not path.is_file():
        pytest.skip(f"tests/.cache/busybox-{arch} missing: scripts/test could not download busybox-static:{arch}")
    return path


@pytest.fixture(scope="session")
def busybox_arm64() -> Path:
    """Debian's static arm64 busybox: the real foreign binary (linux/arm64)."""
    return debian_busybox("arm64")


@pytest.fixture(scope="session")
def debian_aarch64_line() -> str:
    """Debian's own qemu-aarch64 registration line (qemu-user-static's binfmt.d file)."""
    conf = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
    if not conf.is_file():
        pytest.skip("qemu-user-static is not installed: scripts/test could not install it")
    return next(l for l in conf.read_text().splitlines() if l.startswith(":"))


@pytest.fixture(scope="session")
def dockerd() -> str:
    """The real Docker daemon that scripts/test starts (Debian's docker.io); returns its socket."""
    import subprocess

    sock = "/var/run/docker.sock"
    try:
        ok = subprocess.run(["/usr/bin/docker", "-H", f"unix://{sock}", "version"], capture_output=True, timeout=30)
    except OSError:
        pytest.skip("Debian's docker.io is not installed: scripts/test could not install it")
    if ok.returncode != 0:
        pytest.skip(f"dockerd is not answering on {sock}: see tests/.cache/dockerd.log")
    return sock


@pytest.fixture(scope="session")
def busybox_armhf() -> Path:
    """Debian's static armhf busybox (linux/arm/v7)."""
    return debian_busybox("armhf")
