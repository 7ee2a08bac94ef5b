"""What one ELF file or a tree of files is built for: header facts, ARM ABI, platform groups (no host facts)."""

from __future__ import annotations

import os
import stat
import struct
from typing import Callable, Iterable, Iterator

from mab_doctor.host import platforms
from mab_doctor.host.elf import ELF_MAGIC, ElfError, ElfHeader, parse_header
from mab_doctor.host.platforms import BY_OCI, Platform

HEAD_LIMIT = 64 * 1024            # bytes read to classify a file
MAX_FILE = 512 * 1024 * 1024      # larger files are skipped in trees
ET_EXEC, ET_DYN = 2, 3
_ET_NAMES = {0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}

# (relative path, size, read(limit or None for all)) for one regular file of a tree
TreeFile = tuple[str, int, Callable[[int | None], bytes]]


def one_line(exc: BaseException) -> str:
    """An exception as one line of text."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


def machine_name(machine: int) -> str:
    """EM_* name of an e_machine value (pyelftools' table), EM_<number> when unknown."""
    for row in platforms.PLATFORMS:
        if row.elf_machine == machine:
            return row.elf_machine_name
    try:
        from elftools.elf.enums import ENUM_E_MACHINE

        for name, value in ENUM_E_MACHINE.items():
            if value == machine and name.startswith("EM_"):
                return name
    except ImportError:  # pragma: no cover - pyelftools is a dependency
        pass
    return f"EM_{machine}"


def check_complete(data: bytes, size: int) -> None:
    """Raise ElfError when the program or section header table lies beyond the file's end."""
    e = "<" if data[5] == 1 else ">"
    if data[4] == 1:
        phoff, shoff = struct.unpack_from(e + "II", data, 28)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(e + "HHHH", data, 42)
    else:
        phoff, shoff = struct.unpack_from(e + "QQ", data, 32)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(e + "HHHH", data, 54)
    for what, off, count, entsize in (("program", phoff, phnum, phentsize),
                                      ("section", shoff, shnum, shentsize)):
        end = off + count * entsize
        if count and end > size:
            raise ElfError(f"truncated ELF: {what} headers end at byte {end}, the file has {size} bytes")


def _arm_facts(header: ElfHeader, read_all: Callable[[], bytes]) -> tuple[Platform, str | None, str | None]:
    """(platform row, Tag_CPU_arch name, float ABI) of a 32-bit ARM ELF."""
    from mab_doctor.host.armabi import read_arm_abi

    cpu_arch = variant = float_abi = None
    try:
        abi = read_arm_abi(read_all())
        cpu_arch, variant, float_abi = abi.cpu_arch, abi.oci_variant, abi.float_abi
    except (NotImplementedError, ElfError, OSError, ValueError):
        pass  # the e_flags/loader fallback below
    if float_abi is None:
        float_abi = header.arm_float_abi
    row = BY_OCI.get(f"linux/arm/{variant}") if variant else None
    if row is None:
        # No architecture attribute: Debian's baselines, armel = v5 soft-float, armhf = v7 hard-float.
        row = BY_OCI["linux/arm/v5"] if float_abi == "soft" else BY_OCI["linux/arm/v7"]
    return row, cpu_arch, float_abi


def classify(head: bytes, size: int, read_all: Callable[[], bytes]) -> dict:
    """The ELF facts of one file (no host facts); raises ElfError for non-ELF or damaged files."""
    header = parse_header(head)
    check_complete(head, size)
    cpu_arch = float_abi = None
    if header.machine == platforms.EM_ARM and header.elf_class == 32:
        row, cpu_arch, float_abi = _arm_facts(header, read_all)
    else:
        row = platforms.from_elf(header.machine, header.elf_class, header.endian)
    debian = row.debian_arch if row else None
    if row is not None and row.arch == "arm":
        debian = {"soft": "armel", "hard": "armhf"}.get(float_abi or "", row.debian_arch)
    return {"oci_platform": row.oci if row else None, "debian_arch": debian,
            "elf_class": header.elf_class, "endianness": header.endian,
            "machine": machine_name(header.machine), "e_type": _ET_NAMES.get(header.e_type, str(header.e_type)),
            "arm_arch": cpu_arch, "float_abi": float_abi, "static": header.interpreter is None,
            "interpreter": header.interpreter}


def read_file(path: str, limit: int | None) -> bytes:
    """The first ``limit`` bytes of a file (all of it for None)."""
    with open(path, "rb") as fh:
        return fh.read() if limit is None else fh.read(limit)


def walk_files(top: str, errors: list[dict]) -> Iterator[TreeFile]:
    """Regular files under ``top`` (symlinks are not followed), relative paths, sorted."""
    def onerror(exc: OSError) -> None:
        errors.append({"path": os.path.relpath(exc.filename or top, top), "error": one_line(exc)})

    for folder, dirs, files in os.walk(top, onerror=onerror, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            try:
                st = os.lstat(full)
            except OSError as exc:
                errors.append({"path": os.path.relpath(full, top), "error": one_line(exc)})
                continue
            if stat.S_ISREG(st.st_mode):
                yield os.path.relpath(full, top), st.st_size, (lambda limit, f=full: read_file(f, limit))


def scan_tree(files: Iterable[TreeFile], errors: list[dict] | None = None) -> dict:
    """Group the ELF executables and shared objects of a tree by OCI platform."""
    groups: dict[str, list[str]] = {}
    unreadable = list(errors or [])
    skipped: list[str] = []
    count = 0
    for rel, size, read in files:
        if size > MAX_FILE:
            skipped.append(rel)
            continue
        try:
            head = read(HEAD_LIMIT)
            if head[:4] != ELF_MAGIC:
                continue
            facts = classify(head, size, lambda: read(None))
        except (OSError, ElfError, struct.error) as exc:
            unreadable.append({"path": rel, "error": one_line(exc)})
            continue
        if facts["e_type"] not in ("EXEC", "DYN"):
            continue  # objects and core dumps are not part of what runs
        count += 1
        key = facts["oci_platform"] or f"unknown ({facts['machine']}, {facts['elf_class']}-bit {facts['endianness']})"
        groups.setdefault(key, []).append(rel)
    platforms_ = {k: sorted(v) for k, v in sorted(groups.items())}
    return {"platforms": platforms_, "mixed": len(platforms_) > 1, "elf_files": count,
            "unreadable": unreadable, "skipped": skipped}
