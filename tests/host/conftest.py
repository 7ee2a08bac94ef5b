"""Host tests run on the real machine as root (scripts/test sets MAB_HOST_TESTS=1 after set-up)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import binfmt_state  # noqa: E402

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


@pytest.fixture(scope="session")
def busybox_arm64() -> Path:
    """Debian's static arm64 busybox, downloaded by scripts/test: the real foreign binary."""
    path = CACHE / "busybox-arm64"
    assert path.is_file(), "scripts/test downloads busybox-static:arm64 into tests/.cache"
    return path


@pytest.fixture(scope="session")
def debian_aarch64_line() -> str:
    """Debian's own qemu-aarch64 registration line (qemu-user-static's binfmt.d file)."""
    conf = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
    assert conf.is_file(), "scripts/test installs qemu-user-static"
    return next(l for l in conf.read_text().splitlines() if l.startswith(":"))
