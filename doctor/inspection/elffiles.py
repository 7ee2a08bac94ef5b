"""What one ELF file or a tree of files is built for: header facts, ARM ABI, platform groups (no host facts)."""

from __future__ import annotations

import os
import stat
import struct
from typing import Callable, Iterable, Iterator

from mab_doctor.host import platforms
from mab_doctor.host.armabi import read_arm_abi
from mab_doctor.host.elf import ELF_MAGIC, ElfError, ElfHeader, machine_name, parse_header
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


def unreadable_reason(exc: BaseException) -> str:
    """Why a file could not be classified, as one line: "not a readable ELF file: ..." for damaged ELF."""
    text = one_line(exc)
    if isinstance(exc, ElfError) and not text.startswith("not an ELF file"):
        return f"not a readable ELF file: {text}"
    return text


def _arm_facts(header: ElfHeader, read_all: Callable[[], bytes]) -> tuple[Platform, str | None, str | None]:
    """(platform row, Tag_CPU_arch name, float ABI) of a 32-bit ARM ELF; a damaged .ARM.attributes
    section raises ElfError (the file is unreadable, not silently classified by its header)."""
    abi = read_arm_abi(read_all())
    cpu_arch, variant, float_abi = abi.cpu_arch, abi.oci_variant, abi.float_abi
    if float_abi is None:
        float_abi = header.arm_float_abi
    row = BY_OCI.get(f"linux/arm/{variant}") if variant else None
    if row is None:
        # No architecture attribute: Debian's baselines, armel = v5 soft-float, armhf = v7 hard-float.
        row = BY_OCI["linux/arm/v5"] if float_abi == "soft" else BY_OCI["linux/arm/v7"]
    return row, cpu_arch, float_abi


def _level(cpu_arch: str | None) -> str | None:
    # Architecture levels are "v4T".."v8-M.mainline"; "Pre-v4" and an unknown "arch N" name none.
    return cpu_arch if cpu_arch and cpu_arch.startswith("v") else None


def classify(head: bytes, size: int, read_all: Callable[[], bytes]) -> dict:
    """The ELF facts of one file (no host facts) from its first bytes ``head``, its ``size`` and
    ``read_all`` (the whole file: read for 32-bit ARM, and when the program headers lie past ``head``);
    raises ElfError for non-ELF or damaged files."""
    header = parse_header(head, size)
    if not header.interpreter_known:  # program headers beyond the first bytes: rare, read it all
        header = parse_header(read_all(), size)
        if not header.interpreter_known:
            raise ElfError("the file ended while its program headers were read (changed on disk?)")
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
            "arm_arch": _level(cpu_arch), "float_abi": float_abi, "static": header.interpreter is None,
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
        except (OSError, ValueError, struct.error) as exc:  # ElfError is a ValueError
            unreadable.append({"path": rel, "error": unreadable_reason(exc)})
            continue
        if facts["e_type"] not in ("EXEC", "DYN"):
            continue  # objects and core dumps are not part of what runs
        count += 1
        key = facts["oci_platform"] or f"unknown ({facts['machine']}, {facts['elf_class']}-bit {facts['endianness']})"
        groups.setdefault(key, []).append(rel)
    platforms_ = {k: sorted(v) for k, v in sorted(groups.items())}
    return {"platforms": platforms_, "mixed": len(platforms_) > 1, "elf_files": count,
            "unreadable": unreadable, "skipped": skipped}
