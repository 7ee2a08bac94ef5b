"""Host tests run on the real machine as root (scripts/test sets MAB_HOST_TESTS=1 after set-up)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import binfmt_state  # on pythonpath (pyproject.toml)
import pytest
from trixie import docker26  # noqa: F401  (a session fixture: importing it here registers it)

CACHE = Path(__file__).resolve().parents[1] / ".cache"
HOST_DOCKER = ("/usr/bin/docker", "-H", "unix:///var/run/docker.sock")
LAST_MODULE = "test_zz_host_intact.py"  # proves the host is intact, so it runs after everything else
START = pytest.StashKey["HostState"]()
USER_DOCKER_CONFIG = os.path.expanduser("~/.docker")  # a real buildx writes its state under it


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
    items.sort(key=lambda item: item.path.name == LAST_MODULE)  # stable: everything else keeps its order
    if reason is None:
        config.stash[START] = host_state()


def pytest_sessionfinish(session):
    """Fail the whole session, in one line, when the host differs from what the session found."""
    start = session.config.stash.get(START, None)
    if start is None:
        return
    changed = host_changes(start, host_state())
    if changed:
        line = f"HOST NOT LEFT AS FOUND: {changed}"
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.line("")  # the progress line may still be open
            reporter.write_sep("!", line, red=True, bold=True)
        else:
            print(line, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@dataclass(frozen=True)
class HostState:
    """What the host tests must leave exactly as they found it (each field: {name: text})."""

    binfmt_misc: dict
    binfmt_d: dict
    state_dir: dict
    docker_config: dict
    docker_images: dict
    docker_containers: dict
    interfaces: dict
    iptables: dict
    docker_answers: bool


def tree(root: str) -> dict:
    """{path: sha256 of the file, or "dir"} for everything under root."""
    found = {}
    for folder, dirs, files in os.walk(root):
        found.update({os.path.join(folder, d): "dir" for d in dirs})
        for name in files:
            path = os.path.join(folder, name)
            try:
                found[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
            except OSError as exc:
                found[path] = f"unreadable ({exc.strerror})"
    return found


def lines_of(*argv: str) -> dict | None:
    """{line: ""} of a command's output, or None when it cannot run or fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return dict.fromkeys(done.stdout.splitlines(), "") if done.returncode == 0 else None


def host_state() -> HostState:
    binfmt = binfmt_state.snapshot()
    status = {"(binfmt_misc)": f"mounted, {binfmt.status}" if binfmt.mounted else "not mounted"}
    images = lines_of(*HOST_DOCKER, "image", "ls", "-a", "--no-trunc", "--format",
                      "{{.ID}} {{.Repository}}:{{.Tag}}")
    containers = lines_of(*HOST_DOCKER, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}")
    rules = {}
    if shutil.which("iptables"):  # -S: the rules without their packet counters
        for table in ("filter", "nat"):
            rules.update({f"{table}: {line}": "" for line in (lines_of("iptables", "-t", table, "-S") or {})})
    interfaces = dict.fromkeys(sorted(os.listdir("/sys/class/net")), "")
    return HostState(binfmt_misc={**status, **binfmt.entries}, binfmt_d=tree("/etc/binfmt.d"),
                     state_dir=tree("/var/lib/mab-doctor"), docker_config=tree(USER_DOCKER_CONFIG),
                     docker_images=images or {},
                     docker_containers=containers or {}, interfaces=interfaces, iptables=rules,
                     docker_answers=images is not None)


def host_changes(before: HostState, after: HostState) -> str:
    """One line naming every difference ("" when none): +added, -removed, ~changed, per field."""
    parts = []
    for field in fields(HostState):
        old, new = getattr(before, field.name), getattr(after, field.name)
        if isinstance(old, bool):
            if old != new:
                parts.append(f"{field.name}: {old} -> {new}")
            continue
        diff = [f"+{k}" for k in new if k not in old] + [f"-{k}" for k in old if k not in new]
        diff += [f"~{k}" for k in old if k in new and old[k] != new[k]]
        if diff:
            parts.append(f"{field.name}: " + ", ".join(diff))
    return "; ".join(parts)


@pytest.fixture
def host_at_start(request) -> HostState:
    """The host as this session found it (recorded before the first test)."""
    start = request.config.stash.get(START, None)
    if start is None:
        pytest.skip("the host state is only recorded when host tests run")
    return start


@pytest.fixture
def changes_since_start(host_at_start):
    """changes_since_start() -> the one-line difference between the host now and at session start."""
    return lambda: host_changes(host_at_start, host_state())


@pytest.fixture(scope="session")
def host_docker() -> tuple[str, ...]:
    """The Docker CLI aimed at the host daemon, whatever DOCKER_HOST a test has set."""
    return HOST_DOCKER


@pytest.fixture(autouse=True)
def own_docker_config(monkeypatch, tmp_path_factory):
    """Every host test gets an empty DOCKER_CONFIG: ~/.docker (its config, its plugins, the state a
    real buildx writes there) stays out of the tests, and the tests out of it. Tests may set their own."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path_factory.mktemp("docker-config")))


@pytest.fixture
def binfmt_guard():
    """Snapshot binfmt_misc before the test and restore it exactly afterwards, even on failure."""
    state = binfmt_state.snapshot()
    try:
        yield state
    finally:
        binfmt_state.restore(state)


@pytest.fixture
def debian_host(binfmt_guard, tmp_path, monkeypatch):
    """binfmt_misc as a booted Debian 12 with qemu-user-static has it; journals go to tmp_path."""
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))
    binfmt_state.mount()
    binfmt_state.write(f"{binfmt_state.MOUNT_POINT}/status", "-1")
    binfmt_state.write(f"{binfmt_state.MOUNT_POINT}/status", "1")
    binfmt_state.replay_binfmt_d()
    return binfmt_state.entries_text()


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


@pytest.fixture(scope="session")
def busybox_native() -> Path:
    """Debian's static busybox for this host's own architecture (a RUN step needs no emulator)."""
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    return debian_busybox(arch or "amd64")
