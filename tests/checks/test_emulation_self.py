"""emulation-self: the ISA family of /proc/cpuinfo against the process's own executable."""

import pytest

from mab_doctor.checks.emulation_self import cpuinfo_family, emulation_self, emulation_signals
from elfbuild import build_elf
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



X86_CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme de pse\n"
ARM_CPUINFO = "processor\t: 0\nCPU implementer\t: 0x41\nCPU architecture: 8\n"


@pytest.mark.parametrize("text, family", [
    ("vendor_id\t: IBM/S390\n", "s390"),                       # the vendor alone
    ("bogomips per cpu: 3241.00\n", "s390"),                   # the s390-only field alone
    ("vendor_id\t: AuthenticAMD\n", "x86"),
    ("flags\t\t: fpu vme de\n", "x86"),                         # fpu first in flags, no vendor
    ("flags\t\t: vme de fpu\n", "x86"),                         # fpu last
    ("flags\t\t: vme fpu_x de\n", None),                        # not the fpu flag
    ("CPU implementer\t: 0x41\n", "arm"), ("CPU architecture: 7\n", "arm"),
    ("cpu\t\t: power10\n", "power"), ("cpu\t\t: PPC970\n", None),
    ("isa\t\t: rv32imac\n", "riscv"), ("isa\t\t: x-rv64\n", None),
    ("cpu model\t\t: MIPS 24Kc V7.4\n", "mips"), ("cpu model\t\t: R4000\n", None),
    ("model name\t: LOONGSON-3A6000\n", "loongarch"),
    ("", None),
])
def test_cpuinfo_family_one_field_at_a_time(text, family):
    assert cpuinfo_family(text) == family


def test_no_signal_when_the_cpu_family_is_unknown():
    assert emulation_signals(BY_OCI["linux/arm64"], "processor\t: 0\n") == []
    assert emulation_signals(BY_OCI["linux/s390x"], ARM_CPUINFO) == [
        "this process is a linux/s390x ELF (s390) but /proc/cpuinfo describes arm hardware: a user-mode emulator "
        "(QEMU) translates every instruction"]


def live(make_host, exe, cpuinfo):
    from mab_doctor.core.context import Uname

    files = {"/proc/cpuinfo": cpuinfo, **({"/proc/self/exe": exe} if exe is not None else {})}
    return make_host(files, live=True, uname_override=Uname("6.1.0", "aarch64"))


def test_an_arm64_process_on_x86_hardware_warns(make_host):
    res = emulation_self(live(make_host, build_elf("aarch64"), X86_CPUINFO))
    assert (res.status, res.summary) == (
        Status.WARN, "mab-doctor runs emulated: linux/arm64 on x86 hardware; results, timings and crashes here will "
                     "differ on real hardware")
    assert res.remediation == ("Run mab-doctor on the real host for host verdicts, and test images on real hardware "
                               "of the target architecture.")
    assert res.details == ("/proc/self/exe: linux/arm64", "/proc/cpuinfo describes: x86 CPU", "uname -m: aarch64",
                           "this process is a linux/arm64 ELF (arm) but /proc/cpuinfo describes x86 hardware: a "
                           "user-mode emulator (QEMU) translates every instruction")
    assert res.data == {"process": "linux/arm64", "cpu_family": "x86", "uname_machine": "aarch64", "emulated": True}


def test_an_arm64_process_on_arm_hardware_is_native(make_host):
    res = emulation_self(live(make_host, build_elf("aarch64"), ARM_CPUINFO))
    assert (res.status, res.summary) == (Status.OK, "native: a linux/arm64 process on arm hardware")
    assert res.data == {"process": "linux/arm64", "cpu_family": "arm", "uname_machine": "aarch64", "emulated": False}


@pytest.mark.parametrize("exe, cpuinfo, detail", [
    (build_elf("aarch64"), "processor\t: 0\n", "/proc/cpuinfo describes: unknown CPU"),
    (build_elf("aarch64")[:18] + b"\x34\x12" + build_elf("aarch64")[20:], X86_CPUINFO,
     "/proc/self/exe: e_machine 4660"),
])
def test_cannot_tell_is_assumed_native(make_host, exe, cpuinfo, detail):
    res = emulation_self(live(make_host, exe, cpuinfo))
    assert (res.status, res.summary) == (Status.OK, "cannot tell (unknown executable or cpuinfo format); assuming "
                                                    "native")
    assert detail in res.details and "emulated" not in res.data


@pytest.mark.parametrize("exe", [None, b"#!/bin/sh\n"])
def test_an_unreadable_own_executable_warns(make_host, exe):
    res = emulation_self(live(make_host, exe, X86_CPUINFO))
    assert res.status is Status.WARN and res.summary.startswith("cannot read this process's own executable: ")
    assert res.remediation == "Run mab-doctor where /proc is mounted."


def test_a_root_tree_is_skipped_with_its_reason(make_host):
    res = emulation_self(make_host({"/proc/self/exe": build_elf("aarch64"), "/proc/cpuinfo": X86_CPUINFO}))
    assert (res.status, res.summary) == (Status.SKIP, "a --root tree has no running process to examine")


def test_registered_as_the_emulation_self_check():
    assert (emulation_self.name, emulation_self.title, emulation_self.category, emulation_self.requires) == (
        "emulation-self", "mab-doctor itself emulated?", "host", ())
