"""host-platform: userland vs kernel, containerd's ARM variant logic, distro under the root."""

import pytest

from mab_doctor.checks.host_platform import host_platform
from elfbuild import build_elf
from helpers import host
from mab_doctor.checks.binfmt_handlers import binfmt_handlers
from mab_doctor.checks.binfmt_persist import binfmt_persist
from mab_doctor.core.model import Status
from mab_doctor.host.hostinfo import arm_cpu_variant, dpkg_architecture, emulated_targets, is_native, native_map

DPKG = "Package: dpkg\nStatus: install ok installed\nArchitecture: {arch}\nVersion: 1.21.22\n"
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
PI_ZERO_CPUINFO = ("processor\t: 0\nmodel name\t: ARMv6-compatible processor rev 7 (v6l)\nBogoMIPS\t: 997.08\n"
                   "Features\t: half thumb fastmult vfp edsp java tls \nCPU implementer\t: 0x41\n"
                   "CPU architecture: 7\nCPU variant\t: 0x0\nCPU part\t: 0xb76\n")


def tree(machine, release, shell, dpkg_arch=None, cpuinfo="", os_release=OS_RELEASE):
    files = {"/proc/sys/kernel/arch": machine + "\n", "/proc/sys/kernel/osrelease": release + "\n",
             "/proc/cpuinfo": cpuinfo, "/etc/os-release": os_release, "/usr/bin/dash": shell,
             "/bin": "-> usr/bin", "/usr/bin/sh": "-> dash"}
    if dpkg_arch:
        files["/var/lib/dpkg/status"] = "Package: libc6\nStatus: install ok installed\n\n" + DPKG.format(arch=dpkg_arch)
    return files


@pytest.mark.parametrize("cpuinfo, machine, goarch, want", [
    (PI_ZERO_CPUINFO, "armv6l", "arm", "v6"),          # the ARMv6 "CPU architecture: 7" quirk
    (PI_ZERO_CPUINFO, "armv6l", "arm64", "v7"),        # the quirk applies to GOARCH=arm only
    ("CPU architecture: 7\nmodel name: ARMv7 Processor rev 4 (v7l)\n", "armv7l", "arm", "v7"),
    ("CPU architecture: 8\n", "aarch64", "arm", "v8"),
    ("cpu architecture :   AArch64\n", "aarch64", "arm64", "v8"),
    ("", "aarch64", "arm64", "v8"),                     # absent under QEMU: from uname -m
    ("", "armv7l", "arm", "v7"), ("", "armv5tel", "arm", "v5"), ("", "x86_64", "arm", None),
    ("CPU architecture: 5TEJ\n", "armv5tejl", "arm", "v5"), ("CPU architecture: ?(12)\n", "armv7l", "arm", "v7"),
])
def test_arm_variant_matches_containerd(cpuinfo, machine, goarch, want):
    assert arm_cpu_variant(cpuinfo, machine, goarch) == want


def test_dpkg_architecture_reads_the_dpkg_stanza():
    status = "Package: zlib1g\nStatus: install ok installed\nArchitecture: i386\n\n" + DPKG.format(arch="amd64")
    assert dpkg_architecture(status) == "amd64"
    assert dpkg_architecture("Package: dpkg\nStatus: deinstall ok config-files\nArchitecture: x\n") is None


def test_amd64_host(make_host):
    ctx = make_host(tree("x86_64", "6.1.0-13-amd64", build_elf("x86_64", e_type=3), "amd64"))
    res = host_platform(ctx)
    assert res.status is Status.OK
    assert res.summary.startswith("linux/amd64 (Debian GNU/Linux 12 (bookworm)")
    assert res.data["debian_arch"] == "amd64" and res.data["qemu"] == "qemu-x86_64"
    assert res.data["known_environment"] == "debian-12"
    assert ctx.runner.calls == []  # file reads only


def test_pi_zero_is_v6_with_the_quirk_explained(make_host):
    shell = build_elf("arm", flags=0x05000400, interp="/lib/ld-linux-armhf.so.3")
    res = host_platform(make_host(tree("armv6l", "6.1.21+", shell, "armhf", PI_ZERO_CPUINFO)))
    assert res.status is Status.OK and res.data["oci_platform"] == "linux/arm/v6"
    assert res.data["docker_hub_prefix"] == "arm32v6" and res.data["goarm"] == "6"
    assert res.data["float_abi"] == "hard"
    assert any("Pi Zero/1 kernel quirk" in d for d in res.details)


def test_64bit_kernel_with_32bit_userland_warns(make_host):
    shell = build_elf("arm", flags=0x05000400, interp="/lib/ld-linux-armhf.so.3")
    res = host_platform(make_host(tree("aarch64", "6.1.21-v8+", shell, "armhf", "CPU architecture: 8\n")))
    assert res.status is Status.WARN
    assert "64-bit kernel (aarch64) with a 32-bit userland" in res.summary
    assert res.data["oci_platform"] == "linux/arm/v8"
    assert res.data["kernel_bits"] == 64 and res.data["userland_bits"] == 32
    assert "--platform" in res.remediation


def test_dpkg_disagreeing_with_the_userland_warns(make_host):
    res = host_platform(make_host(tree("x86_64", "6.1.0", build_elf("x86_64"), "arm64")))
    assert res.status is Status.WARN and "dpkg says arm64" in res.summary


def test_no_userland_elf_falls_back_to_dpkg_then_kernel(make_host):
    files = tree("aarch64", "6.1.0", b"#!/bin/sh\n", "arm64", "CPU architecture: 8\n")
    res = host_platform(make_host(files))
    assert res.status is Status.OK and res.data["oci_platform"] == "linux/arm64"
    assert any("not an ELF file" in d for d in res.details)


def test_unknown_machine_fails_with_remediation(make_host):
    res = host_platform(make_host(tree("pdp11", "2.11", b"", None)))
    assert res.status is Status.FAIL and "unknown host architecture" in res.summary and res.remediation


def test_truncated_userland_elf_is_reported_not_a_crash(make_host):
    files = tree("x86_64", "6.1.0", build_elf("x86_64")[:30], "amd64")
    res = host_platform(make_host(files))
    assert res.status is Status.OK and res.data["oci_platform"] == "linux/amd64"  # from dpkg instead
    assert any("truncated ELF header (30 of 64 bytes)" in d for d in res.details)


def test_one_native_rule_for_checks_and_reports():
    ctx = host("pi-zero-raspbian", targets="linux/amd64,linux/arm/v5,linux/arm/v6,linux/arm/v7")
    assert native_map(ctx) == {"linux/amd64": False, "linux/arm/v5": True, "linux/arm/v6": True,
                               "linux/arm/v7": False}
    assert [str(t) for t in emulated_targets(ctx)] == ["linux/amd64", "linux/arm/v7"]
    assert [is_native(ctx, t) for t in ctx.targets] == list(native_map(ctx).values())
    said_native = [r.summary.startswith("native") for r in binfmt_handlers(ctx)]
    assert said_native == [r.summary.startswith("native") for r in binfmt_persist(ctx)] == [False, True, True, False]


def test_unknown_host_runs_nothing_natively_and_native_map_never_raises(make_host):
    ctx = make_host(tree("pdp11", "2.11", b"", None), targets="linux/amd64,linux/386")
    assert native_map(ctx) == {"linux/amd64": False, "linux/386": False}
    assert len(emulated_targets(ctx)) == 2
    broken = make_host({"/proc/sys/kernel/arch": "x86_64\n"}, targets="linux/amd64")
    broken.distro = lambda: 1 / 0  # host facts cannot be computed at all
    assert native_map(broken) == {"linux/amd64": False}


@pytest.mark.parametrize("content, note", [
    (b"ID=deb\xe9ian\n", "/etc/os-release: not UTF-8 text (byte 0xe9 at offset 6): not read"),
    (b"\x7fELF\x02\x01\x01\x00" + bytes(64), "/etc/os-release: binary data (a NUL byte): not read"),
    ('ID=debian\nNAME="Debian\n', "os-release could not be parsed"),
])
def test_an_unusable_os_release_is_a_note_not_a_traceback(make_host, content, note):
    ctx = make_host(tree("x86_64", "6.1.0", build_elf("x86_64"), "amd64", os_release=content))
    res = host_platform(ctx)
    assert res.status is Status.OK and res.data["oci_platform"] == "linux/amd64"
    assert any(d.startswith(note) for d in res.details), res.details


def test_fifos_for_os_release_cpuinfo_and_dpkg_status_are_refused(make_host):
    import os

    ctx = make_host(tree("x86_64", "6.1.0", build_elf("x86_64"), "amd64", os_release="ID=debian\n"))
    for path in ("/etc/os-release", "/proc/cpuinfo", "/var/lib/dpkg/status"):
        ctx.path(path).unlink()
        os.mkfifo(ctx.path(path))
    res = host_platform(ctx)
    assert res.status is Status.OK and res.data["distro"]["id"] == ""
    for path in ("/etc/os-release", "/proc/cpuinfo", "/var/lib/dpkg/status"):
        assert f"{path}: a FIFO, not a regular file: not read" in res.details
