"""Check the ARM userland's float ABI and CPU level against the CPU and the requested ARM targets."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.host.armabi import ArmAbi, abi_label, read_arm_abi
from mab_doctor.host.elf import ElfError
from mab_doctor.host.hostinfo import HostFacts, cpuinfo_field, host_facts
from mab_doctor.host.platforms import EM_ARM

ARM_VARIANTS = ("linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8")
VFP_FEATURES = {"vfp", "vfpv3", "vfpv3d16", "vfpv4", "vfpd32", "fp"}  # "fp": arm64-format cpuinfo
NEON_FEATURES = {"neon", "asimd"}


@check(name="float-abi", title="ARM float ABI", category="host", requires=("host-platform",))
def float_abi(ctx: Context) -> Result:
    """What it checks: on ARM hosts, the 32-bit userland's CPU level and float ABI (from /bin/sh's
    .ARM.attributes Tag_CPU_arch and Tag_ABI_VFP_args, else its e_flags, else its loader name) against
    the CPU (/proc/cpuinfo "CPU architecture" with containerd's ARMv6 rule, and VFP/NEON in
    "Features") and dpkg; then which linux/arm/vN targets run natively here and which die.

    Why it matters: "armhf" means ARMv6+VFPv2 on Raspbian but ARMv7+VFPv3-D16 on Debian, and armel is
    soft-float. An ARMv6 CPU (Pi Zero/1) runs linux/arm/v5 and v6 images but dies with "illegal
    instruction" on linux/arm/v7 (arm32v7) ones; a Debian armhf userland cannot even boot there.

    How to fix: build and pull the variant the CPU runs (`--platform linux/arm/v6`, Docker Hub
    `arm32v6/...` bases on a Pi Zero/1), build higher variants on another machine, or install a
    userland that matches the CPU (Raspberry Pi OS on ARMv6, Debian armhf needs ARMv7).
    """
    facts = host_facts(ctx)
    elf = facts.userland_elf
    arm32 = elf is not None and elf.machine == EM_ARM and elf.elf_class == 32
    p = facts.platform
    if not arm32 and (p is None or p.arch not in ("arm", "arm64")):
        return Result.skip(f"not an ARM host ({p.oci if p else facts.kernel_machine})")
    cpuinfo = ctx.read_text("/proc/cpuinfo") or ""
    features = set((cpuinfo_field(cpuinfo, "Features") or "").lower().split())
    vfp, neon = bool(features & VFP_FEATURES), bool(features & NEON_FEATURES)
    if not arm32 and p.arch == "arm64":
        return _arm64(facts, vfp, neon, p)
    abi, unreadable = _userland_abi(ctx, facts)
    label = abi_label(abi)
    cpu = facts.arm_variant
    cpu_level = int(cpu[1:]) if cpu else None
    user_level = int(abi.oci_variant[1:]) if abi.oci_variant else None
    runs, dies = _verdicts(cpu_level, vfp or not features, facts.kernel_bits == 64)
    details = _details(facts, abi, features, vfp, neon)
    data = {"userland": label, "cpu_arch": facts.cpu_architecture, "float_abi": abi.float_abi,
            "cpu_variant": cpu, "vfp": vfp, "neon": neon, "runs": runs, "dies": dies}
    where = f"{label} userland on an ARM{cpu or '?'} CPU"
    if elf is None:  # an ARM host by dpkg or the kernel, but no userland ELF could be read
        return Result.warn(f"{where}: {unreadable}", details=details, data=data,
                           remediation="Reinstall the package that owns /bin/sh (dash, bash or busybox).")
    if unreadable:  # the header still tells the float ABI: judge by it, and say so
        where += f" ({unreadable}; float ABI from the ELF header only)"
    if cpu_level is not None and user_level is not None and user_level > cpu_level:
        return Result.fail(f"{where}: the userland needs ARM{abi.oci_variant}, more than this CPU has",
                           details=details, data=data,
                           remediation="Install a userland built for this CPU (Raspberry Pi OS / Raspbian "
                                       "armhf for ARMv6, Debian armel for ARMv5).")
    if abi.float_abi == "hard" and features and not vfp:
        return Result.fail(f"{where}: hard-float userland but /proc/cpuinfo lists no VFP",
                           details=details, data=data,
                           remediation="Install a soft-float (armel) userland on this CPU.")
    wrong_dpkg = {"hard": "armel", "soft": "armhf"}.get(abi.float_abi or "")
    if wrong_dpkg and facts.dpkg_arch == wrong_dpkg:
        return Result.warn(f"dpkg says {wrong_dpkg} but {facts.userland_path} is {abi.float_abi}-float",
                           details=details, data=data,
                           remediation="Check which dpkg/userland is active (a chroot or a mixed install).")
    targets = [str(t) for t in ctx.targets if t.platform.arch in ("arm", "arm64")]
    bad_arm = [t for t in targets if t in dies and t.startswith("linux/arm/")]
    if bad_arm:
        bad = bad_arm + [t for t in targets if t in dies and t not in bad_arm]
        best = runs[-1] if runs and runs[-1].startswith("linux/arm/") else "linux/arm/v5"
        prefix = {"linux/arm/v5": "arm32v5", "linux/arm/v6": "arm32v6"}.get(best, "arm32v7")
        return Result.warn(
            f"{where}: {', '.join(bad)} will not run natively here (illegal instruction / exec format error)",
            details=details, data=data,
            remediation=(f"Build and pull {best} for this host (`--platform {best}`, Docker Hub `{prefix}/...` "
                         f"base images), and build {', '.join(bad)} on a machine that runs them (or under "
                         f"QEMU emulation there)."))
    return Result.ok(f"{where}: runs {', '.join(runs) or 'no ARM image variant'}", details=details, data=data)


def _arm64(facts: HostFacts, vfp: bool, neon: bool, p) -> Result:
    """A 64-bit ARM userland: AAPCS64 is always hard-float; AArch32 support is not visible in cpuinfo."""
    data = {"userland": "64-bit ARM (AAPCS64)", "cpu_arch": facts.cpu_architecture, "float_abi": "hard",
            "cpu_variant": facts.arm_variant, "vfp": vfp, "neon": neon, "runs": ["linux/arm64"], "dies": []}
    details = [f"userland: {facts.userland_path or 'unknown'} is {p.oci if p else '64-bit ARM'}",
               f"/proc/cpuinfo: CPU architecture {facts.cpu_architecture or '-'}",
               "32-bit linux/arm/v5..v8 images need AArch32 (EL0) support in the CPU, which /proc/cpuinfo does "
               "not show (Cavium ThunderX, Apple M1 and others lack it); the binfmt-exec check proves it by "
               "running one"]
    return Result.ok("64-bit ARM userland: float ABI is always hard (AAPCS64); 32-bit arm images run only "
                     "if the CPU has AArch32 (binfmt-exec proves it)", details=details, data=data)


def _userland_abi(ctx: Context, facts: HostFacts) -> tuple[ArmAbi, str | None]:
    """(read_arm_abi over the userland file, None); when it is unreadable, what the header host_facts
    already read shows, and why."""
    if facts.userland_elf is None:  # no probe was a readable ELF: host_facts' notes say why
        why = f"no readable userland ELF ({'; '.join(facts.evidence) or 'none found'})"
        return ArmAbi(None, None, None, (why,)), why
    data = ctx.read_bytes(facts.userland_path or "/bin/sh", 4 << 20) or b""
    try:
        return read_arm_abi(data), None
    except ElfError as exc:
        why = f"{facts.userland_path} is not a readable ELF file: {exc}"
        return ArmAbi(None, None, facts.float_abi, (f"{why}; float ABI from the ELF header only",)), why


def _verdicts(cpu_level: int | None, vfp: bool, kernel64: bool) -> tuple[list[str], list[str]]:
    """(OCI platforms that run natively, those that die) for this CPU level, VFP and kernel width."""
    if cpu_level is None:
        return [], []
    runs, dies = [], []
    for oci in ARM_VARIANTS:
        level = int(oci[-1])
        # Docker's arm32v6/arm32v7 images are hard-float (VFP); only v5 (armel) runs without VFP.
        (runs if level <= cpu_level and (vfp or level == 5) else dies).append(oci)
    (runs if kernel64 and cpu_level >= 8 else dies).append("linux/arm64")
    return runs, dies


def _details(f: HostFacts, abi: ArmAbi, features: set[str], vfp: bool, neon: bool) -> list[str]:
    lines = [f"userland {f.userland_path}: {abi_label(abi)}"] + [f"  {e}" for e in abi.evidence]
    lines.append(f"dpkg native architecture: {f.dpkg_arch or 'none'}")
    lines.append(f"/proc/cpuinfo: CPU architecture {f.cpu_architecture or '-'}, model name {f.model_name or '-'}, "
                 f"VFP {'yes' if vfp else 'no' if features else 'unknown'}, NEON {'yes' if neon else 'no'}")
    if f.cpu_architecture == "7" and f.arm_variant == "v6":
        lines.append("ARMv6 core reporting 'CPU architecture: 7' (Pi Zero/1): treated as v6, as containerd does")
    if abi.float_abi == "soft":
        lines.append("soft-float userland: containers bring their own libc, so hard-float images (arm32v6, "
                     "arm32v7) still run when the CPU level and VFP allow; host-side armhf binaries need "
                     "/lib/ld-linux-armhf.so.3 and armhf libraries (dpkg --add-architecture armhf)")
    if abi.oci_variant == "v6" and abi.float_abi == "hard":
        lines.append("Raspbian-style armhf (ARMv6 + VFPv2): also runs on ARMv7/v8 CPUs; Debian armhf needs ARMv7")
    if f.kernel_bits != 64:
        lines.append("linux/arm64 needs a 64-bit kernel and an ARMv8 CPU: exec format error here (emulation only)")
    return lines
