"""A small healthy host tree holding every file the checks read, and the ways to make one file hostile."""

from __future__ import annotations

import gzip
import os
import random
import socket
import stat
from pathlib import Path

from elfbuild import build_elf
from helpers import DEBIAN_AARCH64, MP, entry_text, write_tree

RELEASE = "6.1.0-hostile"
AARCH64_ENTRY = entry_text(DEBIAN_AARCH64)
# What `docker-buildx` and the QEMU interpreters look like: real ELF headers of this host.
ELF_AMD64 = build_elf("x86_64")
BASE: dict[str, str | bytes] = {
    "/proc/sys/kernel/arch": "x86_64\n", "/proc/sys/kernel/osrelease": f"{RELEASE}\n",
    "/proc/sys/kernel/hostname": "hostile\n",
    "/proc/cpuinfo": "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU\nflags\t\t: fpu sse2\n\n",
    "/proc/meminfo": "MemTotal:        8000000 kB\nMemFree:         4000000 kB\nMemAvailable:    6000000 kB\n",
    "/proc/filesystems": "nodev\tsysfs\nnodev\tproc\nnodev\tbinfmt_misc\n\text4\n",
    "/proc/self/mountinfo": "22 1 0:21 / /proc rw - proc proc rw\n"
                            "40 22 0:36 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw\n",
    "/proc/1/comm": "systemd\n",
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "/etc/debian_version": "12.5\n", "/etc/hostname": "hostile\n",
    "/var/lib/dpkg/status": "Package: dpkg\nStatus: install ok installed\nArchitecture: amd64\n\n"
                            "Package: qemu-user-static\nStatus: install ok installed\nArchitecture: amd64\n"
                            "Version: 1:7.2+dfsg-7\n",
    f"{MP}/status": "enabled\n", f"{MP}/register": "", f"{MP}/qemu-aarch64": AARCH64_ENTRY,
    "/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n",
    "/var/lib/binfmts/qemu-aarch64": "qemu-user-static\nmagic\n0\n\\x7fELF\\x02\\x01\\x01\n"
                                     "\\xff\\xff\\xff\n/usr/libexec/qemu-binfmt/aarch64-binfmt-P\nyes\n",
    "/usr/share/binfmts/qemu-aarch64": "package qemu-user-static\ninterpreter /usr/libexec/qemu-binfmt/"
                                       "aarch64-binfmt-P\nmagic \\x7fELF\\x02\\x01\\x01\nfix_binary yes\n",
    f"/boot/config-{RELEASE}": "CONFIG_BINFMT_MISC=y\nCONFIG_COMPAT=y\n",
    "/proc/config.gz": gzip.compress(b"CONFIG_BINFMT_MISC=y\n"),
    "/etc/docker/daemon.json": '{"experimental": false}\n',
    "/root/.docker/config.json": '{"auths": {}}\n',
    "/usr/libexec/docker/cli-plugins/docker-buildx": ELF_AMD64,
    "/usr/bin/qemu-aarch64-static": ELF_AMD64,
    "/usr/libexec/qemu-binfmt/aarch64-binfmt-P": "-> ../../bin/qemu-aarch64-static",
    "/usr/bin/docker": ELF_AMD64, "/usr/bin/sh": ELF_AMD64, "/bin": "-> usr/bin",
    "/usr/lib/systemd/systemd": ELF_AMD64, "/usr/lib/systemd/systemd-binfmt": ELF_AMD64,
}
EXECUTABLES = ("/usr/libexec/docker/cli-plugins/docker-buildx", "/usr/bin/qemu-aarch64-static", "/usr/bin/docker",
               "/usr/bin/sh")
# Every file a check reads: each is made hostile in turn.
TARGET_FILES = ("/proc/cpuinfo", "/proc/filesystems", "/proc/self/mountinfo", "/etc/os-release",
                "/etc/debian_version", "/var/lib/dpkg/status", f"{MP}/status", f"{MP}/qemu-aarch64",
                "/usr/lib/binfmt.d/qemu-aarch64.conf", "/var/lib/binfmts/qemu-aarch64",
                "/usr/share/binfmts/qemu-aarch64", f"/boot/config-{RELEASE}", "/proc/config.gz",
                "/etc/docker/daemon.json", "/root/.docker/config.json",
                "/usr/libexec/docker/cli-plugins/docker-buildx", "/usr/bin/qemu-aarch64-static", "/usr/bin/sh",
                "/proc/meminfo", "/proc/sys/kernel/osrelease", "/proc/sys/kernel/arch", "/usr/bin/docker",
                "/proc/self/uid_map", "/proc/version")
# Folders the checks list: made hostile as a whole.
TARGET_DIRS = (MP, "/usr/lib/binfmt.d", "/var/lib/binfmts", "/usr/libexec/docker/cli-plugins", "/etc/docker",
               "/proc", "/etc", "/boot")


def lay_base(tree: Path) -> Path:
    """The healthy tree under ``tree``."""
    write_tree(tree, BASE)
    for path in EXECUTABLES:
        (tree / path.lstrip("/")).chmod(0o755)
    return tree


def _garbage(seed: str, size: int = 8192) -> bytes:
    rng = random.Random(seed)
    raw = bytearray(rng.getrandbits(8) for _ in range(size))
    raw[100:100] = b"\0\x1b[2J\x1b]0;title\x07\r\x9b31m"
    return bytes(raw)


def _non_utf8(original: bytes) -> bytes:
    # The original structure, with Latin-1 bytes, escapes and carriage returns spliced into every line.
    lines = original.splitlines() or [b""]
    return b"\n".join(line + b" \xe9t\xe9 \xff\x1b[31mred\x1b[0m\r\x85" for line in lines) + b"\n"


def _bind_socket(path: Path) -> None:
    # AF_UNIX names are at most 107 bytes: bind by a short relative name from the folder.
    here = os.getcwd()
    try:
        os.chdir(path.parent)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path.name)
        sock.close()
    finally:
        os.chdir(here)


def make_hostile(tree: Path, path: str, kind: str, marker: Path) -> None:
    """Replace ``path`` in ``tree`` with a hostile ``kind`` of file; links aim at ``marker``."""
    real = tree / path.lstrip("/")
    original = real.read_bytes() if real.is_file() and not real.is_symlink() else b""
    if real.is_dir() and not real.is_symlink():
        import shutil
        shutil.rmtree(real)
    elif real.exists() or real.is_symlink():
        real.unlink()
    real.parent.mkdir(parents=True, exist_ok=True)
    depth = len(Path(path).parts) - 1
    if kind == "fifo":
        os.mkfifo(real)
    elif kind == "socket":
        _bind_socket(real)
    elif kind == "chardev":  # /dev/zero's numbers: endless bytes if anything ever opened it
        os.mknod(real, stat.S_IFCHR | 0o644, os.makedev(1, 5))
    elif kind == "loop":
        real.symlink_to(real.name + ".loop")
        real.with_name(real.name + ".loop").symlink_to(real.name)
    elif kind == "self":  # absolute link to its own name: a loop inside the tree, the host's file outside
        real.symlink_to(path)
    elif kind == "abs_out":
        real.symlink_to(marker)
    elif kind == "rel_out":
        real.symlink_to(os.path.relpath(marker, real.parent) if depth < 3 else "../" * (depth + 12)
                        + str(marker).lstrip("/"))
    elif kind == "dangling":
        real.symlink_to("/nonexistent/nothing")
    elif kind == "huge":  # sparse: 256 MiB that take no disk
        with open(real, "wb") as fh:
            fh.write(original or b"x")
            fh.truncate(256 << 20)
    elif kind == "garbage":
        real.write_bytes(_garbage(path))
    elif kind == "non_utf8":
        real.write_bytes(_non_utf8(original or b"x"))
    elif kind == "directory":
        real.mkdir()
        (real / "inner").write_text("x")
    elif kind == "empty":
        real.write_bytes(b"")
    elif kind == "dir_link_out":  # a folder that is a link to the marker's folder
        real.symlink_to(marker.parent, target_is_directory=True)
    else:
        raise ValueError(kind)
    if kind in ("huge", "garbage", "non_utf8", "empty") and path in EXECUTABLES:
        real.chmod(0o755)


FILE_KINDS = ("fifo", "socket", "chardev", "loop", "self", "abs_out", "rel_out", "dangling", "huge", "garbage",
              "non_utf8", "directory", "empty")
DIR_KINDS = ("fifo", "loop", "abs_out", "rel_out", "dir_link_out", "empty")
