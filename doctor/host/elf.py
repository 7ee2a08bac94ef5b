"""Bounded ELF reading: identity header, PT_INTERP and section headers, safe on crafted files.

Every offset and length is checked against the bytes at hand before it is used, table counts are
capped, and nothing is allocated from a size the file declares: a damaged or hostile file gives an
ElfError naming the problem, never a hang, a traceback or a huge read.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from mab_doctor.core.record import record
from mab_doctor.host import platforms

ELF_MAGIC = b"\x7fELF"
# EF_ARM_ABI_FLOAT_* bits of e_flags (pyelftools constants.E_FLAGS).
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400
PT_INTERP = 3
SHT_NOBITS = 8
MAX_TABLE_ENTRIES = 4096   # more program or section headers than any real program has
MAX_INTERP = 4096          # PATH_MAX: a longer PT_INTERP is no path the kernel would open

# (ELF header size, program header size, section header size, header fields after e_machine)
_LAYOUT = {32: (52, 32, 40, "IIIIIHHHHHH"), 64: (64, 56, 64, "IQQQIHHHHHH")}


class ElfError(ValueError):
    """Bytes that are not a readable ELF file; the message names the problem."""


class TruncatedElf(ElfError):
    """The file ends before a table its header promises: a cut-off copy, not a program."""


@record
class ElfHeader:
    """Identity fields of an ELF file, and where its header tables are."""

    elf_class: int      # 32 or 64
    endian: str         # "little" or "big"
    osabi: int
    e_type: int
    machine: int
    flags: int
    interpreter: str | None = None  # PT_INTERP path; "" when the segment holds no bytes (debug info files)
    interpreter_known: bool = True  # False: the bytes given stop before PT_INTERP could be read
    phoff: int = 0
    phnum: int = 0
    phentsize: int = 0
    shoff: int = 0
    shnum: int = 0
    shentsize: int = 0

    @property
    def byte_order(self) -> str:
        """The struct prefix for this file's byte order."""
        return "<" if self.endian == "little" else ">"

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


@record
class Section:
    """One section header: its type and the file bytes it covers."""

    index: int
    sh_type: int
    offset: int
    size: int


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


def parse_header(data: bytes, size: int | None = None) -> ElfHeader:
    """The ELF header of ``data`` and its PT_INTERP; raise ElfError for anything unreadable.

    ``data`` may be only the first bytes of the file: ``size`` is then the whole file's length when
    known. What lies past ``size`` is an error (truncated or lying file); what lies past ``data``
    but maybe inside the file is unknown (``interpreter_known`` False), not an error."""
    if len(data) < 4 or data[:4] != ELF_MAGIC:
        raise ElfError("not an ELF file")
    cls = {1: 32, 2: 64}.get(data[4]) if len(data) > 4 else None
    endian = {1: "little", 2: "big"}.get(data[5]) if len(data) > 5 else None
    if len(data) < 16:
        raise ElfError(f"truncated ELF header ({len(data)} bytes)")
    if cls is None or endian is None:
        raise ElfError(f"invalid ELF ident (class byte {data[4]}, data byte {data[5]})")
    ehsize, ph_min, sh_min, rest = _LAYOUT[cls]
    if len(data) < ehsize:
        raise ElfError(f"truncated ELF header ({len(data)} of {ehsize} bytes)")
    e = "<" if endian == "little" else ">"
    e_type, machine = struct.unpack_from(e + "HH", data, 16)
    _version, _entry, phoff, shoff, flags, _ehsize, phentsize, phnum, shentsize, shnum, _shstrndx = \
        struct.unpack_from(e + rest, data, 20)
    for what, off, count, entsize, least in (("program", phoff, phnum, phentsize, ph_min),
                                             ("section", shoff, shnum, shentsize, sh_min)):
        _check_table(what, off, count, entsize, least, ehsize, size)
    header = ElfHeader(cls, endian, data[7], e_type, machine, flags, phoff=phoff, phnum=phnum,
                       phentsize=phentsize, shoff=shoff, shnum=shnum, shentsize=shentsize)
    interp, known = _find_interp(data, header, size)
    return replace(header, interpreter=interp, interpreter_known=known)


def _check_table(what: str, off: int, count: int, entsize: int, least: int, ehsize: int,
                 size: int | None) -> None:
    """A header table must be plausible in count and entry size and lie after the ELF header."""
    if count == 0:
        return
    if count > MAX_TABLE_ENTRIES:
        raise ElfError(f"implausible {what} header count {count} (more than {MAX_TABLE_ENTRIES})")
    if entsize < least:
        raise ElfError(f"{what} header entry size {entsize} is smaller than the {least} bytes of one entry")
    if off < ehsize:
        raise ElfError(f"{what} header table at byte {off} overlaps the ELF header")
    end = off + count * entsize
    if size is not None and end > size:
        raise TruncatedElf(f"truncated: {what} headers end at byte {end}, the file has {size} bytes")


def _find_interp(data: bytes, h: ElfHeader, size: int | None) -> tuple[str | None, bool]:
    """(the PT_INTERP path, "" for an empty segment, None without one; whether the bytes given
    were enough to know)."""
    if h.phnum == 0:
        return None, True
    if h.phoff + h.phnum * h.phentsize > len(data):
        return None, False  # the table lies beyond a prefix: static or not is unknown
    fmt = h.byte_order + ("IIIIIIII" if h.elf_class == 32 else "IIQQQQQQ")
    found: list[tuple[int, int]] = []
    for i in range(h.phnum):
        fields = struct.unpack_from(fmt, data, h.phoff + i * h.phentsize)
        if fields[0] == PT_INTERP:
            found.append((fields[1], fields[4]) if h.elf_class == 32 else (fields[2], fields[5]))
    if not found:
        return None, True
    if len(found) > 1:
        raise ElfError(f"{len(found)} PT_INTERP program headers (a program has at most one)")
    offset, filesz = found[0]
    end = offset + filesz
    if filesz == 0:  # separate debug info keeps the program headers but not the loader's name
        return "", True
    if filesz > MAX_INTERP:
        raise ElfError(f"PT_INTERP of {filesz} bytes (a loader path has at most {MAX_INTERP})")
    if size is not None and end > size:
        raise ElfError(f"PT_INTERP (bytes {offset}..{end}) lies past the end of the file ({size} bytes)")
    if end > len(data):
        return None, False
    raw = data[offset:end]
    if raw[-1] != 0:  # the kernel refuses such a file too (binfmt_elf checks the last byte)
        raise ElfError(f"PT_INTERP (bytes {offset}..{end}) is not NUL-terminated")
    path = raw.split(b"\0", 1)[0]
    if not path:
        raise ElfError("PT_INTERP names an empty path")
    return path.decode("utf-8", "replace"), True


def section_headers(data: bytes, header: ElfHeader) -> tuple[Section, ...]:
    """Every section header of a whole file ``data``; each section's bytes (SHT_NOBITS excepted)
    are checked to lie inside the file. Raises ElfError."""
    if header.shnum == 0:
        if header.shoff:
            raise ElfError(f"e_shnum 0 with a section header table at byte {header.shoff} "
                           f"(extended section numbering is not supported)")
        return ()
    end = header.shoff + header.shnum * header.shentsize
    if end > len(data):
        raise TruncatedElf(f"truncated: section headers end at byte {end}, the file has {len(data)} bytes")
    fmt = header.byte_order + ("IIIIII" if header.elf_class == 32 else "IIQQQQ")
    sections = []
    for index in range(header.shnum):
        _name, sh_type, _flags, _addr, offset, sh_size = struct.unpack_from(
            fmt, data, header.shoff + index * header.shentsize)
        if sh_type != SHT_NOBITS and index and offset + sh_size > len(data):
            raise ElfError(f"section {index} (bytes {offset}..{offset + sh_size}) lies past the end of the "
                           f"file ({len(data)} bytes)")
        sections.append(Section(index, sh_type, offset, sh_size))
    return tuple(sections)


def section_bytes(data: bytes, header: ElfHeader, section: Section, what: str) -> bytes:
    """The bytes of ``section`` (in bounds: see section_headers), refusing overlap with the headers."""
    start, end = section.offset, section.offset + section.size
    tables = (("the ELF header", 0, _LAYOUT[header.elf_class][0]),
              ("the program header table", header.phoff, header.phoff + header.phnum * header.phentsize),
              ("the section header table", header.shoff, header.shoff + header.shnum * header.shentsize))
    for name, lo, hi in tables:
        if hi > lo and start < hi and lo < end:
            raise ElfError(f"{what} (bytes {start}..{end}) overlaps {name} (bytes {lo}..{hi})")
    if end > len(data):
        raise TruncatedElf(f"truncated: {what} ends at byte {end}, the file has {len(data)} bytes")
    return data[start:end]


def machine_name(machine: int) -> str:
    """EM_* name of an e_machine value: the platform table first, then pyelftools' enum table
    (a plain dict of names, so no file data reaches pyelftools); EM_<number> when unknown."""
    for row in platforms.PLATFORMS:
        if row.elf_machine == machine:
            return row.elf_machine_name
    try:
        from elftools.elf.enums import ENUM_E_MACHINE
    except ImportError:  # pragma: no cover - pyelftools is a dependency
        return f"EM_{machine}"
    return next((name for name, value in ENUM_E_MACHINE.items() if value == machine and name.startswith("EM_")),
                f"EM_{machine}")
