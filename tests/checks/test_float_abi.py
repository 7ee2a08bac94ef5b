"""float-abi on the fixture hosts: Raspbian v6 vs Debian armhf v7 vs armel, arm64, and non-ARM."""

import pytest

from mab_doctor.checks.float_abi import float_abi
from mab_doctor.core.model import Status
from elfbuild import aeabi_attributes, build_elf
from helpers import host

PI3_CPUINFO = ("processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\n"
               "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae \n"
               "CPU architecture: 7\n")
PI_ZERO_CPUINFO = ("processor\t: 0\nmodel name\t: ARMv6-compatible processor rev 7 (v6l)\n"
                   "Features\t: half thumb fastmult vfp edsp java tls \nCPU architecture: 7\n")


def arm_tree(cpuinfo, shell, dpkg_arch="armhf", machine="armv7l"):
    return {"/proc/sys/kernel/arch": machine + "\n", "/proc/sys/kernel/osrelease": "6.1.0\n",
            "/proc/cpuinfo": cpuinfo, "/usr/bin/dash": shell, "/bin": "-> usr/bin", "/usr/bin/sh": "-> dash",
            "/var/lib/dpkg/status": f"Package: dpkg\nStatus: install ok installed\nArchitecture: {dpkg_arch}\n"}


def test_pi_zero_raspbian_fails_v7_images_that_cannot_run_there():
    res = float_abi(host("pi-zero-raspbian"))
    assert res.status is Status.FAIL
    assert "hard-float v6 (Raspbian armhf)" in res.summary and "ARMv6 CPU" in res.summary
    assert "linux/arm/v7 cannot run here: needs ARMv7, this CPU is ARMv6" in res.summary
    assert "linux/arm64" not in res.summary  # a qemu-aarch64 handler runs it: see binfmt-handlers
    assert "illegal instruction" in res.summary
    assert res.data["userland"] == "hard-float v6 (Raspbian armhf)" and res.data["float_abi"] == "hard"
    assert res.data["cpu_arch"] == "7" and res.data["cpu_variant"] == "v6"  # the ARMv6 quirk
    assert res.data["runs"] == ("linux/arm/v5", "linux/arm/v6") and "linux/arm/v7" in res.data["dies"]
    assert res.data["vfp"] is True and res.data["neon"] is False
    assert "--platform linux/arm/v6" in res.remediation and "arm32v6/" in res.remediation
    assert any("Tag_CPU_arch = 6" in d for d in res.details)
    assert any("Pi Zero/1" in d for d in res.details)


def test_pi_zero_with_only_v6_targets_is_ok():
    res = float_abi(host("pi-zero-raspbian", targets="linux/amd64,linux/arm/v6"))
    assert res.status is Status.OK and res.summary.endswith("runs linux/arm/v5, linux/arm/v6")


def test_pi3_debian_armhf_is_ok_v7():
    res = float_abi(host("pi3-debian-armhf"))
    assert res.status is Status.OK
    assert res.summary.startswith("hard-float v7 (Debian armhf) userland on an ARMv7 CPU")
    assert res.data["runs"] == ("linux/arm/v5", "linux/arm/v6", "linux/arm/v7")
    assert res.data["dies"] == ("linux/arm/v8", "linux/arm64")  # 32-bit kernel: details say so
    assert res.data["neon"] is True and res.data["vfp"] is True
    assert any("exec format error" in d for d in res.details)


def test_armel_nas_is_soft_float_v5te():
    res = float_abi(host("armel-nas", targets="linux/arm/v5"))
    assert res.status is Status.OK
    assert res.data["userland"] == "soft-float v5TE (armel)" and res.data["float_abi"] == "soft"
    assert res.data["cpu_arch"] == "5TE" and res.data["cpu_variant"] == "v5" and res.data["vfp"] is False
    assert res.data["runs"] == ("linux/arm/v5",)
    assert any("containers bring their own libc" in d for d in res.details)
    warned = float_abi(host("armel-nas"))  # default targets include arm/v7
    assert warned.status is Status.FAIL and "linux/arm/v7 cannot run here" in warned.summary
    assert "--platform linux/arm/v5" in warned.remediation


def test_pi4_raspbian_userland_on_an_armv8_cpu_runs_v7():
    res = float_abi(host("pi4-arm64-kernel-armhf-userland"))
    assert res.status is Status.OK
    assert res.summary.startswith("hard-float v6 (Raspbian armhf) userland on an ARMv8 CPU")
    assert "linux/arm/v7" in res.data["runs"] and "linux/arm64" in res.data["runs"] and res.data["dies"] == ()
    assert res.data["neon"] is True  # arm64-format cpuinfo says "asimd"


def test_graviton_gets_the_64bit_note():
    res = float_abi(host("graviton2-ubuntu-22.04-arm64"))
    assert res.status is Status.OK and "AAPCS64" in res.summary and "CPU's AArch32 state" in res.summary
    assert res.data["float_abi"] == "hard" and res.data["aarch32"] is True and res.data["cores"] == ("Neoverse-N1",)
    assert res.data["runs"] == ("linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64")


def test_amd64_is_skipped():
    res = float_abi(host("debian-12-amd64-qemu"))
    assert res.status is Status.SKIP and res.summary == "not an ARM host (linux/amd64)"


def test_debian_armhf_userland_on_an_armv6_cpu_fails(make_host):
    shell = build_elf("arm", flags=0x05000400, interp="/lib/ld-linux-armhf.so.3",
                      arm_attributes=aeabi_attributes(10, 1))
    res = float_abi(make_host(arm_tree(PI_ZERO_CPUINFO, shell, machine="armv6l")))
    assert res.status is Status.FAIL and "needs ARMv7" in res.summary and res.remediation


def test_hard_float_userland_without_vfp_fails(make_host):
    shell = build_elf("arm", flags=0x05000400, arm_attributes=aeabi_attributes(6, 1))
    cpuinfo = "model name\t: ARMv6\nFeatures\t: swp half thumb fastmult edsp\nCPU architecture: 6\n"
    res = float_abi(make_host(arm_tree(cpuinfo, shell, machine="armv6l")))
    assert res.status is Status.FAIL and "no VFP" in res.summary


def test_dpkg_disagreeing_with_the_float_abi_warns(make_host):
    shell = build_elf("arm", flags=0x05000200, interp="/lib/ld-linux.so.3")
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, shell, dpkg_arch="armhf")))
    assert res.status is Status.WARN and "dpkg says armhf but /bin/sh is soft-float" in res.summary


def test_header_only_stub_still_classifies_the_float_abi(make_host):
    shell = build_elf("arm", flags=0x05000400, interp="/lib/ld-linux-armhf.so.3")
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, shell), targets="linux/arm/v7"))
    assert res.status is Status.OK and res.data["userland"] == "hard-float (armhf, CPU level unknown)"
    assert any("e_flags" in d for d in res.details)


def test_unreadable_sections_fall_back_to_the_header(make_host):
    shell = build_elf("arm", flags=0x05000400, interp="/lib/ld-linux-armhf.so.3",
                      arm_attributes=b"B" + aeabi_attributes(10, 1)[1:])  # attributes version 'B', not 'A'
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, shell), targets="linux/arm/v7"))
    assert res.status is Status.OK and res.data["float_abi"] == "hard"
    assert res.summary == (
        "hard-float (armhf, CPU level unknown) userland on an ARMv7 CPU (/bin/sh is not a readable ELF file: "
        "malformed .ARM.attributes: attributes version 0x42, expected 0x41 ('A'); float ABI from the ELF header "
        "only): runs linux/arm/v5, linux/arm/v6, linux/arm/v7")
    assert res.details[1] == ("  /bin/sh is not a readable ELF file: malformed .ARM.attributes: attributes version "
                              "0x42, expected 0x41 ('A'); float ABI from the ELF header only")


def test_a_truncated_userland_is_no_userland(make_host):
    shell = build_elf("arm", flags=0x05000400, interp="/lib/ld-linux-armhf.so.3",
                      arm_attributes=aeabi_attributes(10, 1))[:-20]
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, shell), targets="linux/arm/v7"))
    assert res.status is Status.WARN and res.data["float_abi"] is None
    assert res.summary == ("ARM, float ABI unknown userland on an ARMv7 CPU: no readable userland ELF (/bin/sh: "
                           "truncated: section headers end at byte 276, the file has 256 bytes; /usr/bin/sh: "
                           "truncated: section headers end at byte 276, the file has 256 bytes)")



V6_VFP_CPUINFO = "model name\t: ARMv6\nFeatures\t: swp half thumb fastmult vfp edsp java tls\nCPU architecture: 6\n"
V6_NO_VFP_CPUINFO = "model name\t: ARMv6\nFeatures\t: swp half thumb fastmult edsp\nCPU architecture: 6\n"
V5_CPUINFO = ("model name\t: Feroceon 88FR131 rev 1 (v5l)\nFeatures\t: swp half thumb fastmult edsp\n"
              "CPU architecture: 5TE\n")
V8_CPUINFO = ("model name\t: ARMv7 Processor rev 3 (v7l)\n"
              "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4\nCPU architecture: 8\n")
HARD, SOFT = 0x05000400, 0x05000200
ALL_ARM = ("linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64")
TOOLS = ("Build and pull {best} for this host (`--platform {best}`, Docker Hub `{prefix}/...` base images), and "
         "build {bad} on a machine that runs them (or under QEMU emulation there).")
DIES = "{where}: {bad} cannot run here: {why}"


def userland(cpu_arch, vfp_args, flags=HARD, interp=None):
    return build_elf("arm", flags=flags, interp=interp, arm_attributes=aeabi_attributes(cpu_arch, vfp_args))


@pytest.mark.parametrize("shell, cpuinfo, machine, dpkg, targets, summary", [
    # the userland's level equals the CPU's: fine (Debian armhf v7 on ARMv7, Raspbian v6 on ARMv6)
    (userland(10, 1), PI3_CPUINFO, "armv7l", "armhf", "linux/arm/v7",
     "hard-float v7 (Debian armhf) userland on an ARMv7 CPU: runs linux/arm/v5, linux/arm/v6, linux/arm/v7"),
    (userland(6, 1), V6_VFP_CPUINFO, "armv6l", "armhf", "linux/arm/v6",
     "hard-float v6 (Raspbian armhf) userland on an ARMv6 CPU: runs linux/arm/v5, linux/arm/v6"),
    # a lower userland on a higher CPU
    (userland(6, 1), PI3_CPUINFO, "armv7l", "armhf", "linux/arm/v7",
     "hard-float v6 (Raspbian armhf) userland on an ARMv7 CPU: runs linux/arm/v5, linux/arm/v6, linux/arm/v7"),
    # no Features line at all: VFP unknown, so not held against the hard-float images
    (userland(6, 1), "CPU architecture: 6\n", "armv6l", "armhf", "linux/arm/v6",
     "hard-float v6 (Raspbian armhf) userland on an ARMv6 CPU: runs linux/arm/v5, linux/arm/v6"),
    (userland(4, 0, SOFT), V5_CPUINFO, "armv5tel", "armel", "linux/arm/v5",
     "soft-float v5TE (armel) userland on an ARMv5 CPU: runs linux/arm/v5"),
    # an ARMv8 CPU under a 32-bit kernel: arm/v8 runs, arm64 does not (not an arm/vN target: no warning)
    (userland(10, 1), V8_CPUINFO, "armv7l", "armhf", "linux/arm/v8,linux/arm64",
     "hard-float v7 (Debian armhf) userland on an ARMv8 CPU: runs linux/arm/v5, linux/arm/v6, linux/arm/v7, "
     "linux/arm/v8"),
    # a CPU level the table does not know: the Debian armhf userland itself runs, so ARMv7 at least
    (userland(10, 1), "Features\t: vfp\nCPU architecture: 9\n", "armv7l", "armhf", "linux/arm/v7",
     "hard-float v7 (Debian armhf) userland on an ARM? CPU: runs linux/arm/v5, linux/arm/v6, linux/arm/v7"),
])
def test_ok_verdicts_exactly(make_host, shell, cpuinfo, machine, dpkg, targets, summary):
    res = float_abi(make_host(arm_tree(cpuinfo, shell, dpkg, machine), targets=targets))
    assert (res.status, res.summary) == (Status.OK, summary)
    assert res.remediation is None


def test_a_userland_one_level_above_the_cpu_fails(make_host):
    res = float_abi(make_host(arm_tree(V6_VFP_CPUINFO, userland(10, 1), machine="armv6l")))
    assert (res.status, res.summary) == (
        Status.FAIL, "hard-float v7 (Debian armhf) userland on an ARMv6 CPU: the userland needs ARMv7, more than "
                     "this CPU has")
    assert res.remediation == ("Install a userland built for this CPU (Raspberry Pi OS / Raspbian armhf for ARMv6, "
                               "Debian armel for ARMv5).")


def test_hard_float_without_vfp_fails_exactly(make_host):
    res = float_abi(make_host(arm_tree(V6_NO_VFP_CPUINFO, userland(6, 1), machine="armv6l")))
    assert (res.status, res.summary) == (
        Status.FAIL, "hard-float v6 (Raspbian armhf) userland on an ARMv6 CPU: hard-float userland but "
                     "/proc/cpuinfo lists no VFP")
    assert res.remediation == "Install a soft-float (armel) userland on this CPU."
    assert res.data["runs"] == ("linux/arm/v5",) and res.data["vfp"] is False


@pytest.mark.parametrize("shell, dpkg, summary", [
    (userland(10, 1), "armel", "dpkg says armel but /bin/sh is hard-float"),
    (userland(10, 0, SOFT), "armhf", "dpkg says armhf but /bin/sh is soft-float"),
])
def test_dpkg_naming_the_other_float_abi_warns(make_host, shell, dpkg, summary):
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, shell, dpkg), targets="linux/arm/v7"))
    assert (res.status, res.summary) == (Status.WARN, summary)
    assert res.remediation == "Check which dpkg/userland is active (a chroot or a mixed install)."


def test_a_float_abi_nobody_can_tell_is_not_a_dpkg_mismatch(make_host):
    shell = build_elf("arm", flags=0x05000000)  # no float bit, no loader, no attributes
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, shell, "armel"), targets="linux/arm/v7"))
    assert (res.status, res.summary) == (
        Status.OK, "ARM, float ABI unknown userland on an ARMv7 CPU: runs linux/arm/v5, linux/arm/v6, linux/arm/v7")


@pytest.mark.parametrize("shell, cpuinfo, machine, dpkg, targets, where, bad, why, best, prefix", [
    # a soft-float ARMv5 host: everything above v5 cannot run
    (userland(4, 0, SOFT), V5_CPUINFO, "armv5tel", "armel", "linux/arm/v6",
     "soft-float v5TE (armel) userland on an ARMv5 CPU", "linux/arm/v6", "needs ARMv6, this CPU is ARMv5",
     "linux/arm/v5", "arm32v5"),
    # an ARMv6 CPU without VFP: Docker's hard-float arm32v6 images cannot run either
    (userland(4, 0, SOFT), V6_NO_VFP_CPUINFO, "armv6l", "armel", "linux/arm/v6",
     "soft-float v5TE (armel) userland on an ARMv6 CPU", "linux/arm/v6",
     "linux/arm/v6 images are hard-float (VFP), and /proc/cpuinfo lists no VFP", "linux/arm/v5", "arm32v5"),
    # ARMv7: arm/v8 cannot run; arm64 can, through a qemu-aarch64 handler, so it is not named here
    (userland(10, 1), PI3_CPUINFO, "armv7l", "armhf", "linux/arm64,linux/arm/v8",
     "hard-float v7 (Debian armhf) userland on an ARMv7 CPU", "linux/arm/v8", "needs ARMv8, this CPU is ARMv7",
     "linux/arm/v7", "arm32v7"),
    # an ARMv4 CPU runs no image variant at all: v5 is still the nearest thing to build
    (build_elf("arm", flags=SOFT), "Features\t: swp half\nCPU architecture: 4\n", "armv4l", "armel", "linux/arm/v5",
     "soft-float (armel) userland on an ARMv4 CPU", "linux/arm/v5", "needs ARMv5, this CPU is ARMv4", "linux/arm/v5",
     "arm32v5"),
])
def test_targets_that_cannot_run_here_fail_with_the_best_variant(make_host, shell, cpuinfo, machine, dpkg, targets,
                                                                  where, bad, why, best, prefix):
    res = float_abi(make_host(arm_tree(cpuinfo, shell, dpkg, machine), targets=targets))
    assert res.status is Status.FAIL and res.summary.startswith(DIES.format(where=where, bad=bad, why=why))
    assert res.remediation == TOOLS.format(best=best, prefix=prefix, bad=bad)


def test_a_64bit_kernel_under_a_32bit_userland_runs_arm64_and_every_arm_variant(make_host):
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, userland(10, 1), "armhf", "aarch64"),
                              targets="linux/arm/v8,linux/arm64"))
    assert res.status is Status.OK
    assert res.data["runs"] == ("linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64")


def test_pi_zero_recommends_arm32v6(make_host):
    res = float_abi(make_host(arm_tree(PI_ZERO_CPUINFO, userland(6, 1), machine="armv6l"),
                              targets="linux/arm/v7"))
    assert res.remediation == TOOLS.format(best="linux/arm/v6", prefix="arm32v6", bad="linux/arm/v7")


def test_a_64bit_kernel_on_armv8_runs_arm64(make_host):
    res = float_abi(make_host(arm_tree(V8_CPUINFO, userland(10, 1), machine="aarch64"), targets="linux/arm64"))
    assert res.status is Status.OK and res.summary.endswith(
        "runs linux/arm/v5, linux/arm/v6, linux/arm/v7, linux/arm/v8, linux/arm64")
    assert not any("needs a 64-bit kernel" in d for d in res.details)


def test_details_of_a_soft_float_armv5_host_exactly(make_host):
    res = float_abi(make_host(arm_tree(V5_CPUINFO, userland(4, 0, SOFT), "armel", "armv5tel"),
                              targets="linux/arm/v5"))
    assert res.details == (
        "userland /bin/sh: soft-float v5TE (armel)",
        "  CPU v5TE: .ARM.attributes Tag_CPU_arch = 4",
        "  float ABI soft: .ARM.attributes Tag_ABI_VFP_args = 0",
        "dpkg native architecture: armel",
        "/proc/cpuinfo: CPU architecture 5TE, model name Feroceon 88FR131 rev 1 (v5l), VFP no, NEON no",
        "soft-float userland: containers bring their own libc, so hard-float images (arm32v6, arm32v7) still run "
        "when the CPU level and VFP allow; host-side armhf binaries need /lib/ld-linux-armhf.so.3 and armhf "
        "libraries (dpkg --add-architecture armhf)",
        "linux/arm64 needs a 64-bit kernel and an ARMv8 CPU: exec format error here (emulation only)")
    assert res.data == {"userland": "soft-float v5TE (armel)", "cpu_arch": "5TE", "float_abi": "soft",
                        "cpu_variant": "v5", "vfp": False, "neon": False, "runs": ("linux/arm/v5",),
                        "dies": ("linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64")}


def test_details_of_the_pi_zero_quirk_and_raspbian_armhf(make_host):
    res = float_abi(make_host(arm_tree(PI_ZERO_CPUINFO, userland(6, 1), machine="armv6l"), targets="linux/arm/v6"))
    assert res.details[4:] == (
        "/proc/cpuinfo: CPU architecture 7, model name ARMv6-compatible processor rev 7 (v6l), VFP yes, NEON no",
        "ARMv6 core reporting 'CPU architecture: 7' (Pi Zero/1): treated as v6, as containerd does",
        "Raspbian-style armhf (ARMv6 + VFPv2): also runs on ARMv7/v8 CPUs; Debian armhf needs ARMv7",
        "linux/arm64 needs a 64-bit kernel and an ARMv8 CPU: exec format error here (emulation only)")


@pytest.mark.parametrize("cpuinfo, line", [
    ("Features\t: vfp neon\nCPU architecture: 7\n", "VFP yes, NEON yes"),
    ("Features\t: half thumb\nCPU architecture: 7\n", "VFP no, NEON no"),
    ("CPU architecture: 7\n", "VFP unknown, NEON no"),
])
def test_vfp_and_neon_words(make_host, cpuinfo, line):
    res = float_abi(make_host(arm_tree(cpuinfo, userland(10, 0, SOFT), "armel"), targets="linux/arm/v7"))
    assert any(d.startswith("/proc/cpuinfo: CPU architecture 7, model name -, " + line) for d in res.details)
    assert not any("Pi Zero" in d or "Raspbian-style" in d for d in res.details)


@pytest.mark.parametrize("vfp_args, flags, interp, float_abi_, by", [
    (2, HARD, None, "hard", "float ABI hard: e_flags 0x5000400 (EF_ARM_ABI_FLOAT_HARD)"),
    (3, SOFT, None, "soft", "float ABI soft: e_flags 0x5000200 (EF_ARM_ABI_FLOAT_SOFT)"),
    (3, 0x05000000, "/lib/ld-linux-armhf.so.3", "hard", "float ABI hard: PT_INTERP /lib/ld-linux-armhf.so.3"),
    (2, 0x05000000, "/lib/ld-linux.so.3", "soft", "float ABI soft: PT_INTERP /lib/ld-linux.so.3"),
])
def test_tag_abi_vfp_args_2_and_3_defer_to_the_header(make_host, vfp_args, flags, interp, float_abi_, by):
    """Tag_ABI_VFP_args 2 (toolchain-specific) and 3 (compatible with both) do not say hard or soft."""
    dpkg = "armhf" if float_abi_ == "hard" else "armel"
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, userland(10, vfp_args, flags, interp), dpkg),
                              targets="linux/arm/v7"))
    assert res.status is Status.OK and res.data["float_abi"] == float_abi_
    assert f"  float ABI unknown: .ARM.attributes Tag_ABI_VFP_args = {vfp_args}" in res.details
    assert f"  {by}" in res.details
    assert res.summary.startswith(f"{float_abi_}-float v7 (")


def test_an_arm_host_without_a_readable_userland_warns(make_host):
    files = arm_tree(PI3_CPUINFO, b"#!/bin/sh\n")
    res = float_abi(make_host(files, targets="linux/arm/v7"))
    assert res.status is Status.WARN
    assert res.summary.startswith("ARM, float ABI unknown userland on an ARMv7 CPU: no readable userland ELF (")
    assert res.remediation == "Reinstall the package that owns /bin/sh (dash, bash or busybox)."


def test_arm64_userland_exactly(make_host):
    files = arm_tree("Features\t: fp asimd evtstrm\nCPU architecture: 8\n", build_elf("aarch64"), "arm64", "aarch64")
    res = float_abi(make_host(files))
    assert (res.status, res.summary) == (
        Status.OK, "64-bit ARM userland: float ABI is always hard (AAPCS64); 32-bit arm images run on the CPU's "
                   "AArch32 state if it has one (binfmt-exec proves it)")
    assert res.details == ("userland: /bin/sh is linux/arm64", "/proc/cpuinfo: CPU architecture 8, cores not named",
                           "32-bit ARM (AArch32): unknown core: 32-bit support not known from /proc/cpuinfo")
    assert res.data == {"userland": "64-bit ARM (AAPCS64)", "cpu_arch": "8", "float_abi": "hard", "cpu_variant": "v8",
                        "vfp": True, "neon": True, "runs": ALL_ARM, "dies": (), "aarch32": None, "cores": ()}


def test_arm64_by_the_kernel_alone_is_still_arm64(make_host):
    files = arm_tree("", b"#!/bin/sh\n", "arm64", "aarch64")
    res = float_abi(make_host(files))
    assert res.status is Status.OK and res.data["runs"] == ALL_ARM
    assert res.data["vfp"] is False and res.data["neon"] is False
    assert res.details[:2] == ("userland: unknown is linux/arm64", "/proc/cpuinfo: CPU architecture -, cores not named")


def test_an_unknown_machine_is_skipped_by_name(make_host):
    res = float_abi(make_host({"/proc/sys/kernel/arch": "pdp11\n", "/proc/sys/kernel/osrelease": "2.11\n"}))
    assert (res.status, res.summary) == (Status.SKIP, "not an ARM host (pdp11)")


def test_a_32bit_arm_userland_counts_even_when_the_kernel_is_unknown(make_host):
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, userland(10, 1), machine="weird"), targets="linux/arm/v7"))
    assert res.status is Status.OK and res.data["userland"] == "hard-float v7 (Debian armhf)"


def test_registered_as_the_float_abi_check_after_host_platform():
    assert (float_abi.name, float_abi.title, float_abi.category, float_abi.requires) == (
        "float-abi", "ARM float ABI", "host", ("host-platform",))


@pytest.mark.parametrize("shell, machine, summary", [
    (build_elf("i386"), "x86_64", "not an ARM host (linux/386)"),
    # an x32 userland (EM_X86_64 in a 32-bit ELF) is no 32-bit ARM userland either
    (build_elf("i386")[:18] + b"\x3e\x00" + build_elf("i386")[20:], "x86_64", "not an ARM host (linux/amd64)"),
])
def test_other_32bit_userlands_are_skipped(make_host, shell, machine, summary):
    res = float_abi(make_host(arm_tree("", shell, "none", machine)))
    assert (res.status, res.summary) == (Status.SKIP, summary)


def test_a_soft_float_v6_userland_gets_no_raspbian_note(make_host):
    res = float_abi(make_host(arm_tree(V6_VFP_CPUINFO, userland(6, 0, SOFT), "armel", "armv6l"),
                              targets="linux/arm/v6"))
    assert (res.status, res.summary) == (
        Status.OK, "soft-float v6 (armel) userland on an ARMv6 CPU: runs linux/arm/v5, linux/arm/v6")
    assert res.details[4:] == (
        "/proc/cpuinfo: CPU architecture 6, model name ARMv6, VFP yes, NEON no",
        "soft-float userland: containers bring their own libc, so hard-float images (arm32v6, arm32v7) still run "
        "when the CPU level and VFP allow; host-side armhf binaries need /lib/ld-linux-armhf.so.3 and armhf "
        "libraries (dpkg --add-architecture armhf)",
        "linux/arm64 needs a 64-bit kernel and an ARMv8 CPU: exec format error here (emulation only)")


def test_a_debian_armhf_userland_gets_no_raspbian_note(make_host):
    res = float_abi(make_host(arm_tree("", userland(10, 1), "armhf", "armv7l"), targets="linux/arm/v7"))
    assert (res.status, res.summary) == (
        Status.OK, "hard-float v7 (Debian armhf) userland on an ARMv7 CPU: runs linux/arm/v5, linux/arm/v6, "
                   "linux/arm/v7")  # CPU level from uname -m: cpuinfo says nothing
    assert res.details[3:] == (
        "dpkg native architecture: armhf",
        "/proc/cpuinfo: CPU architecture -, model name -, VFP unknown, NEON no",
        "linux/arm64 needs a 64-bit kernel and an ARMv8 CPU: exec format error here (emulation only)")


def test_arm64_is_never_the_best_32bit_variant(make_host):
    # ARMv6 without VFP, asked for v7 and arm64: v5 is the variant to build here, never arm64
    res = float_abi(make_host(arm_tree(V6_NO_VFP_CPUINFO, userland(4, 0, SOFT), "armel", "armv6l"),
                              targets="linux/arm/v7,linux/arm64"))
    assert res.data["runs"] == ("linux/arm/v5",) and "linux/arm64" in res.data["dies"]
    assert res.remediation == TOOLS.format(best="linux/arm/v5", prefix="arm32v5", bad="linux/arm/v7")


def test_an_arm64_cpu_without_aarch32_sends_arm_targets_to_emulation(make_host):
    grace = ("processor\t: 0\nFeatures\t: fp asimd evtstrm sve2\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
             "CPU variant\t: 0x0\nCPU part\t: 0xd4f\nCPU revision\t: 0\n")
    res = float_abi(make_host(arm_tree(grace, build_elf("aarch64"), "arm64", "aarch64"), targets="linux/arm/v7"))
    assert res.status is Status.OK and "cannot run 32-bit ARM code" in res.summary and "binfmt-handlers" in res.summary
    assert res.data["aarch32"] is False and res.data["cores"] == ("Neoverse-V2",)
    assert res.data["runs"] == ("linux/arm64",)


def test_only_the_dying_targets_are_named(make_host):
    res = float_abi(make_host(arm_tree(PI_ZERO_CPUINFO, userland(6, 1), machine="armv6l"),
                              targets="linux/arm/v6,linux/arm/v7,linux/amd64"))
    assert res.status is Status.FAIL and res.summary.startswith(DIES.format(
        where="hard-float v6 (Raspbian armhf) userland on an ARMv6 CPU", bad="linux/arm/v7",
        why="needs ARMv7, this CPU is ARMv6"))
