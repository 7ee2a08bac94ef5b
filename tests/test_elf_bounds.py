"""Crafted ELF files: the bounded reader names each problem quickly, and inspect and --root stay honest.

Layout of the base file (hand-computed; test_base_layout pins it), a 32-bit little-endian ARM
executable from elfbuild with PT_INTERP /lib/ld-linux-armhf.so.3 and Tag_CPU_arch v7, VFP args:
  0..52 ELF header, 52..84 one program header, 84..109 the loader path with its NUL,
  109..129 .ARM.attributes, 129..156 .shstrtab, 156..276 three section headers (the one of
  .ARM.attributes at 196: sh_offset at 212, sh_size at 216).
"""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
from contextlib import contextmanager

import pytest

from mab_doctor.checks.float_abi import float_abi
from mab_doctor.checks.host_platform import host_platform
from mab_doctor.cli import main
from mab_doctor.core.model import Status
from mab_doctor.host.armabi import read_arm_abi
from mab_doctor.host.elf import ElfError, parse_header
from elfbuild import build_elf
from helpers import write_tree

LOADER = "/lib/ld-linux-armhf.so.3"
EF_HARD = 0x05000400
# 'A', subsection length 19, "aeabi\0", Tag_File (1) of length 9: Tag_CPU_arch (6) = 10, Tag_ABI_VFP_args (28) = 1
GOOD_ATTRS = b"A" + b"\x13\x00\x00\x00" + b"aeabi\x00" + b"\x01" + b"\x09\x00\x00\x00" + b"\x06\x0a\x1c\x01"


def arm(attrs: bytes = GOOD_ATTRS) -> bytes:
    return build_elf("arm", flags=EF_HARD, interp=LOADER, arm_attributes=attrs)


def aeabi(file_body: bytes) -> bytes:
    """An attributes section whose one "aeabi" subsection holds one Tag_File with ``file_body``
    (the body starts at section byte 16: 'A' + 4 length + 6 vendor + 1 tag + 4 length)."""
    sub = b"aeabi\x00" + b"\x01" + struct.pack("<I", 5 + len(file_body)) + file_body
    return b"A" + struct.pack("<I", 4 + len(sub)) + sub


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def zero_length_subsection() -> bytes:
    """By hand: ELF header, then 'A' + a subsection length of 0 at 52..57, section headers at 60."""
    ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, 0, 0, 60, EF_HARD, 52, 32, 0, 40, 2, 0)
    attrs = b"A" + b"\x00\x00\x00\x00"
    null = bytes(40)
    attributes = struct.pack("<IIIIIIIIII", 0, 0x70000003, 0, 0, 52, 5, 0, 0, 1, 0)
    return header + attrs + bytes(3) + null + attributes


BASE = arm()
A64 = build_elf("aarch64", interp="/lib/ld-linux-aarch64.so.1")  # 0..64 header, 64..120 phdr, 120..147 path

CASES = [  # (id, bytes, what the error must say)
    ("zero-length subsection", zero_length_subsection(), "zero-length subsection at byte 1"),
    ("zero-length sub-subsection", arm(b"A\x0f\x00\x00\x00aeabi\x00\x01\x00\x00\x00\x00"),
     "zero-length sub-subsection at byte 11"),
    ("subsection longer than the section", patched(BASE, 110, "<I", 100),
     "subsection at byte 1 has length 100, only 19 bytes remain"),
    ("sub-subsection longer than its subsection", patched(BASE, 109 + 12, "<I", 50),
     "sub-subsection at byte 11 has length 50, only 9 bytes remain"),
    ("subsection shorter than its header", patched(BASE, 110, "<I", 3),
     "subsection at byte 1 has length 3, shorter than its own header"),
    ("subsection cut before its length", arm(b"A\x05\x00"), "subsection at byte 1 is cut off before its length"),
    ("endless uleb128", arm(aeabi(b"\x06" + b"\xff" * 12)), "ULEB128 number at byte 17 is longer than 10 bytes"),
    ("uleb128 past the section", arm(aeabi(b"\x06\x80\x80")), "ULEB128 number at byte 17 runs past its section"),
    ("uleb128 tag past the section", arm(aeabi(b"\x86")), "ULEB128 number at byte 16 runs past its section"),
    ("unknown attributes version", arm(b"B" + GOOD_ATTRS[1:]), "attributes version 0x42, expected 0x41"),
    ("empty attributes section", arm(b""), "empty section"),
    ("vendor name without NUL", arm(b"A\x09\x00\x00\x00aeabi"), "vendor name at byte 5 is not NUL-terminated"),
    ("string attribute without NUL", arm(aeabi(b"\x05cortex")), "the string of tag 5 at byte 17 is not NUL"),
    ("Tag_compatibility without vendor", arm(aeabi(b"\x20\x00gnu")), "Tag_compatibility at byte 18 has no vendor"),
    ("attributes offset past the end", patched(BASE, 212, "<I", 0x10000),
     "section 1 (bytes 65536..65556) lies past the end of the file (276 bytes)"),
    ("negative-looking attributes size", patched(BASE, 216, "<I", 0xFFFFFFF0),
     "section 1 (bytes 109..4294967389) lies past the end of the file (276 bytes)"),
    ("attributes overlapping the ELF header", patched(BASE, 212, "<I", 0),
     ".ARM.attributes (bytes 0..20) overlaps the ELF header (bytes 0..52)"),
    ("attributes overlapping the section headers", patched(BASE, 212, "<I", 156),
     ".ARM.attributes (bytes 156..176) overlaps the section header table (bytes 156..276)"),
    ("huge e_shnum", patched(BASE, 48, "<H", 0xFFFF), "implausible section header count 65535 (more than 4096)"),
    ("huge e_phnum", patched(BASE, 44, "<H", 0xFFFF), "implausible program header count 65535 (more than 4096)"),
    ("e_phnum just over the cap", patched(A64, 56, "<H", 4097), "implausible program header count 4097"),
    ("section headers past the end", patched(BASE, 32, "<I", 0x7FFFFFF0),
     "truncated: section headers end at byte 2147483752, the file has 276 bytes"),
    ("64-bit program headers past the end", patched(A64, 32, "<Q", 1 << 40),
     "truncated: program headers end at byte 1099511627832, the file has 147 bytes"),
    ("section header entries too small", patched(BASE, 46, "<H", 8),
     "section header entry size 8 is smaller than the 40 bytes of one entry"),
    ("program header entries of size 0", patched(BASE, 42, "<H", 0),
     "program header entry size 0 is smaller than the 32 bytes of one entry"),
    ("program headers over the ELF header", patched(BASE, 28, "<I", 0),
     "program header table at byte 0 overlaps the ELF header"),
    ("e_shnum 0 with a section table", patched(BASE, 48, "<H", 0), "e_shnum 0 with a section header table at byte 156"),
    ("PT_INTERP without NUL", BASE[:108] + b"X" + BASE[109:], "PT_INTERP (bytes 84..109) is not NUL-terminated"),
    ("PT_INTERP outside the file", patched(BASE, 56, "<I", 100000),
     "PT_INTERP (bytes 100000..100025) lies past the end of the file (276 bytes)"),
    ("64-bit PT_INTERP outside the file", patched(A64, 72, "<Q", 1 << 33),
     "PT_INTERP (bytes 8589934592..8589934619) lies past the end of the file (147 bytes)"),
    ("huge PT_INTERP", patched(BASE, 68, "<I", 0xFFFFFFFF), "PT_INTERP of 4294967295 bytes"),
    ("PT_INTERP with an empty path", BASE[:84] + b"\x00" + BASE[85:], "PT_INTERP names an empty path"),
    ("ELF header cut at 40 bytes", BASE[:40], "truncated ELF header (40 of 52 bytes)"),
    ("64-bit ELF header cut at 60 bytes", A64[:60], "truncated ELF header (60 of 64 bytes)"),
    ("ident cut at 10 bytes", BASE[:10], "truncated ELF header (10 bytes)"),
    ("invalid class byte", BASE[:4] + b"\x03" + BASE[5:], "invalid ELF ident (class byte 3, data byte 1)"),
    ("section header table cut short", BASE[:256], "truncated: section headers end at byte 276, the file has 256 bytes"),
]
IDS = [case[0] for case in CASES]


def is_arm32(data: bytes) -> bool:
    """ELFCLASS32 little-endian, e_machine 40 (EM_ARM)."""
    return data[4:6] == b"\x01\x01" and data[18:20] == b"\x28\x00"


ARM32 = [case for case in CASES if is_arm32(case[1]) and len(case[1]) >= 52]


@contextmanager
def deadline(seconds: float):
    """Interrupt the block after ``seconds`` (a parser stuck in a loop fails instead of hanging)."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read(data: bytes) -> ElfError | object:
    """What the bounded reader makes of a whole file, as a value: the ElfError, or its result."""
    try:
        with deadline(1.0):
            return read_arm_abi(data) if is_arm32(data) else parse_header(data, len(data))
    except ElfError as exc:
        return exc


def test_an_empty_interp_segment_is_dynamic_without_a_name():
    # Separate debug info files (/usr/lib/debug) keep PT_INTERP with no bytes: dynamic, name unknown.
    header = parse_header(patched(A64, 96, "<Q", 0), 147)
    assert header.interpreter == "" and header.interpreter_known


def test_base_layout():
    assert len(BASE) == 276 and BASE[109:129] == GOOD_ATTRS and BASE[84:109] == LOADER.encode() + b"\0"
    assert BASE[156:196] == bytes(40) and struct.unpack_from("<II", BASE, 212) == (109, 20)
    assert read(BASE).cpu_arch == "v7" and read(BASE).float_abi == "hard"
    assert len(A64) == 147 and A64[120:147] == b"/lib/ld-linux-aarch64.so.1\0"
    assert parse_header(A64, len(A64)).interpreter == "/lib/ld-linux-aarch64.so.1"
    assert len(zero_length_subsection()) == 140
    assert len(CASES) >= 25 and len(ARM32) >= 25


@pytest.mark.parametrize("name, data, message", CASES, ids=IDS)
def test_reader_names_the_problem_within_a_second(name, data, message):
    outcome = read(data)
    assert isinstance(outcome, ElfError), f"{name}: read as {outcome!r}"
    assert message in str(outcome)


def run_json(capsys, *argv: str) -> tuple[int, dict, str]:
    with deadline(5.0):
        code = main([*argv, "--format", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.mark.parametrize("name, data, message", CASES, ids=IDS)
def test_inspect_file_is_an_unreadable_item(capsys, tmp_path, monkeypatch, name, data, message):
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker or podman
    crafted = tmp_path / "crafted"
    crafted.write_bytes(data)
    code, doc, err = run_json(capsys, "inspect", str(crafted))
    assert code == 1 and "Traceback" not in err
    [item] = doc["items"]
    assert item["kind"] == "unreadable"
    assert item["error"].startswith("not a readable ELF file: ") and message in item["error"]


@pytest.mark.parametrize("name, data, message", CASES, ids=IDS)
def test_inspect_dir_lists_it_and_classifies_the_rest(capsys, tmp_path, monkeypatch, name, data, message):
    monkeypatch.setenv("PATH", str(tmp_path))
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a-good-armhf").write_bytes(BASE)
    (tree / "b-crafted").write_bytes(data)
    (tree / "c-good-arm64").write_bytes(A64)
    code, doc, err = run_json(capsys, "inspect", str(tree))
    assert code == 0 and "Traceback" not in err
    [item] = doc["items"]
    assert item["platforms"] == {"linux/arm/v7": ["a-good-armhf"], "linux/arm64": ["c-good-arm64"]}
    assert [u["path"] for u in item["unreadable"]] == ["b-crafted"]
    assert message in item["unreadable"][0]["error"]


ARM_HOST = {"/proc/sys/kernel/arch": "armv7l\n", "/proc/sys/kernel/osrelease": "6.1.0\n",
            "/proc/cpuinfo": "processor\t: 0\nFeatures\t: half thumb vfp vfpv3 neon\nCPU architecture: 7\n",
            "/etc/os-release": "ID=debian\nVERSION_ID=12\n",
            "/var/lib/dpkg/status": "Package: dpkg\nStatus: install ok installed\nArchitecture: armhf\n"}


def root_rows(ctx) -> tuple:
    """host-platform and float-abi over a --root context, in this thread so the deadline can stop them."""
    with deadline(2.0):
        return host_platform(ctx), float_abi(ctx)


@pytest.mark.parametrize("name, data, message", ARM32, ids=[case[0] for case in ARM32])
def test_root_with_a_crafted_sh_gives_honest_rows(make_host, name, data, message):
    platform, abi = root_rows(make_host({**ARM_HOST, "/bin/sh": data}, targets="linux/arm/v7"))
    # The header names 32-bit ARM, or (when it is unreadable) dpkg does: the host is still linux/arm/v7.
    assert platform.status is Status.OK and platform.summary.startswith("linux/arm/v7")
    assert abi.status in (Status.OK, Status.WARN) and message in abi.summary
    assert "/bin/sh is not a readable ELF file" in abi.summary or "no readable userland ELF (/bin/sh" in abi.summary


def test_root_with_an_unreadable_header_says_so_in_both_rows(make_host):
    platform, abi = root_rows(make_host({**ARM_HOST, "/bin/sh": patched(BASE, 44, "<H", 0xFFFF)}))
    assert "/bin/sh: implausible program header count 65535 (more than 4096)" in platform.details
    assert abi.status is Status.WARN and abi.data["float_abi"] is None
    assert abi.summary == ("ARM, float ABI unknown userland on an ARMv7 CPU: no readable userland ELF "
                           "(/bin/sh: implausible program header count 65535 (more than 4096))")


def test_root_with_bad_attributes_keeps_the_header_verdict(make_host):
    _, abi = root_rows(make_host({**ARM_HOST, "/bin/sh": zero_length_subsection()}, targets="linux/arm/v7"))
    assert abi.status is Status.OK and abi.data["float_abi"] == "hard"  # EF_ARM_ABI_FLOAT_HARD in e_flags
    assert abi.summary.startswith("hard-float (armhf, CPU level unknown) userland on an ARMv7 CPU (/bin/sh is not "
                                  "a readable ELF file: malformed .ARM.attributes: zero-length subsection at byte 1; "
                                  "float ABI from the ELF header only): runs linux/arm/v5, linux/arm/v6, linux/arm/v7")


def test_the_cli_on_such_a_root_ends_without_a_traceback(tmp_path):
    # A child process: the checks run in worker threads, which a deadline here could not stop.
    write_tree(tmp_path, {**ARM_HOST, "/bin/sh": zero_length_subsection()})
    done = subprocess.run([sys.executable, "-m", "mab_doctor", "--root", str(tmp_path), "--no-plugins", "--format",
                           "json", "--platform", "linux/arm/v7", "host-platform", "float-abi"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)["results"]}
    assert rows["host-platform"]["status"] == "ok" and rows["float-abi"]["status"] == "ok"
    assert "zero-length subsection at byte 1" in rows["float-abi"]["summary"]


def far_program_headers() -> bytes:
    """A64 with its program header moved to byte 70000, past the 64 KiB a first read takes."""
    moved = patched(A64, 32, "<Q", 70000)
    return moved + bytes(70000 - len(moved)) + A64[64:120]


@pytest.mark.parametrize("content, want", [
    (build_elf("aarch64"), {"machine": "EM_AARCH64", "elf_class": 64, "endian": "little", "dynamic_loader": None,
                            "error": None, "static": True}),
    (A64, {"machine": "EM_AARCH64", "dynamic_loader": "/lib/ld-linux-aarch64.so.1", "error": None, "static": False}),
    (patched(A64, 56, "<H", 0xFFFF), {"machine": None, "static": False, "error": "not a readable ELF file: "
                                      "implausible program header count 65535 (more than 4096)"}),
    (zero_length_subsection()[:40], {"static": False, "error": "not a readable ELF file: truncated ELF header "
                                                               "(40 of 52 bytes)"}),
    (patched(A64, 72, "<Q", 1 << 33), {"static": False, "error": "not a readable ELF file: PT_INTERP (bytes "
                                       "8589934592..8589934619) lies past the end of the file (147 bytes)"}),
    (far_program_headers(), {"static": False, "error": "not a readable ELF file: its program headers lie past "
                                                       "the first 65536 bytes"}),
])
def test_interpreter_inspection_is_bounded(make_host, content, want):
    from mab_doctor.emulation.qemu import inspect_interpreter

    ctx = make_host({"/usr/bin/qemu-aarch64-static": content})
    with deadline(1.0):
        interp = inspect_interpreter(ctx, "/usr/bin/qemu-aarch64-static")
    assert interp.real == "/usr/bin/qemu-aarch64-static"
    assert {key: getattr(interp, key) for key in want} == want


def test_inspect_file_reads_far_program_headers_whole(tmp_path):
    from helpers import host
    from mab_doctor.inspection.inspect import inspect_elf

    path = tmp_path / "far"
    path.write_bytes(far_program_headers())
    item = inspect_elf(host("debian-12-amd64-qemu"), str(path))
    assert item["kind"] == "elf" and item["interpreter"] == "/lib/ld-linux-aarch64.so.1" and item["static"] is False

