"""Minimal ELF header reading (struct only, no pyelftools needed for identity)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
# EF_ARM_ABI_FLOAT_* bits of e_flags (pyelftools constants.E_FLAGS).
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400
PT_INTERP = 3


class ElfError(ValueError):
    """Bytes that are not a (complete) ELF header."""


@dataclass(frozen=True)
class ElfHeader:
    """Identity fields of an ELF file."""

    elf_class: int      # 32 or 64
    endian: str         # "little" or "big"
    osabi: int
    e_type: int
    machine: int
    flags: int
    interpreter: str | None = None  # PT_INTERP, when the program headers were within reach

    @property
    def float_abi_from_flags(self) -> str | None:
        """'hard' / 'soft' from the EABI e_flags bits, None when neither bit is set."""
        if self.flags & EF_ARM_ABI_FLOAT_HARD:
            return "hard"
        if self.flags & EF_ARM_ABI_FLOAT_SOFT:
            return "soft"
        return None

    @property
    def float_abi_from_loader(self) -> str | None:
        """'hard' / 'soft' from glibc's ARM loader name in PT_INTERP (gcc linux-eabi.h)."""
        loader = (self.interpreter or "").rsplit("/", 1)[-1]
        return {"ld-linux-armhf.so.3": "hard", "ld-linux.so.3": "soft"}.get(loader)

    @property
    def arm_float_abi(self) -> str | None:
        """The float ABI the header alone shows: e_flags first (older toolchains set neither bit),
        then the loader name; .ARM.attributes, when present, outranks both (mab_doctor.host.armabi)."""
        return self.float_abi_from_flags or self.float_abi_from_loader


def build_header(elf_class: int, endian: str, machine: int, *, e_type: int = 2, entry: int = 0,
                 flags: int = 0, phnum: int = 0) -> bytes:
    """An ELF file header (52 or 64 bytes, SYSV OS/ABI, ELF version 1); ``phnum`` program headers,
    if any, are declared to follow it directly. The one ELF writer: binfmt masks and probes use it."""
    e = "<" if endian == "little" else ">"
    ehsize, phentsize, shentsize = (52, 32, 40) if elf_class == 32 else (64, 56, 64)
    word = "I" if elf_class == 32 else "Q"
    ident = ELF_MAGIC + bytes([1 if elf_class == 32 else 2, 1 if endian == "little" else 2, 1, 0]) + bytes(8)
    return ident + struct.pack(f"{e}HHI{word}{word}{word}IHHHHHH", e_type, machine, 1, entry,
                               ehsize if phnum else 0, 0, flags, ehsize, phentsize, phnum, shentsize, 0, 0)


def parse_header(data: bytes) -> ElfHeader:
    """Parse the ELF header (and PT_INTERP if present in ``data``); raise ElfError otherwise."""
    if len(data) < 4 or data[:4] != ELF_MAGIC:
        raise ElfError("not an ELF file")
    if len(data) < 20:
        raise ElfError(f"truncated ELF header ({len(data)} bytes)")
    cls = {1: 32, 2: 64}.get(data[4])
    endian = {1: "little", 2: "big"}.get(data[5])
    if cls is None or endian is None:
        raise ElfError(f"invalid ELF ident (class byte {data[4]}, data byte {data[5]})")
    need = 52 if cls == 32 else 64
    if len(data) < need:
        raise ElfError(f"truncated ELF header ({len(data)} of {need} bytes)")
    e = "<" if endian == "little" else ">"
    e_type, machine = struct.unpack_from(e + "HH", data, 16)
    if cls == 32:
        phoff, flags = struct.unpack_from(e + "I", data, 28)[0], struct.unpack_from(e + "I", data, 36)[0]
        phentsize, phnum = struct.unpack_from(e + "HH", data, 42)
    else:
        phoff, flags = struct.unpack_from(e + "Q", data, 32)[0], struct.unpack_from(e + "I", data, 48)[0]
        phentsize, phnum = struct.unpack_from(e + "HH", data, 54)
    header = ElfHeader(cls, endian, data[7], e_type, machine, flags)
    interp = _find_interp(data, e, cls, phoff, phentsize, phnum)
    return header if interp is None else ElfHeader(cls, endian, data[7], e_type, machine, flags, interp)


def _find_interp(data: bytes, e: str, cls: int, phoff: int, phentsize: int, phnum: int) -> str | None:
    # Program headers usually follow the ELF header directly, so the first few KiB hold PT_INTERP.
    fmt = e + ("IIIIIIII" if cls == 32 else "IIQQQQQQ")
    size = struct.calcsize(fmt)
    if phentsize < size:
        return None
    for i in range(min(phnum, 64)):
        start = phoff + i * phentsize
        if start + size > len(data):
            return None
        fields = struct.unpack_from(fmt, data, start)
        if fields[0] != PT_INTERP:
            continue
        offset, filesz = (fields[1], fields[4]) if cls == 32 else (fields[2], fields[5])
        if offset + filesz > len(data):
            return None
        return data[offset:offset + filesz].split(b"\0", 1)[0].decode("utf-8", "replace")
    return None
