"""binfmt_misc edge cases pinned to what the kernel does: offsets, long magics, all flags, relative interpreters."""

from __future__ import annotations

import dataclasses
import os

import pytest

from helpers import DEBIAN_AARCH64, MP, entry_text
from mab_doctor.emulation.binfmt import (
    Entry, EntryError, Listing, canonical_headers, entry_matches, find_handling, handles, is_qemu, parse_entry,
    parse_register_line, read_listing)
from mab_doctor.host.platforms import BY_OCI

AARCH64 = BY_OCI["linux/arm64"]
ARMV7 = BY_OCI["linux/arm/v7"]
HEAD = b"\x7fELF\x02\x01"


def magic_at(offset: int, magic: bytes) -> Entry:
    return Entry("m", True, "/usr/bin/i", "", "M", offset=offset, magic=magic)


@pytest.mark.parametrize("offset, magic", [(2, b"LF"), (3, b"F"), (1, b"ELF\x02"), (4, b"\x02\x01")])
def test_magic_is_compared_at_offset_for_its_own_length(offset, magic):
    # The kernel compares bytes offset .. offset+size-1 of the file with the magic.
    assert entry_matches(magic_at(offset, magic), HEAD) is True


def test_magic_one_byte_off_does_not_match():
    assert entry_matches(magic_at(2, b"EL"), HEAD) is False


def test_a_magic_may_hold_a_slash_only_an_extension_may_not():
    # fs/binfmt_misc.c refuses '/' in the extension field of an 'E' entry, never in a magic.
    assert parse_register_line(":n:M::ab/c::/bin/i:") == Entry("n", True, "/bin/i", "", "M", magic=b"ab/c")


def test_a_magic_of_the_full_256_bytes_is_accepted():
    entry = parse_register_line(":n:M::" + "\\x00" * 256 + "::/bin/i:")
    assert (entry.offset, entry.magic) == (0, bytes(256))


def test_a_magic_of_257_bytes_is_refused():
    with pytest.raises(EntryError) as caught:
        parse_register_line(":n:M::" + "\\x41" * 257 + "::/bin/i:")
    assert str(caught.value) == ("n: offset 0 plus 257 magic bytes lies beyond the first 256 bytes the kernel reads: "
                                 "the kernel would not accept it")


def test_a_long_mixed_magic_is_taken_byte_for_byte():
    # Characters other than \xHH stand for themselves: 200 letters and 50 escapes are 250 bytes.
    entry = parse_register_line(":n:M:6:" + "A" * 200 + "\\x42" * 50 + "::/i:")
    assert (entry.offset, entry.magic) == (6, b"A" * 200 + b"B" * 50)


def test_all_four_flags_in_an_entry_file():
    entry = parse_entry("n", "enabled\ninterpreter /bin/i\nflags: POCF\noffset 0\nmagic 7f454c46\n")
    assert entry.flags == "POCF"


def test_all_four_flags_in_a_register_line():
    assert parse_register_line(":n:M::\\x7f::/bin/i:POCF").flags == "POCF"
    assert parse_register_line(":n:E::sh::/bin/i:FCOP").flags == "POCF"


def test_a_bad_offset_of_exactly_12_characters_is_shown_whole():
    with pytest.raises(EntryError) as caught:
        parse_entry("bad", "enabled\ninterpreter /x\noffset 123456789012\nmagic 00\n")
    assert str(caught.value) == "bad: offset 123456789012 is not a usable number: the kernel would not accept it"


def test_a_two_character_register_line_is_counted_not_called_short():
    with pytest.raises(EntryError) as caught:
        parse_register_line("::")
    assert str(caught.value) == "register line has 2 fields, needs 6 or 7: '::'"


def test_garbage_first_line_is_quoted_not_a_later_one():
    with pytest.raises(EntryError) as caught:
        parse_entry("bad", "garbage\ninterpreter /x\nmagic 00\n")
    assert str(caught.value) == "bad: first line is 'garbage', not enabled/disabled"


@pytest.mark.parametrize("name, interpreter, qemu", [
    ("aarch64", "qemu-aarch64", True),          # the kernel takes a relative interpreter as it is
    ("box", "box64", False),
    ("box", "/opt/x-binfmt-P/box64", False),    # only the file's own name counts, not a directory's
    ("arm", "/opt/x/arm-binfmt-P", True),
])
def test_is_qemu_looks_at_the_interpreter_file_name(name, interpreter, qemu):
    assert is_qemu(Entry(name, True, interpreter, "F", "M", magic=b"\x7f")) is qemu


@pytest.mark.parametrize("value, attribute", [
    (Entry("n", True, "/i", "", "M", magic=b"\x7f"), "enabled"),
    (Listing((), (), True), "ordered"),
    (find_handling(Listing((), (), True), AARCH64), "winner"),
])
def test_results_are_frozen(value, attribute):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, attribute, None)


def test_an_unreadable_entry_does_not_stop_the_listing(make_host):
    ctx = make_host({f"{MP}/status": "enabled\n", f"{MP}/qemu-aarch64": entry_text(DEBIAN_AARCH64)})
    os.mkfifo(ctx.path(f"{MP}/a-fifo"))  # sorts before qemu-aarch64
    got = read_listing(ctx)
    assert [e.name for e in got.entries] == ["qemu-aarch64"]
    assert got.garbage == (f"{MP}/a-fifo: a FIFO, not a regular file: not read",)


def test_canonical_32_bit_headers_are_padded_with_zeros_to_64_bytes():
    heads = canonical_headers(ARMV7)
    # An ELF32 header is 52 bytes; bytes 52..63 of the file are zero in the canonical picture.
    assert [len(heads["EXEC"]), len(heads["DYN"])] == [64, 64]
    assert heads["EXEC"][52:] == bytes(12) and heads["DYN"][52:] == bytes(12)
    assert handles(magic_at(63, b"\x00"), ARMV7) == (True, True)
    assert handles(magic_at(63, b"\x00\x00"), ARMV7) == (False, False)


def test_the_newest_partial_match_wins_when_nothing_matches_fully():
    exec_only = DEBIAN_AARCH64.replace("\\xfe\\xff\\xff\\xff:", "\\xff\\xff\\xff\\xff:")
    newer = parse_register_line(exec_only.replace(":qemu-aarch64:", ":newer:"))
    older = parse_register_line(exec_only.replace(":qemu-aarch64:", ":older:"))
    got = find_handling(Listing((newer, older), (), True), AARCH64)
    assert got.winner is newer and got.shadowed == (older,) and got.partial == (newer, older)
