"""ARM ABI facts of an ELF file: CPU architecture level and float ABI (.ARM.attributes, e_flags, loader)."""

from __future__ import annotations

import struct

from mab_doctor.core.record import record
from mab_doctor.host.elf import ELF_MAGIC, ElfError, ElfHeader, parse_header, section_bytes, section_headers
from mab_doctor.host.platforms import EM_ARM

SHT_ARM_ATTRIBUTES = 0x70000003
TAG_FILE, TAG_CPU_ARCH, TAG_ABI_VFP_ARGS, TAG_COMPATIBILITY = 1, 6, 28, 32
# Below 32, only Tag_CPU_raw_name (4) and Tag_CPU_name (5) hold strings; from 32 on, odd tags do.
_STRING_TAGS = frozenset({4, 5})
ULEB128_MAX_BYTES = 10  # 70 bits: more than any attribute value needs
# Tag_CPU_arch (tag 6) values, as readelf -A and pyelftools name them.
CPU_ARCH_NAMES = ("Pre-v4", "v4", "v4T", "v5T", "v5TE", "v5TEJ", "v6", "v6KZ", "v6T2", "v6K", "v7",
                  "v6-M", "v6S-M", "v7E-M", "v8", "v8-R", "v8-M.baseline", "v8-M.mainline")
_OCI = {"v4": "v5", "v4T": "v5", "v5T": "v5", "v5TE": "v5", "v5TEJ": "v5",
        "v6": "v6", "v6KZ": "v6", "v6T2": "v6", "v6K": "v6", "v6-M": "v6", "v6S-M": "v6",
        "v7": "v7", "v7E-M": "v7", "v8": "v8", "v8-R": "v8", "v8-M.baseline": "v8", "v8-M.mainline": "v8"}


@record
class ArmAbi:
    """What an ARM ELF says about the CPU it needs and how it passes floats."""

    cpu_arch: str | None      # Tag_CPU_arch name: "v4T", "v5TE", "v6", "v6KZ", "v7", "v8", ... or None
    oci_variant: str | None   # "v5" / "v6" / "v7" / "v8": the OCI variant that can run it (None: unknown)
    float_abi: str | None     # "hard" / "soft" / None
    evidence: tuple[str, ...] = ()  # which of .ARM.attributes / e_flags / PT_INTERP decided what


def read_arm_abi(data: bytes, *, loader_name: bool = True) -> ArmAbi:
    """Classify a 32-bit ARM ELF from its bytes (the whole file: its section headers and
    .ARM.attributes sit near the end); raises mab_doctor.host.elf.ElfError naming what is unreadable.
    ``loader_name=False``: the PT_INTERP file name is not used as a hint (the caller reads the loader)."""
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
    if float_abi is None and loader_name and header.float_abi_from_loader:
        float_abi = header.float_abi_from_loader
        evidence.append(f"float ABI {float_abi}: PT_INTERP {header.interpreter}")
    if float_abi is None and present and loader_name:  # without the name, the caller reads the loader first
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
    # The bytes are the whole file here: anything they do not reach is a truncation.
    header = parse_header(data, len(data))
    if header.machine != EM_ARM or header.elf_class != 32:
        raise ElfError(f"not a 32-bit ARM ELF (ELF{header.elf_class}, e_machine {header.machine})")
    return header


def _attributes(data: bytes, header: ElfHeader, evidence: list[str]) -> tuple[str | None, int | None, bool]:
    """(Tag_CPU_arch name, Tag_ABI_VFP_args, section present) from .ARM.attributes."""
    if header.shnum == 0 and header.shoff == 0:
        evidence.append("no section headers (header-only or stripped of them): .ARM.attributes not available")
        return None, None, False
    section = next((s for s in section_headers(data, header) if s.sh_type == SHT_ARM_ATTRIBUTES), None)
    if section is None:
        evidence.append("no .ARM.attributes section")
        return None, None, False
    values = file_attributes(section_bytes(data, header, section, ".ARM.attributes"), header.byte_order)
    arch = values.get(TAG_CPU_ARCH)
    name = None
    if arch is not None:
        name = CPU_ARCH_NAMES[arch] if arch < len(CPU_ARCH_NAMES) else f"arch {arch}"
        evidence.append(f"CPU {name}: .ARM.attributes Tag_CPU_arch = {arch}")
    else:
        evidence.append(".ARM.attributes has no Tag_CPU_arch: CPU level unknown")
    return name, values.get(TAG_ABI_VFP_ARGS), True


def file_attributes(blob: bytes, byte_order: str = "<") -> dict[int, int]:
    """The integer attributes of the "aeabi" Tag_File part of a .ARM.attributes section, {tag: value}
    (first value of each tag wins). Each (sub)section length is checked against what encloses it and
    must cover at least its own header, so every step moves forward; raises ElfError."""
    if not blob:
        raise ElfError("malformed .ARM.attributes: empty section")
    if blob[0] != ord("A"):
        raise ElfError(f"malformed .ARM.attributes: attributes version {blob[0]:#04x}, expected 0x41 ('A')")
    values: dict[int, int] = {}
    for _, start, stop in _chunks(blob, 1, len(blob), "subsection", False, byte_order):
        name_end = blob.find(b"\0", start, stop)
        if name_end < 0:
            raise ElfError(f"malformed .ARM.attributes: vendor name at byte {start} is not NUL-terminated")
        if blob[start:name_end] != b"aeabi":
            continue  # another vendor's attributes (e.g. "gnu"): not ours to read
        for tag, body, body_end in _chunks(blob, name_end + 1, stop, "sub-subsection", True, byte_order):
            if tag == TAG_FILE:
                _read_pairs(blob, body, body_end, values)
    return values


def _chunks(blob: bytes, pos: int, end: int, what: str, tagged: bool, byte_order: str):
    """(tag or None, content start, content end) of each length-prefixed chunk in blob[pos:end];
    a (sub-)subsection is [uleb128 tag when tagged][u32 length counting itself and the tag][content]."""
    while pos < end:
        tag, body = uleb128(blob, pos, end) if tagged else (None, pos)
        if end - body < 4:
            raise ElfError(f"malformed .ARM.attributes: {what} at byte {pos} is cut off before its length")
        length = struct.unpack_from(byte_order + "I", blob, body)[0]
        header_len = body + 4 - pos
        if length == 0:
            raise ElfError(f"malformed .ARM.attributes: zero-length {what} at byte {pos}")
        if length < header_len + (0 if tagged else 1):
            raise ElfError(f"malformed .ARM.attributes: {what} at byte {pos} has length {length}, "
                           f"shorter than its own header")
        if length > end - pos:
            raise ElfError(f"malformed .ARM.attributes: {what} at byte {pos} has length {length}, "
                           f"only {end - pos} bytes remain")
        yield tag, body + 4, pos + length
        pos += length


def _read_pairs(blob: bytes, pos: int, end: int, values: dict[int, int]) -> None:
    """Tag/value pairs of a Tag_File sub-subsection; string-valued tags are skipped."""
    while pos < end:
        tag, pos = uleb128(blob, pos, end)
        if tag in _STRING_TAGS or (tag >= 32 and tag % 2 == 1):
            nul = blob.find(b"\0", pos, end)
            if nul < 0:
                raise ElfError(f"malformed .ARM.attributes: the string of tag {tag} at byte {pos} "
                               f"is not NUL-terminated")
            pos = nul + 1
            continue
        value, pos = uleb128(blob, pos, end)
        if tag == TAG_COMPATIBILITY:  # a flag, then the vendor name
            nul = blob.find(b"\0", pos, end)
            if nul < 0:
                raise ElfError(f"malformed .ARM.attributes: Tag_compatibility at byte {pos} has no vendor name")
            pos = nul + 1
        values.setdefault(tag, value)


def uleb128(blob: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, next position) of the unsigned LEB128 number at ``pos``: at most 10 bytes (enough for
    64 bits) and never past ``end``; raises ElfError."""
    value = 0
    for i in range(ULEB128_MAX_BYTES):
        if pos + i >= end:
            raise ElfError(f"malformed .ARM.attributes: ULEB128 number at byte {pos} runs past its section")
        byte = blob[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise ElfError(f"malformed .ARM.attributes: ULEB128 number at byte {pos} is longer than "
                   f"{ULEB128_MAX_BYTES} bytes")
