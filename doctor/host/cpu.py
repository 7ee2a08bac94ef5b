"""What the CPU can run besides its own instruction set: 32-bit ARM (AArch32) on arm64 cores, VFP on ARM cores."""

from __future__ import annotations

import re

from mab_doctor.core.record import record

# arm64 cores that cannot execute 32-bit ARM code at all (no AArch32 at EL0), by the
# (CPU implementer, CPU part) pair /proc/cpuinfo prints. A 32-bit linux/arm image then needs a
# qemu-arm handler, like on an x86 host. Sources per family:
#   Arm Neoverse-V2 (Graviton4, NVIDIA Grace, Google Axion): AArch64-only core, Arm Neoverse V2 TRM
#     ("AArch64 execution state at all exception levels"); Grace's cpuinfo reports part 0xd4f (LKML,
#     "arm64: ... NVIDIA Grace" boot-time thread, 2024); Graviton4 users meet "Exec format error" with
#     32-bit ARM release binaries that ran on Graviton3 (aristocratos/btop#919).
#   Arm Cortex-X2/X3/X4/X925, A715/A720/A725/A520, Neoverse-V3/N3: AArch64-only at all exception
#     levels (their Technical Reference Manuals, "Features").
#   Apple (implementer 0x61): AArch64-only (no A32/T32 since the A11 generation).
#   Cavium/Marvell ThunderX and ThunderX2, Broadcom Vulcan: no armhf on ThunderX (scaleway/image-debian#86).
#   Fujitsu A64FX, AmpereOne, Qualcomm Oryon: AArch64-only designs.
NO_AARCH32: dict[tuple[int, int | None], str] = {
    (0x41, 0xd48): "Cortex-X2", (0x41, 0xd4d): "Cortex-A715", (0x41, 0xd4e): "Cortex-X3",
    (0x41, 0xd4f): "Neoverse-V2", (0x41, 0xd80): "Cortex-A520", (0x41, 0xd81): "Cortex-A720",
    (0x41, 0xd82): "Cortex-X4", (0x41, 0xd84): "Neoverse-V3", (0x41, 0xd85): "Cortex-X925",
    (0x41, 0xd87): "Cortex-A725", (0x41, 0xd8e): "Neoverse-N3",
    (0x61, None): "Apple",
    (0x43, 0x0a1): "ThunderX", (0x43, 0x0a2): "ThunderX 81xx", (0x43, 0x0a3): "ThunderX 83xx",
    (0x43, 0x0af): "ThunderX2", (0x42, 0x516): "Vulcan",
    (0x46, 0x001): "A64FX", (0xc0, 0xac3): "AmpereOne", (0xc0, 0xac4): "AmpereOne",
    (0xc0, 0xac5): "AmpereOne", (0x51, 0x001): "Oryon",
}
# arm64 cores known to run 32-bit ARM code at EL0 (Graviton2 = Neoverse-N1 and Graviton3 =
# Neoverse-V1 among them: Arm TRM "Features"; N1 cited in bitcoin-core/secp256k1#1163).
WITH_AARCH32: dict[tuple[int, int], str] = {
    (0x41, 0xd03): "Cortex-A53", (0x41, 0xd04): "Cortex-A35", (0x41, 0xd05): "Cortex-A55",
    (0x41, 0xd07): "Cortex-A57", (0x41, 0xd08): "Cortex-A72", (0x41, 0xd09): "Cortex-A73",
    (0x41, 0xd0a): "Cortex-A75", (0x41, 0xd0b): "Cortex-A76", (0x41, 0xd0c): "Neoverse-N1",
    (0x41, 0xd0d): "Cortex-A77", (0x41, 0xd40): "Neoverse-V1", (0x41, 0xd41): "Cortex-A78",
    (0x41, 0xd44): "Cortex-X1", (0x41, 0xd47): "Cortex-A710", (0x41, 0xd49): "Neoverse-N2",
}
# cpuinfo "Features": 32-bit kernels name the VFP version; arm64 ones say "fp" (ARMv8 floating point).
VFP_LEVELS = (("vfpv4", 4), ("fp", 4), ("vfpv3", 3), ("vfpv3d16", 3), ("vfpd32", 3), ("vfp", 2))
_FIELD = re.compile(r"^\s*(CPU implementer|CPU part|Features|processor)\s*:\s*(.*)$", re.IGNORECASE)


@record
class CpuFacts:
    """The CPU's abilities that decide where a 32-bit ARM target runs, each with why it is believed."""

    aarch32: bool | None = None     # arm64 CPUs: runs 32-bit ARM code natively (None: unknown)
    aarch32_why: str = ""
    vfp: int | None = None          # ARM CPUs: VFP version 2, 3 or 4 (arm64's "fp": 4); 0 none; None unknown
    cores: tuple[str, ...] = ()     # the distinct cores named, "Neoverse-V2" or "0x41/0xd4f"
    arm_level: int | None = None    # ARM CPUs: the architecture level (4..8) containerd's rule gives
    features: frozenset[str] = frozenset()  # ARM CPUs: the first "Features" line's words, lower case


def _parts(cpuinfo: str) -> list[tuple[int, int]]:
    """(implementer, part) of every processor block that names both."""
    found, implementer = [], None
    for line in cpuinfo.splitlines():
        m = _FIELD.match(line)
        if not m:
            continue
        key, value = m.group(1).lower(), m.group(2).strip()
        try:
            number = int(value, 0)
        except ValueError:
            continue
        if key == "cpu implementer":
            implementer = number
        elif key == "cpu part" and implementer is not None:
            found.append((implementer, number))
            implementer = None
    return found


def _name(pair: tuple[int, int]) -> str:
    return NO_AARCH32.get(pair) or NO_AARCH32.get((pair[0], None)) or WITH_AARCH32.get(pair) \
        or f"{pair[0]:#04x}/{pair[1]:#05x}"


def cpu_facts(cpuinfo: str, *, kernel_machine: str, kernel_release: str, personality: bool | None = None) -> CpuFacts:
    """What ``cpuinfo`` (and on a live arm64 host, ``personality``: whether the kernel accepted the
    32-bit personality) says. The live answer outranks the tables; a 64 KiB-page kernel has no
    32-bit support whatever the CPU (arm64 Kconfig: COMPAT needs 4K pages)."""
    pairs = list(dict.fromkeys(_parts(cpuinfo)))
    cores = tuple(_name(p) for p in pairs)
    features = _features(cpuinfo)
    vfp = next((level for token, level in VFP_LEVELS if token in features), 0) if features else None

    def facts(aarch32: bool | None, why: str) -> CpuFacts:
        return CpuFacts(aarch32, why, vfp, cores, features=features)

    if kernel_machine == "aarch64":
        if personality is not None:
            why = "the kernel accepts the 32-bit personality (setarch linux32)" if personality else \
                "the kernel refuses the 32-bit personality (setarch linux32: Invalid argument)"
            return facts(personality, why)
        if re.search(r"[-+.]64k\b", kernel_release):
            return facts(False, f"kernel {kernel_release} uses 64 KiB pages: no 32-bit support")
        missing = [p for p in pairs if p in NO_AARCH32 or (p[0], None) in NO_AARCH32]
        if missing:
            return facts(False, f"{_name(missing[0])} cores have no AArch32 (32-bit ARM) state")
        if pairs and all(p in WITH_AARCH32 for p in pairs):
            return facts(True, f"{', '.join(cores)}: cores with AArch32")
        return facts(None, "unknown core: 32-bit support not known from /proc/cpuinfo")
    return facts(None, "")


def _features(cpuinfo: str) -> frozenset[str]:
    """The words of the first Features line (none: x86 says "flags")."""
    for line in cpuinfo.splitlines():
        m = _FIELD.match(line)
        if m and m.group(1).lower() == "features":
            return frozenset(m.group(2).lower().split())
    return frozenset()
