"""Check what platform this host really is: kernel, userland, ARM variant, distro."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.host.hostinfo import HostFacts, host_facts, platform_vocabulary
from mab_doctor.host.matrix import known_environment


@check(name="host-platform", title="Host platform", category="host")
def host_platform(ctx: Context) -> Result:
    """What it checks: the kernel machine (`uname -m`), the userland's own architecture (the ELF
    class and machine of /bin/sh, and dpkg's native architecture), the OCI platform Docker will call
    native (ARM variant from /proc/cpuinfo exactly as containerd computes it, including the Raspberry
    Pi Zero/1 quirk where an ARMv6 core reports "CPU architecture: 7"), and the distribution.

    Why it matters: images pulled without --platform, and every "native" verdict of the other checks,
    follow the userland, not `uname -m`. A Raspberry Pi with a 64-bit kernel and a 32-bit userland is
    an arm/v8 host to Docker, not arm64; a Pi Zero is arm/v6 and dies on arm/v7 images.

    How to fix: nothing to fix here when it is OK. On a WARN for a 64-bit kernel with a 32-bit
    userland, pass --platform explicitly: the kernel runs linux/arm64 programs natively too, but
    Docker picks the userland's 32-bit images unless told otherwise.
    """
    facts = host_facts(ctx)
    details = _evidence(facts)
    data = _data(facts)
    if facts.platform is None:
        return Result.fail(f"unknown host architecture (uname -m {facts.kernel_machine!r})",
                           details=details, data=data,
                           remediation="Report this host's `uname -m` and /proc/cpuinfo to mab-doctor.")
    p = facts.platform
    where = f"{facts.distro_name or 'unknown distro'}, kernel {facts.kernel_release}"
    if facts.kernel_bits == 64 and facts.userland_bits == 32:
        return Result.warn(
            f"64-bit kernel ({facts.kernel_machine}) with a 32-bit userland: native platform is {p.oci}",
            details=details, data=data,
            remediation=(f"Docker, dpkg and image selection follow the userland, not `uname -m`: pass --platform "
                         f"when pulling and building. The {facts.kernel_machine} kernel runs "
                         f"{facts.kernel_platform.oci if facts.kernel_platform else '64-bit'} programs natively too "
                         f"(no emulator needed), so `--platform "
                         f"{facts.kernel_platform.oci if facts.kernel_platform else 'linux/arm64'}` also works here."))
    arm32_names = ("armhf", "armel")
    same = facts.dpkg_arch == p.debian_arch or (p.arch == "arm" and facts.dpkg_arch in arm32_names)
    if facts.dpkg_arch and not same:
        return Result.warn(f"dpkg says {facts.dpkg_arch} but the userland ELF is {p.oci}",
                           details=details, data=data,
                           remediation="Check which dpkg/userland is active (a chroot or multiarch mix-up).")
    if p.arch == "arm" and facts.arm_variant is None:
        return Result.warn(f"{p.oci}: ARM variant unknown (no 'CPU architecture' in /proc/cpuinfo)",
                           details=details, data=data,
                           remediation="Pass --platform with an explicit variant (e.g. linux/arm/v7).")
    return Result.ok(f"{p.oci} ({where})", details=details, data=data)


def _evidence(f: HostFacts) -> list[str]:
    lines = [f"kernel: uname -m {f.kernel_machine}, release {f.kernel_release}"]
    lines += list(f.evidence)
    lines.append(f"dpkg native architecture: {f.dpkg_arch or 'none (no dpkg status)'}")
    if f.cpu_architecture or f.model_name:
        lines.append(f"/proc/cpuinfo: CPU architecture {f.cpu_architecture or '-'}, "
                     f"model name {f.model_name or '-'}")
    if f.cpu_architecture == "7" and f.arm_variant == "v6":
        lines.append("ARMv6 core reporting 'CPU architecture: 7' (Pi Zero/1 kernel quirk): treated as v6, "
                     "as containerd does since Docker 20.10.0; older Docker picked arm/v7 images here")
    if f.float_abi:
        lines.append(f"userland float ABI: {f.float_abi}-float")
    lines.append(f"distro: {f.distro_name or 'unknown'} (id {f.distro_id or '-'}, version "
                 f"{f.distro_version or '-'})")
    return lines


def _data(f: HostFacts) -> dict:
    env = known_environment(f.distro_id, f.distro_version)
    return {**platform_vocabulary(f), "arm_variant": f.arm_variant,
            "distro": {"id": f.distro_id, "version": f.distro_version, "name": f.distro_name},
            "known_environment": env["id"] if env else None}
