"""Test helpers: paths, fixture hosts, a strict fake command runner, binfmt and docker fixtures' data."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pytest

from mab_doctor.core.context import CommandResult, Context
from mab_doctor.emulation.binfmt import parse_register_line
from mab_doctor.host.platforms import parse_platform_list

TESTS = Path(__file__).resolve().parent
PROJECT = TESTS.parent
HOSTS = TESTS / "hosts"
DOCKER_DATA = TESTS / "data" / "docker"
CAPTURED = TESTS / "data" / "captured"

MP = "/proc/sys/fs/binfmt_misc"
# Debian 12's qemu-user-static handler for arm64, exactly as its binfmt.d file registers it.
DEBIAN_AARCH64 = (":qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
                  "\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff"
                  "\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF")

DOCKER = "/usr/bin/docker"
VERSION = (DOCKER, "version", "--format", "{{json .}}")
INFO = (DOCKER, "info", "--format", "{{json .}}")


class FakeRunner:
    """Answers only the commands it was given; any other command fails the test, naming it."""

    def __init__(self, commands: Mapping[tuple[str, ...], CommandResult] | None = None):
        self.commands = dict(commands or {})
        self.calls: list[tuple[tuple[str, ...], float]] = []
        self.envs: list[Mapping[str, str] | None] = []  # the environment of each call, in order

    def __call__(self, argv: Sequence[str], *, timeout: float, env=None) -> CommandResult:
        argv = tuple(argv)
        self.calls.append((argv, timeout))
        self.envs.append(env)
        if argv not in self.commands:
            pytest.fail(f"unexpected command: {' '.join(argv)}")
        return self.commands[argv]


def one_connection_server(path: Path, handle: Callable[[socket.socket], None]) -> threading.Thread:
    """A unix-socket server on ``path`` (a daemon thread, already started) that accepts one connection, gives
    it to ``handle`` and closes it; an OSError inside (a client that gave up) ends it quietly."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def run() -> None:
        conn, _ = server.accept()
        try:
            handle(conn)
        except OSError:
            pass
        conn.close()
        server.close()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def make_context(root: Path, *, targets: str = "linux/amd64,linux/arm64,linux/arm/v7",
                 commands=None, env=None, **kw) -> Context:
    """A Context over ``root`` with a strict FakeRunner."""
    return Context(root=root, runner=FakeRunner(commands), env=env if env is not None else {"PATH": "/usr/bin:/bin"},
                   targets=parse_platform_list(targets), **kw)


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write {absolute path: content} under root; a value starting with '->' makes a symlink."""
    for name, content in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content.startswith("->"):
            path.symlink_to(content[2:].strip())
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def host(name: str, **kw) -> Context:
    """A Context over a checked-in fixture host tree (tests/hosts/<name>)."""
    return make_context(HOSTS / name, **kw)


def executable(ctx: Context, *paths: str) -> Context:
    """chmod 755 the given files of a fixture tree (which_all only finds executables)."""
    for path in paths:
        ctx.path(path).chmod(0o755)
    return ctx


def entry_text(line: str, enabled: bool = True) -> str:
    """What the kernel prints in /proc/sys/fs/binfmt_misc/<name> for a registered line."""
    e = parse_register_line(line)
    text = f"{'enabled' if enabled else 'disabled'}\ninterpreter {e.interpreter}\nflags: {e.flags}\n"
    if e.kind == "E":
        return text + f"extension .{e.extension}\n"
    text += f"offset {e.offset}\nmagic {e.magic.hex()}\n"
    return text + (f"mask {e.mask.hex()}\n" if e.mask is not None else "")


def with_binfmt(base: Mapping[str, str | bytes], entries: Mapping[str, str], **extra) -> dict:
    """``base`` plus a mounted, enabled binfmt_misc holding ``entries`` ({name: entry file text}) and
    Debian's static qemu-aarch64 (built for the amd64 host) behind its binfmt-P symlink."""
    from elfbuild import build_elf

    # ELF type DYN: Debian 12 builds it static-PIE (since 1:7.2+dfsg-7+deb12u9). A bare header, so its
    # memory layout stays unknown to the doctor.
    files = {**base, f"{MP}/status": "enabled\n", f"{MP}/register": "",
             "/usr/bin/qemu-aarch64-static": build_elf("x86_64", e_type=3),
             "/usr/libexec/qemu-binfmt/aarch64-binfmt-P": "-> ../../bin/qemu-aarch64-static"}
    files.update({f"{MP}/{name}": text for name, text in entries.items()})
    files.update(extra)
    return files


def docker_data(name: str) -> str:
    """A captured `docker version`/`docker info` output from tests/data/docker."""
    return (DOCKER_DATA / name).read_text()


def captured(name: str) -> str:
    """A captured command output from tests/data/captured."""
    return (CAPTURED / name).read_text()


class DockerHosts:
    """Fixture trees with /usr/bin/docker answering `docker version` (and `docker info`) as captured."""

    def __init__(self, make_host, base: Mapping[str, str | bytes]):
        self.make_host, self.base = make_host, base

    def __call__(self, version_out: str, *, rc=0, stderr="", info=None, files=None, env=None, timed_out=False,
                 **kw) -> Context:
        commands = {VERSION: CommandResult(VERSION, None if timed_out else rc, version_out, stderr,
                                           timed_out=timed_out, timeout=10)}
        if info is not None:
            commands[INFO] = CommandResult(INFO, 0, info)
        if timed_out:
            commands[(DOCKER, "--version")] = CommandResult((DOCKER, "--version"), 0, docker_data("docker-version.txt"))
        tree = {**self.base, DOCKER: "#!/bin/sh\n", **(files or {})}
        ctx = self.make_host(tree, commands=commands, env={"PATH": "/usr/bin", "HOME": "/root", **(env or {})}, **kw)
        ctx.live = True  # let the docker CLI "run" through the FakeRunner
        return executable(ctx, DOCKER)

    def up(self, **kw) -> Context:
        """Docker CLI 28 talking to a 20.10 daemon that answers."""
        return self(docker_data("version-28-client-20.10-server.json"), info=docker_data("info-20.10.json"), **kw)

    def down(self, **kw) -> Context:
        """The daemon's socket has nobody listening (the CLI's real words)."""
        return self(docker_data("version-down.json"), rc=1, stderr=docker_data("version-down.stderr"), **kw)
