"""Build tiny ELF files for tests and fixture trees (headers, optional PT_INTERP and .ARM.attributes, no code)."""

from __future__ import annotations

import struct

EM = {"x86_64": 62, "i386": 3, "aarch64": 183, "arm": 40, "riscv64": 243, "ppc64le": 21,
      "s390x": 22, "mips64el": 8, "mips64": 8}
CLASS = {"x86_64": 64, "i386": 32, "aarch64": 64, "arm": 32, "riscv64": 64, "ppc64le": 64,
         "s390x": 64, "mips64el": 64, "mips64": 64}
BIG = {"s390x", "mips64"}


def build_elf(arch: str, *, flags: int = 0, interp: str | None = None, e_type: int = 2,
              arm_attributes: bytes | None = None) -> bytes:
    """An ELF header for ``arch`` (qemu cpu names), with a PT_INTERP segment when ``interp`` is set
    and a `.ARM.attributes` section (plus section headers and .shstrtab) when ``arm_attributes`` is."""
    cls, e = CLASS[arch], (">" if arch in BIG else "<")
    ehsize, phentsize = (52, 32) if cls == 32 else (64, 56)
    ident = b"\x7fELF" + bytes([1 if cls == 32 else 2, 2 if arch in BIG else 1, 1, 0]) + bytes(8)
    phnum = 1 if interp else 0
    payload = (interp.encode() + b"\0") if interp else b""
    interp_off = ehsize + phentsize * phnum
    if cls == 32:
        header = ident + struct.pack(e + "HHIIIIIHHHHHH", e_type, EM[arch], 1, 0, ehsize if phnum else 0,
                                     0, flags, ehsize, phentsize, phnum, 40, 0, 0)
        ph = struct.pack(e + "IIIIIIII", 3, interp_off, 0, 0, len(payload), len(payload), 4, 1)
    else:
        header = ident + struct.pack(e + "HHIQQQIHHHHHH", e_type, EM[arch], 1, 0, ehsize if phnum else 0,
                                     0, flags, ehsize, phentsize, phnum, 64, 0, 0)
        ph = struct.pack(e + "IIQQQQQQ", 3, 4, interp_off, 0, 0, len(payload), len(payload), 1)
    body = header + (ph + payload if interp else b"")
    return body if arm_attributes is None else _with_sections(body, cls, e, arm_attributes)


SHT_STRTAB, SHT_ARM_ATTRIBUTES = 3, 0x70000003


def _with_sections(body: bytes, cls: int, e: str, attributes: bytes) -> bytes:
    """Append the attributes blob, a .shstrtab and a 3-entry section header table; patch the header."""
    names = b"\0.ARM.attributes\0.shstrtab\0"
    attr_off = len(body)
    strtab_off = attr_off + len(attributes)
    shoff = (strtab_off + len(names) + 3) & ~3
    data = body + attributes + names + bytes(shoff - strtab_off - len(names))
    fmt, shoff_at, shent_at = (e + "IIIIIIIIII", 32, 46) if cls == 32 else (e + "IIQQQQIIQQ", 40, 58)
    rows = [(0,) * 10, (1, SHT_ARM_ATTRIBUTES, 0, 0, attr_off, len(attributes), 0, 0, 1, 0),
            (17, SHT_STRTAB, 0, 0, strtab_off, len(names), 0, 0, 1, 0)]
    out = bytearray(data + b"".join(struct.pack(fmt, *row) for row in rows))
    struct.pack_into(e + ("I" if cls == 32 else "Q"), out, shoff_at, shoff)
    struct.pack_into(e + "HHH", out, shent_at, struct.calcsize(fmt), len(rows), 2)
    return bytes(out)


def uleb128(value: int) -> bytes:
    """Unsigned LEB128 encoding."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def aeabi_attributes(cpu_arch: int, vfp_args: int | None, *, little: bool = True) -> bytes:
    """A `.ARM.attributes` blob: 'A', one "aeabi" subsection, one Tag_File subsubsection holding
    Tag_CPU_arch (6) and, when given, Tag_ABI_VFP_args (28)."""
    e = "<" if little else ">"
    pairs = uleb128(6) + uleb128(cpu_arch)
    if vfp_args is not None:
        pairs += uleb128(28) + uleb128(vfp_args)
    file_sub = uleb128(1) + struct.pack(e + "I", 1 + 4 + len(pairs)) + pairs
    vendor = b"aeabi\0"
    return b"A" + struct.pack(e + "I", 4 + len(vendor) + len(file_sub)) + vendor + file_sub
