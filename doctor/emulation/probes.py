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


# qemu cpu name -> machine code that creates the directory "ok" (mode 0700) in the working directory,
# then exits 0 whatever mkdir answered. The name is built on the stack, so the code holds no address
# and also runs as a position-independent executable. Run as a non-root user, the directory only
# appears when the program got root's effective uid from its setuid bit: for an emulated program,
# only when the binfmt_misc handler has the C flag (credentials from the program, not from QEMU).
_MKDIR_OK: dict[str, bytes] = {
    # mov eax, "ok"; push rax; mov rdi, rsp; mov esi, 0700; mov eax, 83 (mkdir); syscall;
    # xor edi, edi; mov eax, 60 (exit); syscall
    "x86_64": bytes.fromhex("b86f6b0000" "50" "4889e7" "bec0010000" "b853000000" "0f05" "31ff" "b83c000000" "0f05"),
    # push "ok"; mov ebx, esp; mov ecx, 0700; mov eax, 39 (mkdir); int 0x80; xor ebx, ebx; mov eax, 1; int 0x80
    "i386": bytes.fromhex("686f6b0000" "89e3" "b9c0010000" "b827000000" "cd80" "31db" "b801000000" "cd80"),
    # movz w1, "ok"; str w1, [sp, #-16]!; add x1, sp, #0; movn x0, #99 (AT_FDCWD); movz x2, #0700;
    # movz x8, #34 (mkdirat); svc #0; movz x0, #0; movz x8, #93 (exit); svc #0
    "aarch64": _words("<I", 0x528D6DE1, 0xB81F0FE1, 0x910003E1, 0x92800C60, 0xD2803802, 0xD2800448,
                      0xD4000001, 0xD2800000, 0xD2800BA8, 0xD4000001),
    # mov r1, #'o'; orr r1, r1, #'k' << 8; str r1, [sp, #-8]!; mov r0, sp; mov r1, #0700;
    # mov r7, #39 (mkdir); svc #0; mov r0, #0; mov r7, #1 (exit); svc #0   (ARMv4 and later)
    "arm": _words("<I", 0xE3A0106F, 0xE3811C6B, 0xE52D1008, 0xE1A0000D, 0xE3A01F70, 0xE3A07027,
                  0xEF000000, 0xE3A00000, 0xE3A07001, 0xEF000000),
    # lui a1, 7; addiw a1, a1, -0x491 ("ok"); addi sp, sp, -16; sw a1, 0(sp); addi a1, sp, 0;
    # addi a0, zero, -100; addi a2, zero, 0700; addi a7, zero, 34 (mkdirat); ecall;
    # addi a0, zero, 0; addi a7, zero, 93 (exit); ecall
    "riscv64": _words("<I", 0x000075B7, 0xB6F5859B, 0xFF010113, 0x00B12023, 0x00010593, 0xF9C00513,
                      0x1C000613, 0x02200893, 0x00000073, 0x00000513, 0x05D00893, 0x00000073),
    # li r4, "ok"; stw r4, -16(r1); addi r3, r1, -16; li r4, 0700; li r0, 39 (mkdir); sc;
    # li r3, 0; li r0, 1 (exit); sc
    "ppc64le": _words("<I", 0x38806B6F, 0x9081FFF0, 0x3861FFF0, 0x388001C0, 0x38000027, 0x44000002,
                      0x38600000, 0x38000001, 0x44000002),
    # iilf %r3, "ok"; st %r3, 0(%r15); la %r2, 0(%r15); lghi %r3, 0700; svc 39 (mkdir);
    # lghi %r2, 0; svc 1 (exit)   (big endian)
    "s390x": bytes.fromhex("c0396f6b0000" "5030f000" "4120f000" "a73901c0" "0a27" "a7290000" "0a01"),
    # daddiu t0, zero, "ok"; sw t0, -16(sp); daddiu a0, sp, -16; daddiu a1, zero, 0700;
    # daddiu v0, zero, 5081 (n64 mkdir); syscall; daddiu a0, zero, 0; daddiu v0, zero, 5058 (exit); syscall
    "mips64el": _words("<I", 0x640C6B6F, 0xAFACFFF0, 0x67A4FFF0, 0x640501C0, 0x640213D9, 0x0000000C,
                       0x64040000, 0x640213C2, 0x0000000C),
    # the same, big endian: lui t0, "ok" (the two bytes land first in memory)
    "mips64": _words(">I", 0x3C0C6F6B, 0xAFACFFF0, 0x67A4FFF0, 0x640501C0, 0x640213D9, 0x0000000C,
                     0x64040000, 0x640213C2, 0x0000000C),
}
MARKER = "ok"  # what the marker probe creates in its working directory


def has_probe(platform: Platform) -> bool:
    """Whether a probe exists for this platform's architecture."""
    return platform.qemu in _CODE


def build_probe(platform: Platform) -> bytes:
    """A complete static ELF executable for ``platform`` that exits with EXIT_CODE."""
    code, flags = _CODE[platform.qemu]
    return _executable(platform, code, flags, pie=False)


def build_marker_probe(platform: Platform, *, pie: bool = False) -> bytes:
    """A static executable (``pie``: a static position-independent one, ET_DYN without an
    interpreter) that creates the directory MARKER in its working directory and exits 0."""
    return _executable(platform, _MKDIR_OK[platform.qemu], _CODE[platform.qemu][1], pie=pie)


def _executable(platform: Platform, code: bytes, flags: int, *, pie: bool) -> bytes:
    e = "<" if platform.endian == "little" else ">"
    ehsize, phsize = (64, 56) if platform.elf_class == 64 else (52, 32)
    base = 0 if pie else _BASE  # a PIE is loaded wherever the kernel (or QEMU) chooses
    entry = base + ehsize + phsize  # the code follows the one program header
    header = build_header(platform.elf_class, platform.endian, platform.elf_machine, e_type=3 if pie else 2,
                          entry=entry, flags=flags, phnum=1)
    size = ehsize + phsize + len(code)
    if platform.elf_class == 64:
        # PF_R|PF_X; the marker probes also write their stack, never this segment
        phdr = struct.pack(e + "IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    else:
        phdr = struct.pack(e + "IIIIIIII", 1, 0, base, base, size, size, 5, 0x1000)
    return header + phdr + code
