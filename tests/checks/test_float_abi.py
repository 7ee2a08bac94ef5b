"""float-abi on the fixture hosts: Raspbian v6 vs Debian armhf v7 vs armel, arm64, and non-ARM."""

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


def test_pi_zero_raspbian_warns_that_v7_images_will_not_run():
    res = float_abi(host("pi-zero-raspbian"))
    assert res.status is Status.WARN
    assert "hard-float v6 (Raspbian armhf)" in res.summary and "ARMv6 CPU" in res.summary
    assert "linux/arm/v7" in res.summary and "linux/arm64" in res.summary and "illegal instruction" in res.summary
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
    assert warned.status is Status.WARN and "linux/arm/v7" in warned.summary
    assert "--platform linux/arm/v5" in warned.remediation


def test_pi4_raspbian_userland_on_an_armv8_cpu_runs_v7():
    res = float_abi(host("pi4-arm64-kernel-armhf-userland"))
    assert res.status is Status.OK
    assert res.summary.startswith("hard-float v6 (Raspbian armhf) userland on an ARMv8 CPU")
    assert "linux/arm/v7" in res.data["runs"] and "linux/arm64" in res.data["runs"] and res.data["dies"] == ()
    assert res.data["neon"] is True  # arm64-format cpuinfo says "asimd"


def test_graviton_gets_the_64bit_note():
    res = float_abi(host("graviton2-ubuntu-22.04-arm64"))
    assert res.status is Status.OK and "AAPCS64" in res.summary and "binfmt-exec" in res.summary
    assert res.data["float_abi"] == "hard" and res.data["runs"] == ("linux/arm64",)


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
                      arm_attributes=aeabi_attributes(10, 1))[:-20]
    res = float_abi(make_host(arm_tree(PI3_CPUINFO, shell), targets="linux/arm/v7"))
    assert res.status is Status.OK and res.data["float_abi"] == "hard"
    assert any("truncated" in d and "header only" in d for d in res.details)
