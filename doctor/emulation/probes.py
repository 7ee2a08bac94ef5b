"""Tiny static probe programs, one per architecture, hand-assembled: each only calls exit(61).

No toolchain is needed: the machine code below is the whole program, wrapped in a minimal ELF with
one PT_LOAD segment. Running a probe proves the kernel + interpreter path for that architecture.
"""

from __future__ import annotations

import struct

from mab_doctor.host.elf import build_header
from mab_doctor.host.platforms import Platform

EXIT_CODE = 61
_BASE = 0x400000  # above every distro's vm.mmap_min_addr


def _words(fmt: str, *words: int) -> bytes:
    return b"".join(struct.pack(fmt, w) for w in words)


# qemu cpu name -> (machine code, e_flags). Each sets the exit status to 61 and calls exit.
_CODE: dict[str, tuple[bytes, int]] = {
    # mov edi, 61; mov eax, 60 (exit); syscall
    "x86_64": (bytes.fromhex("bf3d000000" "b83c000000" "0f05"), 0),
    # mov ebx, 61; mov eax, 1 (exit); int 0x80
    "i386": (bytes.fromhex("bb3d000000" "b801000000" "cd80"), 0),
    # movz x0, #61; movz x8, #93 (exit); svc #0
    "aarch64": (_words("<I", 0xD28007A0, 0xD2800BA8, 0xD4000001), 0),
    # ARM mode, valid from ARMv4 on: mov r0, #61; mov r7, #1 (exit); svc #0; EABI version 5
    "arm": (_words("<I", 0xE3A0003D, 0xE3A07001, 0xEF000000), 0x05000000),
    # addi a0, zero, 61; addi a7, zero, 93 (exit); ecall; e_flags: double-float ABI
    "riscv64": (_words("<I", 0x03D00513, 0x05D00893, 0x00000073), 0x4),
    # li r3, 61; li r0, 1 (exit); sc; e_flags 2 = ELFv2 ABI (ppc64le)
    "ppc64le": (_words("<I", 0x3860003D, 0x38000001, 0x44000002), 0x2),
    # lghi %r2, 61; svc 1 (exit)   (big endian)
    "s390x": (bytes.fromhex("a729003d" "0a01"), 0),
    # daddiu a0, zero, 61; daddiu v0, zero, 5058 (n64 exit); syscall; e_flags: mips64r2, pic, cpic
    "mips64el": (_words("<I", 0x6404003D, 0x640213C2, 0x0000000C), 0x80000007),
    "mips64": (_words(">I", 0x6404003D, 0x640213C2, 0x0000000C), 0x80000007),
}


def has_probe(platform: Platform) -> bool:
    """Whether a probe exists for this platform's architecture."""
    return platform.qemu in _CODE


def build_probe(platform: Platform) -> bytes:
    """A complete static ELF executable for ``platform`` that exits with EXIT_CODE."""
    code, flags = _CODE[platform.qemu]
    e = "<" if platform.endian == "little" else ">"
    ehsize, phsize = (64, 56) if platform.elf_class == 64 else (52, 32)
    entry = _BASE + ehsize + phsize  # the code follows the one program header
    header = build_header(platform.elf_class, platform.endian, platform.elf_machine, e_type=2, entry=entry,
                          flags=flags, phnum=1)
    size = ehsize + phsize + len(code)
    if platform.elf_class == 64:
        phdr = struct.pack(e + "IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)
    else:
        phdr = struct.pack(e + "IIIIIIII", 1, 0, _BASE, _BASE, size, size, 5, 0x1000)
    return header + phdr + code
