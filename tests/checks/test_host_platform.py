"""host-platform: userland vs kernel, containerd's ARM variant logic, distro under the root."""

import pytest

from mab_doctor.core.context import Context

from mab_doctor.checks.host_platform import host_platform
from elfbuild import build_elf
from helpers import host
from mab_doctor.checks.binfmt_handlers import binfmt_handlers
from mab_doctor.checks.binfmt_persist import binfmt_persist
from mab_doctor.core.model import Status
from mab_doctor.host.hostinfo import (arm_cpu_variant, dpkg_architecture, emulated_targets, is_native, native_map,
                                      placement)

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


@pytest.mark.parametrize("status, want", [
    ("Package: zlib1g\nStatus: install ok installed\nArchitecture: i386\n\n" + DPKG.format(arch="amd64"), "amd64"),
    ("Package: dpkg\nStatus: deinstall ok config-files\nArchitecture: x\n", None),
])
def test_dpkg_architecture_reads_the_dpkg_stanza(tmp_path, status, want):
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text(status)
    notes: list[str] = []
    assert dpkg_architecture(Context(root=tmp_path), notes) == want and notes == []


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
    # ARMv7 programs on an ARMv6 CPU: no handler can take them without taking the host's own too.
    assert [str(t) for t in emulated_targets(ctx)] == ["linux/amd64"]
    assert [placement(ctx, t).how for t in ctx.targets] == ["emulated", "native", "native", "impossible"]
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


ARMHF_SHELL = dict(flags=0x05000400, interp="/lib/ld-linux-armhf.so.3")
V7_CPUINFO = "model name\t: ARMv7 Processor rev 4 (v7l)\nCPU architecture: 7\n"


def test_ok_summary_and_evidence_lines_exactly(make_host):
    ctx = make_host(tree("x86_64", "6.1.0-13-amd64", build_elf("x86_64", interp="/lib64/ld-linux-x86-64.so.2"),
                         "amd64"))
    res = host_platform(ctx)
    assert (res.status, res.summary) == (
        Status.OK, "linux/amd64 (Debian GNU/Linux 12 (bookworm), kernel 6.1.0-13-amd64)")
    assert res.remediation is None
    assert res.details == (
        "kernel: uname -m x86_64, release 6.1.0-13-amd64",
        "userland /bin/sh: ELF64 little-endian EM_X86_64, loader /lib64/ld-linux-x86-64.so.2",
        "dpkg native architecture: amd64",
        "distro: Debian GNU/Linux 12 (bookworm) (id debian, version 12)")
    assert res.data["distro"] == {"id": "debian", "version": "12", "name": "Debian GNU/Linux 12 (bookworm)"}
    assert res.data["arm_variant"] is None and res.data["float_abi"] is None


def test_an_unknown_distro_is_named_so(make_host):
    files = tree("x86_64", "6.1.0", build_elf("x86_64"), None)
    del files["/etc/os-release"]
    res = host_platform(make_host(files))
    assert (res.status, res.summary) == (Status.OK, "linux/amd64 (unknown distro, kernel 6.1.0)")
    assert res.details[-2:] == ("dpkg native architecture: none (no dpkg status)", "distro: unknown (id -, version -)")
    assert res.data["known_environment"] is None


def test_unknown_machine_fails_with_exact_words(make_host):
    res = host_platform(make_host(tree("pdp11", "2.11", b"", None)))
    assert res.summary == "unknown host architecture (uname -m 'pdp11')"
    assert res.remediation == "Report this host's `uname -m` and /proc/cpuinfo to mab-doctor."


def test_64bit_kernel_with_32bit_arm_userland_exact_words(make_host):
    shell = build_elf("arm", **ARMHF_SHELL)
    res = host_platform(make_host(tree("aarch64", "6.1.21-v8+", shell, "armhf", "CPU architecture: 8\n")))
    assert res.summary == "64-bit kernel (aarch64) with a 32-bit userland: native platform is linux/arm/v8"
    assert res.remediation == (
        "Docker, dpkg and image selection follow the userland, not `uname -m`: pass --platform when pulling and "
        "building. The aarch64 kernel runs linux/arm64 programs natively too (no emulator needed), so `--platform "
        "linux/arm64` also works here.")
    assert "userland float ABI: hard-float" in res.details


def test_64bit_x86_kernel_with_an_i386_userland_warns_too(make_host):
    res = host_platform(make_host(tree("x86_64", "6.1.0", build_elf("i386"), "i386")))
    assert res.status is Status.WARN
    assert res.summary == "64-bit kernel (x86_64) with a 32-bit userland: native platform is linux/386"
    assert res.remediation.endswith("The x86_64 kernel runs linux/amd64 programs natively too (no emulator needed), "
                                    "so `--platform linux/amd64` also works here.")


@pytest.mark.parametrize("machine, shell, cpuinfo, dpkg, oci", [
    ("aarch64", build_elf("aarch64"), "CPU architecture: 8\n", "arm64", "linux/arm64"),   # 64 on 64
    ("armv7l", build_elf("arm", **ARMHF_SHELL), V7_CPUINFO, "armhf", "linux/arm/v7"),    # 32 on 32
    ("armv7l", build_elf("arm", **ARMHF_SHELL), V7_CPUINFO, "armel", "linux/arm/v7"),    # either 32-bit ARM name
    ("armv7l", build_elf("arm", **ARMHF_SHELL), V7_CPUINFO, None, "linux/arm/v7"),       # no dpkg at all
])
def test_matching_kernel_userland_and_dpkg_are_ok(make_host, machine, shell, cpuinfo, dpkg, oci):
    res = host_platform(make_host(tree(machine, "6.1.0", shell, dpkg, cpuinfo)))
    assert (res.status, res.summary) == (Status.OK, f"{oci} (Debian GNU/Linux 12 (bookworm), kernel 6.1.0)")


@pytest.mark.parametrize("machine, shell, cpuinfo, dpkg, summary", [
    ("armv7l", build_elf("arm", **ARMHF_SHELL), V7_CPUINFO, "arm64",
     "dpkg says arm64 but the userland ELF is linux/arm/v7"),
    ("x86_64", build_elf("x86_64"), "", "armhf", "dpkg says armhf but the userland ELF is linux/amd64"),
    ("x86_64", build_elf("x86_64"), "", "i386", "dpkg says i386 but the userland ELF is linux/amd64"),
])
def test_dpkg_disagreeing_exact_words(make_host, machine, shell, cpuinfo, dpkg, summary):
    res = host_platform(make_host(tree(machine, "6.1.0", shell, dpkg, cpuinfo)))
    assert (res.status, res.summary) == (Status.WARN, summary)
    assert res.remediation == "Check which dpkg/userland is active (a chroot or multiarch mix-up)."


@pytest.mark.parametrize("machine, cpuinfo", [("armv7l", "CPU architecture: 9\n"), ("armv9l", "")])
def test_arm_variant_unknown_warns(make_host, machine, cpuinfo):
    res = host_platform(make_host(tree(machine, "6.1.0", build_elf("arm", **ARMHF_SHELL), "armhf", cpuinfo)))
    assert (res.status, res.summary) == (
        Status.WARN, "linux/arm/v7: ARM variant unknown (no 'CPU architecture' in /proc/cpuinfo)")
    assert res.remediation == "Pass --platform with an explicit variant (e.g. linux/arm/v7)."
    assert res.data["arm_variant"] is None


def test_pi_zero_quirk_evidence_lines_exactly(make_host):
    shell = build_elf("arm", **ARMHF_SHELL)
    res = host_platform(make_host(tree("armv6l", "6.1.21+", shell, "armhf", PI_ZERO_CPUINFO)))
    assert (res.status, res.summary) == (Status.OK, "linux/arm/v6 (Debian GNU/Linux 12 (bookworm), kernel 6.1.21+)")
    assert res.data["arm_variant"] == "v6" and res.data["arm_arch"] == "v6"
    assert res.details[3:6] == (
        "/proc/cpuinfo: CPU architecture 7, model name ARMv6-compatible processor rev 7 (v6l)",
        "ARMv6 core reporting 'CPU architecture: 7' (Pi Zero/1 kernel quirk): treated as v6, as containerd does "
        "since Docker 20.10.0; older Docker picked arm/v7 images here",
        "userland float ABI: hard-float")


@pytest.mark.parametrize("cpuinfo, machine, cpu_line", [
    (V7_CPUINFO, "armv7l", "/proc/cpuinfo: CPU architecture 7, model name ARMv7 Processor rev 4 (v7l)"),
    ("CPU architecture: 6\nmodel name\t: ARMv6-compatible processor rev 7 (v6l)\n", "armv6l",
     "/proc/cpuinfo: CPU architecture 6, model name ARMv6-compatible processor rev 7 (v6l)"),
    ("model name\t: ARMv7 Processor rev 4 (v7l)\n", "armv7l",
     "/proc/cpuinfo: CPU architecture -, model name ARMv7 Processor rev 4 (v7l)"),
    ("CPU architecture: 7\n", "armv7l", "/proc/cpuinfo: CPU architecture 7, model name -"),
])
def test_no_quirk_line_without_the_quirk(make_host, cpuinfo, machine, cpu_line):
    res = host_platform(make_host(tree(machine, "6.1.0", build_elf("arm", flags=0x05000200), "armel", cpuinfo)))
    assert res.status is Status.OK
    assert cpu_line in res.details and "userland float ABI: soft-float" in res.details
    assert not any("quirk" in d for d in res.details)


def test_no_cpuinfo_no_cpuinfo_line(make_host):
    res = host_platform(make_host(tree("x86_64", "6.1.0", build_elf("x86_64"), "amd64")))
    assert not any(d.startswith("/proc/cpuinfo") for d in res.details)


def test_registered_as_the_host_platform_check():
    assert (host_platform.name, host_platform.title, host_platform.category, host_platform.requires) == (
        "host-platform", "Host platform", "host", ())


def test_an_unknown_kernel_machine_with_a_known_userland_is_ok(make_host):
    res = host_platform(make_host(tree("pdp11", "2.11", build_elf("x86_64"), "amd64")))
    assert (res.status, res.summary) == (Status.OK, "linux/amd64 (Debian GNU/Linux 12 (bookworm), kernel 2.11)")
    assert res.data["kernel_bits"] is None and res.data["userland_bits"] == 64


def test_an_amd64_userland_on_arm_hardware_has_no_arm_variant_and_no_quirk_line(make_host):
    # e.g. an amd64 container under QEMU on a Pi: /proc/cpuinfo is the ARM board's
    res = host_platform(make_host(tree("x86_64", "6.1.0", build_elf("x86_64"), "amd64", V7_CPUINFO)))
    assert (res.status, res.summary) == (Status.OK, "linux/amd64 (Debian GNU/Linux 12 (bookworm), kernel 6.1.0)")
    assert res.data["arm_variant"] is None
    assert "/proc/cpuinfo: CPU architecture 7, model name ARMv7 Processor rev 4 (v7l)" in res.details
    assert not any("quirk" in d for d in res.details)


def test_a_non_arm_userland_is_never_excused_an_arm_dpkg_name(make_host):
    res = host_platform(make_host(tree("riscv64", "6.1.0", build_elf("riscv64"), "armhf")))
    assert (res.status, res.summary) == (Status.WARN, "dpkg says armhf but the userland ELF is linux/riscv64")


@pytest.mark.parametrize("machine, dpkg, oci", [("riscv64", "riscv64", "linux/riscv64"),
                                                ("s390x", "s390x", "linux/s390x")])
def test_non_arm_hosts_need_no_arm_variant(make_host, machine, dpkg, oci):
    res = host_platform(make_host(tree(machine, "6.1.0", build_elf(machine), dpkg)))
    assert (res.status, res.summary) == (Status.OK, f"{oci} (Debian GNU/Linux 12 (bookworm), kernel 6.1.0)")
