"""emulation-self: the ISA family of /proc/cpuinfo against the process's own executable."""

import pytest

from mab_doctor.checks.emulation_self import cpuinfo_family, emulation_self, emulation_signals
from mab_doctor.core.model import Status
from mab_doctor.host.platforms import BY_OCI
from helpers import HOSTS


@pytest.mark.parametrize("tree, family", [("debian-12-amd64-qemu", "x86"), ("pi-zero-raspbian", "arm"),
                                          ("pi4-arm64-kernel-armhf-userland", "arm"),
                                          ("graviton2-ubuntu-22.04-arm64", "arm")])
def test_cpuinfo_family_of_captured_hosts(tree, family):
    assert cpuinfo_family((HOSTS / tree / "proc/cpuinfo").read_text()) == family


@pytest.mark.parametrize("text, family", [
    ("vendor_id       : IBM/S390\n# processors    : 2\nbogomips per cpu: 3241.00\n", "s390"),
    ("processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\n", "power"),
    ("processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc\nmmu\t\t: sv39\n", "riscv"),
    ("system type\t\t: generic-loongson-machine\nModel Name\t\t: Loongson-3A5000\n", "loongarch"),
    ("processor\t: 0\n", None),
])
def test_cpuinfo_family_of_other_isas(text, family):
    assert cpuinfo_family(text) == family


def test_an_arm64_process_on_x86_cpuinfo_is_emulated():
    x86 = (HOSTS / "debian-12-amd64-qemu/proc/cpuinfo").read_text()
    signals = emulation_signals(BY_OCI["linux/arm64"], x86)
    assert signals and "linux/arm64 ELF (arm) but /proc/cpuinfo describes x86 hardware" in signals[0]
    assert emulation_signals(BY_OCI["linux/amd64"], x86) == []
    assert emulation_signals(BY_OCI["linux/arm/v7"], (HOSTS / "pi4-arm64-kernel-armhf-userland/proc/cpuinfo")
                             .read_text()) == []  # 32-bit ARM on an ARMv8 core is native


def test_this_test_process_is_native_and_a_root_tree_is_skipped(make_host):
    from mab_doctor.core.context import Context

    assert emulation_self(Context()).status is Status.OK
    assert emulation_self(make_host({"/proc/cpuinfo": "x"})).status is Status.SKIP
