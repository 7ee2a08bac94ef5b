"""ARM ABI facts of an ELF file: CPU architecture level and float ABI (.ARM.attributes, e_flags, loader)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from mab_doctor.host.elf import ELF_MAGIC, ElfError, ElfHeader, parse_header
from mab_doctor.host.platforms import EM_ARM
# Tag_CPU_arch (tag 6) values, as readelf -A and pyelftools name them.
CPU_ARCH_NAMES = ("Pre-v4", "v4", "v4T", "v5T", "v5TE", "v5TEJ", "v6", "v6KZ", "v6T2", "v6K", "v7",
                  "v6-M", "v6S-M", "v7E-M", "v8", "v8-R", "v8-M.baseline", "v8-M.mainline")
_OCI = {"v4": "v5", "v4T": "v5", "v5T": "v5", "v5TE": "v5", "v5TEJ": "v5",
        "v6": "v6", "v6KZ": "v6", "v6T2": "v6", "v6K": "v6", "v6-M": "v6", "v6S-M": "v6",
        "v7": "v7", "v7E-M": "v7", "v8": "v8", "v8-R": "v8", "v8-M.baseline": "v8", "v8-M.mainline": "v8"}


@dataclass(frozen=True)
class ArmAbi:
    """What an ARM ELF says about the CPU it needs and how it passes floats."""

    cpu_arch: str | None      # Tag_CPU_arch name: "v4T", "v5TE", "v6", "v6KZ", "v7", "v8", ... or None
    oci_variant: str | None   # "v5" / "v6" / "v7" / "v8": the OCI variant that can run it (None: unknown)
    float_abi: str | None     # "hard" / "soft" / None
    evidence: tuple[str, ...] = ()  # which of .ARM.attributes / e_flags / PT_INTERP decided what


def read_arm_abi(data: bytes) -> ArmAbi:
    """Classify a 32-bit ARM ELF from its bytes (the whole file, or enough of it to hold the
    .ARM.attributes section); raises mab_doctor.host.elf.ElfError for unreadable input."""
    header = _header(data)
    evidence: list[str] = []
    cpu_arch, vfp_args, present = _attributes(data, header, evidence)
    float_abi = None
    if vfp_args is not None:
        float_abi = "hard" if vfp_args == 1 else "soft" if vfp_args == 0 else None
        evidence.append(f"float ABI {float_abi or 'unknown'}: .ARM.attributes Tag_ABI_VFP_args = {vfp_args}")
    if float_abi is None and header.float_abi_from_flags:
        float_abi = header.float_abi_from_flags
        evidence.append(f"float ABI {float_abi}: e_flags {header.flags:#x} "
                        f"(EF_ARM_ABI_FLOAT_{float_abi.upper()})")
    if float_abi is None and header.float_abi_from_loader:
        float_abi = header.float_abi_from_loader
        evidence.append(f"float ABI {float_abi}: PT_INTERP {header.interpreter}")
    if float_abi is None and present:
        float_abi = "soft"
        evidence.append("float ABI soft: .ARM.attributes without Tag_ABI_VFP_args (default 0, base AAPCS)")
    if float_abi is None:
        evidence.append("float ABI unknown: no Tag_ABI_VFP_args, no float bit in e_flags, no known loader")
    variant = _OCI.get(cpu_arch) if cpu_arch else None
    if cpu_arch == "v6T2":
        evidence.append("v6T2 may use Thumb-2 instructions, which the ARM1176 (Pi 1/Zero, ARMv6KZ) lacks")
    return ArmAbi(cpu_arch, variant, float_abi, tuple(evidence))


def abi_label(abi: ArmAbi) -> str:
    """Human label: 'hard-float v7 (Debian armhf)', 'hard-float v6 (Raspbian armhf)', 'soft-float v5TE (armel)'."""
    level = abi.cpu_arch or abi.oci_variant
    if abi.float_abi == "soft":
        return f"soft-float {level} (armel)" if level else "soft-float (armel)"
    if abi.float_abi == "hard":
        kind = {"v5": "armhf below ARMv6", "v6": "Raspbian armhf", "v7": "Debian armhf",
                "v8": "armhf for ARMv8 AArch32"}.get(abi.oci_variant or "", "armhf, CPU level unknown")
        return f"hard-float {level} ({kind})" if level else f"hard-float ({kind})"
    return f"{level} ARM, float ABI unknown" if level else "ARM, float ABI unknown"


def _header(data: bytes) -> ElfHeader:
    if not data:
        raise ElfError("empty input: no ELF header (truncated read?)")
    if len(data) < 4 and ELF_MAGIC.startswith(data):
        raise ElfError(f"truncated ELF header ({len(data)} bytes)")
    header = parse_header(data)  # "not an ELF file" / "truncated ELF header (n of 52 bytes)" / ident errors
    if header.machine != EM_ARM or header.elf_class != 32:
        raise ElfError(f"not a 32-bit ARM ELF (ELF{header.elf_class}, e_machine {header.machine})")
    return header


def _attributes(data: bytes, header: ElfHeader, evidence: list[str]) -> tuple[str | None, int | None, bool]:
    """(Tag_CPU_arch name, Tag_ABI_VFP_args, section present) from .ARM.attributes."""
    from elftools.common.exceptions import ELFError

    e = "<" if header.endian == "little" else ">"
    shoff = struct.unpack_from(e + "I", data, 32)[0]
    shentsize, shnum = struct.unpack_from(e + "HH", data, 46)
    if shoff == 0 or shnum == 0:
        evidence.append("no section headers (header-only or stripped of them): .ARM.attributes not available")
        return None, None, False
    if shoff + shentsize * shnum > len(data):
        raise ElfError(f"truncated: section headers end at byte {shoff + shentsize * shnum}, "
                       f"only {len(data)} bytes given")
    try:
        from elftools.elf.elffile import ELFFile

        elf = ELFFile(io.BytesIO(data))
        section = next((s for s in elf.iter_sections() if s["sh_type"] == "SHT_ARM_ATTRIBUTES"), None)
        if section is None:
            evidence.append("no .ARM.attributes section")
            return None, None, False
        end = section["sh_offset"] + section["sh_size"]
        if end > len(data):
            raise ElfError(f"truncated: .ARM.attributes ends at byte {end}, only {len(data)} bytes given")
        values: dict[str, int] = {}
        for sub in section.iter_subsections("aeabi"):
            for subsub in sub.iter_subsubsections("TAG_FILE"):
                for attr in subsub.iter_attributes():
                    if attr.tag in ("TAG_CPU_ARCH", "TAG_ABI_VFP_ARGS"):
                        values.setdefault(attr.tag, attr.value)
    except (ELFError, ValueError, struct.error, KeyError, EOFError) as exc:
        if isinstance(exc, ElfError):
            raise
        raise ElfError(f"malformed or truncated ELF sections: {exc}") from exc
    arch = values.get("TAG_CPU_ARCH")
    name = None
    if arch is not None:
        name = CPU_ARCH_NAMES[arch] if arch < len(CPU_ARCH_NAMES) else f"arch {arch}"
        evidence.append(f"CPU {name}: .ARM.attributes Tag_CPU_arch = {arch}")
    else:
        evidence.append(".ARM.attributes has no Tag_CPU_arch: CPU level unknown")
    return name, values.get("TAG_ABI_VFP_ARGS"), True
