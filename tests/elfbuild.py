"""Build tiny ELF files for tests and fixture trees (headers, optional PT_INTERP, no code)."""

from __future__ import annotations

import struct

EM = {"x86_64": 62, "i386": 3, "aarch64": 183, "arm": 40, "riscv64": 243, "ppc64le": 21,
      "s390x": 22, "mips64el": 8, "mips64": 8}
CLASS = {"x86_64": 64, "i386": 32, "aarch64": 64, "arm": 32, "riscv64": 64, "ppc64le": 64,
         "s390x": 64, "mips64el": 64, "mips64": 64}
BIG = {"s390x", "mips64"}


def build_elf(arch: str, *, flags: int = 0, interp: str | None = None, e_type: int = 2) -> bytes:
    """An ELF header for ``arch`` (qemu cpu names), with a PT_INTERP segment when ``interp`` is set."""
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
    return header + (ph + payload if interp else b"")
