"""Where a target runs on this host: natively, through an emulator, or not at all; one rule for every check."""

from __future__ import annotations


from mab_doctor.core.record import record
from mab_doctor.host.cpu import CpuFacts
from mab_doctor.host.platforms import Platform, Target, runs_natively

NATIVE, EMULATED, IMPOSSIBLE = "native", "emulated", "impossible"


@record
class Placement:
    """How this host runs a target, and why: the one answer the header, `platform` and checks share."""

    how: str      # NATIVE, EMULATED or IMPOSSIBLE
    why: str


def place(target: Target, *, host: Platform | None, kernel: Platform | None, cpu: CpuFacts) -> Placement:
    """``host`` is the userland's platform, ``kernel`` the one of `uname -m`."""
    want = target.platform
    if host is None:
        return Placement(EMULATED, "this host's own platform is unknown")
    if want.arch == "arm" and host.arch == "arm" and (kernel is None or kernel.arch != "arm64"):
        return _arm32(want, host, cpu)  # even the host's own variant: its images are hard-float
    if want == host:
        return Placement(NATIVE, "this host's own platform")
    if kernel is not None and want == kernel and kernel.arch in ("arm64", "amd64"):
        # A Raspberry Pi with the 64-bit kernel under a 32-bit userland runs arm64 programs itself.
        return Placement(NATIVE, f"the {kernel.arch} kernel runs it itself (the userland is {host.oci})")
    if want.arch == "arm" and (host.arch == "arm64" or (kernel is not None and kernel.arch == "arm64")):
        if host.arch == "arm":  # a 32-bit ARM userland already runs on this CPU: it has AArch32
            return Placement(NATIVE, f"the {host.oci} userland itself runs on this CPU's AArch32 state")
        if cpu.aarch32 is False:
            return Placement(EMULATED, f"{cpu.aarch32_why}: 32-bit ARM needs a qemu-arm handler here")
        sure = cpu.aarch32_why if cpu.aarch32 else "AArch32 assumed (binfmt-exec proves it)"
        return Placement(NATIVE, f"the CPU's AArch32 state ({sure})")
    if runs_natively(host, target):
        return Placement(NATIVE, f"a {host.oci} host runs {want.oci} programs itself")
    return Placement(EMULATED, f"a {host.oci} host needs QEMU for {want.oci}")


def _arm32(want: Platform, host: Platform, cpu: CpuFacts) -> Placement:
    # On a 32-bit ARM kernel no binfmt_misc handler can take only the higher variant's programs: they
    # share e_machine with the host's own, so a qemu-arm handler would capture those too.
    need, have = want.arm_level or 0, cpu.arm_level or host.arm_level or 0
    if need > have:
        return Placement(IMPOSSIBLE, f"needs ARMv{need}, this CPU is ARMv{have}: \"illegal instruction\", and no "
                                     f"handler can emulate it without also catching this host's own programs")
    if need >= 6 and cpu.vfp == 0:
        return Placement(IMPOSSIBLE, f"{want.oci} images are hard-float (VFP), and /proc/cpuinfo lists no VFP "
                                     f"for this CPU: only soft-float linux/arm/v5 (armel) runs here")
    return Placement(NATIVE, f"ARMv{have} runs ARMv{need} programs" + (f" (VFPv{cpu.vfp})" if cpu.vfp else ""))
