"""QEMU's linux-user target names, and which target an interpreter's file name or banner names."""

from __future__ import annotations

import re

# The qemu-<target> programs QEMU's linux-user builds (Debian 12's 7.2 and Debian 13's 10.0 packages
# list them; cris and nios2 existed in older releases only).
TARGETS = frozenset({
    "aarch64", "aarch64_be", "alpha", "arm", "armeb", "cris", "hexagon", "hppa", "i386", "loongarch64", "m68k",
    "microblaze", "microblazeel", "mips", "mips64", "mips64el", "mipsel", "mipsn32", "mipsn32el", "nios2", "or1k",
    "ppc", "ppc64", "ppc64le", "riscv32", "riscv64", "s390x", "sh4", "sh4eb", "sparc", "sparc32plus", "sparc64",
    "x86_64", "xtensa", "xtensaeb"})
# Debian 13's qemu-user also installs its programs under Debian architecture names (qemu-arm64 ->
# qemu-aarch64, qemu-armhf -> qemu-arm, ...): the same emulator, another name.
ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "armel": "arm", "armhf": "arm", "loong64": "loongarch64",
           "powerpc": "ppc", "ppc64el": "ppc64le"}

# qemu-<t>, qemu-<t>-static, qemu-<t>-binfmt (openSUSE), any prefix ending in "qemu-" (buildkit-qemu-<t>
# with QEMU_BINARY_PREFIX), and Debian's wrapper names <t>-binfmt-P under /usr/libexec/qemu-binfmt/.
_QEMU_NAME = re.compile(r"^(?:.*-)?qemu-(?P<cpu>[a-z0-9_]+?)(?:-static|-binfmt)?$")
_DEBIAN_WRAPPER = re.compile(r"^(?P<cpu>[a-z0-9_]+)-binfmt-P$")
# `qemu-<t> --version` prints the target compiled into the binary, whatever the file is called:
# "qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".
_BANNER = re.compile(r"^qemu-(?P<cpu>[a-z0-9_]+) version (?P<version>\d+(?:\.\d+)+)", re.MULTILINE)


def canonical(cpu: str) -> str | None:
    """The QEMU target name for ``cpu`` (a target or a Debian alias), None when it names none."""
    cpu = ALIASES.get(cpu, cpu)
    return cpu if cpu in TARGETS else None


def cpu_from_name(path: str) -> str | None:
    """The QEMU target an interpreter's file name names ('/usr/libexec/qemu-binfmt/arm-binfmt-P' ->
    'arm'), None when the name says nothing: only the file's own name counts, never a directory's."""
    base = path.rsplit("/", 1)[-1]
    for pattern in (_DEBIAN_WRAPPER, _QEMU_NAME):
        found = pattern.match(base)
        if found and canonical(found.group("cpu")):
            return canonical(found.group("cpu"))
    return None


def parse_banner(text: str) -> tuple[str | None, str | None]:
    """(target, version) from `qemu-<t> --version` output; None for what it does not show."""
    found = _BANNER.search(text or "")
    if found is None:
        return None, None
    return canonical(found.group("cpu")), found.group("version")
