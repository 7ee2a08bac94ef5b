"""The kernel's real stable level, the brk-randomisation hazard of non-PIE static QEMU, known-bad ranges."""

from __future__ import annotations

import struct

import pytest

from elfbuild import build_elf
from helpers import make_context, write_tree
from mab_doctor.core.context import Uname
from mab_doctor.emulation.binfmt import parse_register_line
from mab_doctor.emulation.emulator import KernelLevel, brk_hazard, kernel_level
from mab_doctor.emulation.qemu import inspect_interpreter
from mab_doctor.emulation.upstream import upstream_line
from mab_doctor.host.elf import build_header
from mab_doctor.host.matrix import covers, known_bad, range_label

QEMU = "/usr/bin/qemu-aarch64-static"
ENTRY = parse_register_line(upstream_line("aarch64", QEMU))
DEBIAN_BANNER = ("Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
                 "GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.{level}-1 (2024-11-22)\n")


def program(machine: int = 62, e_type: int = 2) -> bytes:
    """A static program with one PT_LOAD segment (what a real QEMU has): EXEC or DYN (static PIE)."""
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 120, 120, 0x1000)
    return build_header(64, "little", machine, e_type=e_type, entry=0x401000, phnum=1) + load


@pytest.fixture
def tree(tmp_path):
    """tree(release, files) -> Context over a captured x86-64 tree whose kernel is ``release``."""
    def make(release, **files):
        base = {"/proc/sys/kernel/osrelease": release + "\n", "/proc/sys/kernel/arch": "x86_64\n", QEMU: program()}
        return make_context(write_tree(tmp_path, {**base, **files}))
    return make


@pytest.mark.parametrize("release, files, level, evidence", [
    ("6.1.119", {}, "6.1.119", "uname -r"),
    ("6.18.44-fc-v657", {}, "6.18.44", "uname -r"),
    ("6.9", {}, "6.9.0", "uname -r"),
    ("6.1.0", {}, "6.1.0", "uname -r"),            # a plain release name is exact, even at .0
    ("6.1.0-28-amd64", {"/proc/version": DEBIAN_BANNER.format(level=119)}, "6.1.119", "/proc/version says 6.1.119"),
    ("6.1.0-rpi7-rpi-v8", {"/proc/version": "Linux version 6.1.0-rpi7-rpi-v8 (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP "
                                             "PREEMPT Debian 1:6.1.63-1+rpt1 (2023-11-24)\n"}, "6.1.63",
     "/proc/version says 6.1.63"),
    ("5.15.0-126-generic", {"/proc/version_signature": "Ubuntu 5.15.0-126.136-generic 5.15.167\n"}, "5.15.167",
     "/proc/version_signature says 5.15.167"),
    ("5.15.0-126-generic", {"/proc/version_signature": "Ubuntu 5.15.0-126.136-generic 6.1.1\n"}, None,
     "5.15.0-126-generic does not show its 5.15.y stable level"),   # another series is no answer
    ("6.1.0-28-amd64", {}, None, "6.1.0-28-amd64 does not show its 6.1.y stable level"),
])
def test_the_kernels_stable_level(tree, release, files, level, evidence):
    got = kernel_level(tree(release, **files))
    assert (got.level, got.evidence, got.release) == (level, evidence, release)


def test_a_release_that_is_no_version(tmp_path):
    ctx = make_context(tmp_path, uname_override=Uname("unknown", "x86_64"))
    assert kernel_level(ctx) == KernelLevel("unknown", None, None, "kernel release 'unknown' is no version")


def hazard(ctx):
    return brk_hazard(ctx, ENTRY, inspect_interpreter(ctx, QEMU))


@pytest.mark.parametrize("release, bad", [
    ("5.4.282", False), ("5.4.283", True), ("5.10.224", False), ("5.10.225", True), ("5.15.165", False),
    ("5.15.166", True), ("6.1.106", False), ("6.1.107", True), ("6.6.47", False), ("6.6.48", True),
    ("6.7.12", False), ("6.8.12", False), ("6.9.0", True), ("6.12.57", True), ("4.19.325", False)])
def test_the_affected_kernel_releases(tree, release, bad):
    assert (hazard(tree(release)) is not None) is bad


def test_a_hidden_level_in_an_affected_series_is_named_as_unknown(tree):
    doubt = hazard(tree("6.1.0-28-amd64"))
    assert doubt.summary == (
        "qemu-aarch64: /usr/bin/qemu-aarch64-static is a static QEMU built without PIE (ELF type EXEC); kernel "
        "6.1.0-28-amd64 hides its stable level, and 6.1 kernels from 6.1.107 on carry the x86-64 brk randomisation "
        "change (44c76825d6ee), under which emulated programs crash at random (\"Segmentation fault\"; kernel log: "
        "\"segfault at ... in qemu-aarch64-static[401000+...]\")")
    assert hazard(tree("6.1.0-28-amd64", **{"/proc/version": DEBIAN_BANNER.format(level=106)})) is None


def test_a_hidden_level_in_a_series_affected_from_its_start(tree):
    doubt = hazard(tree("6.12.0-1-amd64"))
    assert "every 6.12 kernel carries the x86-64 brk randomisation change" in doubt.summary
    assert hazard(tree("5.14.0-427-generic")) is None   # no affected release in 5.14


@pytest.mark.parametrize("content", [
    program(e_type=3),                       # a static PIE: its layout moves with ASLR, as upstream intends
    build_elf("x86_64"),                     # a bare header: no segments, no layout to judge
    program(machine=183),                    # an arm64 QEMU: the change is x86-64's only
    build_elf("x86_64", interp="/lib64/ld-linux-x86-64.so.2"),  # dynamic: another check's business
])
def test_what_the_brk_change_cannot_hurt(tree, content):
    assert hazard(tree("6.12.57", **{QEMU: content})) is None


def test_only_qemu_handlers_are_judged(tree):
    box = parse_register_line(upstream_line("aarch64", QEMU).replace(":qemu-aarch64:", ":box:")
                              .replace(QEMU, "/usr/bin/box64"))
    ctx = tree("6.12.57", **{"/usr/bin/box64": program()})
    assert brk_hazard(ctx, box, inspect_interpreter(ctx, "/usr/bin/box64")) is None


@pytest.mark.parametrize("entry, inside, outside", [
    ({"version": "9.2.0"}, ["9.2.0", "9.2"], ["9.2.1", "9.1.9"]),
    ({"from": "8.1.1", "before": "8.2.10"}, ["8.1.1", "8.2.2", "8.2.9"], ["8.1.0", "8.2.10", "9.0.0"]),
    ({"before": "7.2.0"}, ["2.5", "7.1.99"], ["7.2.0", "10.0"]),
    ({"from": "6.9"}, ["6.9", "6.9.0", "6.18.44"], ["6.8.12", "5.15.999"]),
    ({}, [], ["1.0", "9.2.0"]),   # an entry that bounds nothing matches nothing
])
def test_known_bad_ranges(entry, inside, outside):
    assert [covers(entry, v) for v in inside + outside] == [True] * len(inside) + [False] * len(outside)


def test_range_labels():
    entries = ({"version": "9.2.0"}, {"from": "8.1.1", "before": "8.2.10", "targets": ["linux/arm64"]},
               {"before": "7.2.0"}, {"from": "6.9"})
    assert [range_label(e) for e in entries] == [
        "9.2.0", "8.1.1 up to 8.2.10 (exclusive) for linux/arm64", "before 7.2.0", "6.9 and later"]


def test_known_bad_filters_by_target_and_ignores_unknown_versions():
    assert [b["source"] for b in known_bad("qemu-user-static", "8.2.2", "linux/arm64")] == [
        "https://bugs.launchpad.net/ubuntu/+source/qemu/+bug/2072564"]
    assert known_bad("qemu-user-static", "8.2.2", "linux/arm/v7") == []
    assert [b["before"] for b in known_bad("qemu-user-static", "7.0.0", "linux/amd64")] == ["7.2.0"]
    assert known_bad("qemu-user-static", None, "linux/arm64") == known_bad("qemu-user-static", "x", None) == []
