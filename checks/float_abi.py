"""Check the ARM userland's float ABI and CPU level against the CPU and the requested ARM targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mab_doctor.api import Context, Result, check
from mab_doctor.host.hostinfo import HostFacts, host_facts, placement
from mab_doctor.host.placement import IMPOSSIBLE, NATIVE
from mab_doctor.host.platforms import EM_ARM, parse_platform

if TYPE_CHECKING:
    from mab_doctor.host.armabi import ArmAbi

ARM_VARIANTS = ("linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8")
NEON_FEATURES = {"neon", "asimd"}


@check(name="float-abi", title="ARM float ABI", category="host", requires=("host-platform",))
def float_abi(ctx: Context) -> Result:
    """What it checks: on ARM hosts, the 32-bit userland's CPU level and float ABI (from /bin/sh's
    .ARM.attributes Tag_CPU_arch and Tag_ABI_VFP_args, else its e_flags, else its loader's own
    attributes, read where the loader symlink really leads, and only then the loader's name) against
    the CPU (/proc/cpuinfo "CPU architecture" with containerd's ARMv6 rule, and VFP/NEON in
    "Features") and dpkg; then which linux/arm/vN targets run natively here, which need emulation
    (32-bit ARM on arm64 cores without AArch32: Graviton4, Grace, Apple, ThunderX...) and which
    cannot run here at all (a higher ARM level, or hard-float images on a core without VFP).

    Why it matters: "armhf" means ARMv6+VFPv2 on Raspbian but ARMv7+VFPv3-D16 on Debian, and armel is
    soft-float. An ARMv6 CPU (Pi Zero/1) runs linux/arm/v5 and v6 images but dies with "illegal
    instruction" on linux/arm/v7 (arm32v7) ones; a Debian armhf userland cannot even boot there.

    How to fix: a target that cannot run here (FAIL) is built on another machine: no binfmt_misc
    handler can emulate it without also catching this host's own programs. Build and pull the
    variant the CPU runs (`--platform linux/arm/v6`, Docker Hub `arm32v6/...` bases on a Pi
    Zero/1), or install a userland that matches the CPU (Raspberry Pi OS on ARMv6, Debian armhf
    needs ARMv7).
    """
    facts = host_facts(ctx)
    elf = facts.userland_elf
    arm32 = elf is not None and elf.machine == EM_ARM and elf.elf_class == 32
    p = facts.platform
    if not arm32 and (p is None or p.arch not in ("arm", "arm64")):
        return Result.skip(f"not an ARM host ({p.oci if p else facts.kernel_machine})")
    features = facts.cpu.features
    vfp = bool(facts.cpu.vfp)  # the same reading the placement rule uses
    neon = bool(features & NEON_FEATURES)
    runs, dies = _verdicts(ctx)
    if not arm32 and p.arch == "arm64":
        return _arm64(ctx, facts, vfp, neon, p, runs, dies)
    abi, label, unreadable = _userland_abi(facts)
    cpu = facts.arm_variant
    cpu_level = int(cpu[1:]) if cpu else None
    user_level = int(abi.oci_variant[1:]) if abi.oci_variant else None
    details = _details(facts, abi, label, features, vfp, neon)
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
    placed = [(str(t), placement(ctx, t)) for t in ctx.targets]
    impossible = [(name, where.why) for name, where in placed if where.how == IMPOSSIBLE]
    if impossible:
        best = ([r for r in runs if r.startswith("linux/arm/")] or ["linux/arm/v5"])[-1]
        prefix = {"linux/arm/v5": "arm32v5", "linux/arm/v6": "arm32v6"}.get(best, "arm32v7")
        return Result.fail(
            f"{where}: {', '.join(t for t, _ in impossible)} cannot run here: {impossible[0][1]}",
            details=details + [f"{t}: {why}" for t, why in impossible[1:]], data=data,
            remediation=(f"Build and pull {best} for this host (`--platform {best}`, Docker Hub `{prefix}/...` "
                         f"base images), and build {', '.join(t for t, _ in impossible)} on a machine that runs them (or under "
                         f"QEMU emulation there)."))
    return Result.ok(f"{where}: runs {', '.join(runs) or 'no ARM image variant'}", details=details, data=data)


def _arm64(ctx: Context, facts: HostFacts, vfp: bool, neon: bool, p, runs: list[str], dies: list[str]) -> Result:
    """A 64-bit ARM userland: AAPCS64 is always hard-float; 32-bit ARM runs only with AArch32."""
    cpu = facts.cpu
    data = {"userland": "64-bit ARM (AAPCS64)", "cpu_arch": facts.cpu_architecture, "float_abi": "hard",
            "cpu_variant": facts.arm_variant, "vfp": vfp, "neon": neon, "runs": runs, "dies": dies,
            "aarch32": cpu.aarch32, "cores": list(cpu.cores)}
    details = [f"userland: {facts.userland_path or 'unknown'} is {p.oci if p else '64-bit ARM'}",
               f"/proc/cpuinfo: CPU architecture {facts.cpu_architecture or '-'}, cores "
               f"{', '.join(cpu.cores) or 'not named'}",
               f"32-bit ARM (AArch32): {cpu.aarch32_why}"]
    if cpu.aarch32 is False:
        wanted = [str(t) for t in ctx.targets if t.platform.arch == "arm"]
        return Result.ok("64-bit ARM userland: float ABI is always hard (AAPCS64); this CPU cannot run 32-bit "
                         "ARM code, so linux/arm/* images need a qemu-arm handler here like on x86"
                         + (f" ({', '.join(wanted)}: see binfmt-handlers)" if wanted else ""),
                         details=details, data=data)
    return Result.ok("64-bit ARM userland: float ABI is always hard (AAPCS64); 32-bit arm images run on the "
                     "CPU's AArch32 state" + ("" if cpu.aarch32 else " if it has one (binfmt-exec proves it)"),
                     details=details, data=data)


def _userland_abi(facts: HostFacts) -> tuple["ArmAbi", str, str | None]:
    """(the userland's ABI as host_facts read it, its label, None); if unreadable, what its header shows, and why."""
    from mab_doctor.host.armabi import ArmAbi, abi_label  # imported only for a 32-bit ARM userland
    abi, why = facts.arm_abi, None
    if facts.userland_elf is None:  # no probe was a readable ELF: host_facts' notes say why
        why = f"no readable userland ELF ({'; '.join(facts.evidence) or 'none found'})"
        abi = ArmAbi(None, None, None, (why,))
    elif facts.arm_abi is None:
        why = facts.arm_abi_problem or f"{facts.userland_path}: not read"
        abi = ArmAbi(None, None, facts.float_abi, (f"{why}; float ABI from the ELF header only",))
    return abi, abi_label(abi), why


def _verdicts(ctx: Context) -> tuple[list[str], list[str]]:
    """(the ARM platforms this host runs natively, those it does not), by the one placement rule."""
    runs, dies = [], []
    for oci in ARM_VARIANTS + ("linux/arm64",):
        (runs if placement(ctx, parse_platform(oci)).how == NATIVE else dies).append(oci)
    return runs, dies


def _details(f: HostFacts, abi: "ArmAbi", label: str, features: set[str], vfp: bool, neon: bool) -> list[str]:
    lines = [f"userland {f.userland_path}: {label}"] + [f"  {e}" for e in abi.evidence]
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
