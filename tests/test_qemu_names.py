"""Which QEMU target an interpreter's file name or `--version` banner names."""

from __future__ import annotations

import pytest

from mab_doctor.emulation.qemunames import canonical, cpu_from_name, parse_banner


@pytest.mark.parametrize("path, cpu", [
    ("/usr/bin/qemu-aarch64-static", "aarch64"),
    ("/usr/bin/qemu-aarch64", "aarch64"),                        # Debian 13's qemu-user
    ("/usr/libexec/qemu-binfmt/aarch64-binfmt-P", "aarch64"),   # Debian 12/13 wrapper names
    ("/usr/libexec/qemu-binfmt/arm-binfmt-P", "arm"),
    ("/usr/libexec/qemu-binfmt/mips64el-binfmt-P", "mips64el"),
    ("/usr/bin/qemu-x86_64-static", "x86_64"),
    ("/usr/bin/qemu-aarch64_be-static", "aarch64_be"),
    ("/usr/bin/qemu-arm64-static", "aarch64"),                   # Debian architecture aliases
    ("/usr/bin/qemu-armhf", "arm"),
    ("/usr/bin/qemu-ppc64el-static", "ppc64le"),
    ("/usr/bin/qemu-amd64", "x86_64"),
    ("/usr/bin/qemu-riscv64-binfmt", "riscv64"),                 # openSUSE's suffix
    ("/usr/bin/buildkit-qemu-s390x", "s390x"),                   # QEMU_BINARY_PREFIX
    ("qemu-loongarch64", "loongarch64"),                         # a relative interpreter
])
def test_names_that_say_their_target(path, cpu):
    assert cpu_from_name(path) == cpu


@pytest.mark.parametrize("path", [
    "/usr/bin/box64", "/opt/emu", "/usr/bin/qemu-static", "/usr/bin/qemu-foo-static", "/opt/qemu-aarch64/runner",
    "/usr/bin/qemu-aarch64-static.real", "/usr/libexec/qemu-binfmt/foo-binfmt-P", "", "/",
])
def test_names_that_say_nothing(path):
    # Only the file's own name counts: a directory named qemu-aarch64 says nothing of the file in it.
    assert cpu_from_name(path) is None


def test_aliases_and_unknown_names():
    assert (canonical("armel"), canonical("loong64"), canonical("powerpc"), canonical("vax")) == (
        "arm", "loongarch64", "ppc", None)


@pytest.mark.parametrize("text, expected", [
    ("qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 Fabrice Bellard\n",
     ("aarch64", "7.2.22")),
    ("qemu-riscv64 version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)\n", ("riscv64", "10.0.13")),
    ("qemu-x86_64 version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)\n", ("x86_64", "8.2.2")),
    ("qemu-vax version 9.0.0\n", (None, "9.0.0")),      # a version, but no target we know
    ("QEMU emulator version 7.2.0\n", (None, None)),    # qemu-system's banner is not a user-mode one
    ("", (None, None)), ("garbage\x00\xff", (None, None)),
])
def test_the_banner_names_the_compiled_in_target(text, expected):
    assert parse_banner(text) == expected
