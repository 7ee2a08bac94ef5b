"""Check whether mab-doctor itself runs under user-mode emulation (a foreign container under QEMU)."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.host.elf import ElfError, parse_header
from mab_doctor.host.hostinfo import cpuinfo_field
from mab_doctor.host.platforms import Platform, from_elf

# ISA family of each OCI architecture, and the /proc/cpuinfo fields only that family's kernel prints.
FAMILY = {"amd64": "x86", "386": "x86", "arm64": "arm", "arm": "arm", "s390x": "s390", "ppc64le": "power",
          "riscv64": "riscv", "mips64le": "mips", "mips64": "mips", "loong64": "loongarch"}


def cpuinfo_family(cpuinfo: str) -> str | None:
    """The ISA family whose kernel wrote this /proc/cpuinfo (None when it cannot tell)."""
    vendor = (cpuinfo_field(cpuinfo, "vendor_id") or "").lower()
    if "s390" in vendor or cpuinfo_field(cpuinfo, "bogomips per cpu"):
        return "s390"
    if vendor or " fpu " in f" {cpuinfo_field(cpuinfo, 'flags') or ''} ":
        return "x86"
    if cpuinfo_field(cpuinfo, "CPU implementer") or cpuinfo_field(cpuinfo, "CPU architecture"):
        return "arm"
    if "power" in (cpuinfo_field(cpuinfo, "cpu") or "").lower():
        return "power"
    if (cpuinfo_field(cpuinfo, "isa") or "").startswith("rv"):
        return "riscv"
    if "mips" in (cpuinfo_field(cpuinfo, "cpu model") or "").lower():
        return "mips"
    if "loongson" in cpuinfo.lower():
        return "loongarch"
    return None


def emulation_signals(process: Platform, cpuinfo: str) -> list[str]:
    """Reasons to believe a process of ``process``'s platform runs on a CPU of another ISA."""
    cpu = cpuinfo_family(cpuinfo)
    mine = FAMILY.get(process.arch)
    if cpu and mine and cpu != mine:
        return [f"this process is a {process.oci} ELF ({mine}) but /proc/cpuinfo describes {cpu} hardware: "
                f"a user-mode emulator (QEMU) translates every instruction"]
    return []


@check(name="emulation-self", title="mab-doctor itself emulated?", category="host")
def emulation_self(ctx: Context) -> Result:
    """What it checks: whether this very process runs under user-mode emulation, e.g. in an arm64
    container on an x86_64 machine: the machine of its own executable (/proc/self/exe) is compared
    with the CPU that /proc/cpuinfo describes (QEMU user mode passes the real CPU's cpuinfo through,
    while `uname -m` reports the emulated machine and agrees with the binary).

    Why it matters: everything measured here (which binaries run, timings, crashes) is what QEMU
    does, not what real hardware of that architecture does: "it worked in testing" until deploy.

    How to fix: run mab-doctor on the real host (outside the emulated container) for host verdicts,
    and test images on real hardware of the target architecture before relying on them.
    """
    if not ctx.is_live:
        return Result.skip("a --root tree has no running process to examine")
    try:
        header = parse_header(ctx.read_bytes("/proc/self/exe", 8192) or b"")
    except ElfError as exc:
        return Result.warn(f"cannot read this process's own executable: {exc}",
                           remediation="Run mab-doctor where /proc is mounted.")
    process = from_elf(header.machine, header.elf_class, header.endian)
    cpuinfo = ctx.read_text("/proc/cpuinfo") or ""
    family = cpuinfo_family(cpuinfo)
    details = [f"/proc/self/exe: {process.oci if process else f'e_machine {header.machine}'}",
               f"/proc/cpuinfo describes: {family or 'unknown'} CPU", f"uname -m: {ctx.uname.machine}"]
    data = {"process": process.oci if process else None, "cpu_family": family, "uname_machine": ctx.uname.machine}
    if process is None or family is None:
        return Result.ok("cannot tell (unknown executable or cpuinfo format); assuming native",
                         details=details, data=data)
    signals = emulation_signals(process, cpuinfo)
    if signals:
        return Result.warn(f"mab-doctor runs emulated: {process.oci} on {family} hardware; results, timings and "
                           f"crashes here will differ on real hardware", details=details + signals,
                           data={**data, "emulated": True},
                           remediation="Run mab-doctor on the real host for host verdicts, and test images on "
                                       "real hardware of the target architecture.")
    return Result.ok(f"native: a {process.oci} process on {family} hardware", details=details,
                     data={**data, "emulated": False})
