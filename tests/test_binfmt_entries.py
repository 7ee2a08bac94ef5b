"""binfmt_misc entry parsing and exact register strings (real Debian 12 capture)."""

import pytest

from helpers import DEBIAN_AARCH64, HOSTS, MP, entry_text
from mab_doctor.emulation import binfmt
from mab_doctor.emulation.binfmt import (
    Entry, EntryError, Listing, canonical_headers, entry_matches, find_handling, handles, is_protected, is_qemu,
    parse_entry, parse_register_line, read_listing)
from mab_doctor.host.platforms import BY_OCI

DEBIAN = HOSTS / "debian-12-amd64-qemu" / "proc/sys/fs/binfmt_misc"


def test_debian_aarch64_entry_round_trips_to_its_register_string():
    entry = parse_entry("qemu-aarch64", (DEBIAN / "qemu-aarch64").read_text())
    assert entry.enabled and entry.kind == "M" and entry.flags == "POF"
    assert entry.interpreter == "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
    assert entry.magic[:4] == b"\x7fELF" and entry.magic[18] == 0xB7
    # The same line Debian ships in /usr/lib/binfmt.d/qemu-aarch64.conf (hex escapes, flags POF).
    assert entry.register_string() == (
        ":qemu-aarch64:M:0:\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
        "\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff"
        "\\xfe\\xff\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:POF")


def test_every_captured_entry_parses():
    names = [p.name for p in DEBIAN.iterdir() if p.name not in ("register", "status")]
    assert len(names) > 20
    for name in names:
        assert parse_entry(name, (DEBIAN / name).read_text()).name == name


def test_extension_entry():
    entry = parse_entry("jar", "disabled\ninterpreter /usr/bin/jexec\nflags: \nextension .jar\n")
    assert not entry.enabled and entry.register_string() == ":jar:E::jar::/usr/bin/jexec:"


@pytest.mark.parametrize("text, phrase", [
    ("", "missing"), ("garbage\n", "not enabled/disabled"), ("enabled\nflags: F\n", "no interpreter"),
    ("enabled\ninterpreter /x\nflags: F\n", "neither magic nor extension"),
    ("enabled\ninterpreter /x\nmagic zz\n", "non-hexadecimal"),
])
def test_garbage_is_a_clear_error(text, phrase):
    with pytest.raises(EntryError, match=phrase):
        parse_entry("bad", text)



ELF = b"\x7fELF"
AARCH64 = BY_OCI["linux/arm64"]


def magic_entry(name="e", magic=ELF, mask=None, offset=0, enabled=True, interpreter="/usr/bin/qemu-aarch64-static"):
    return Entry(name, enabled, interpreter, "F", "M", offset=offset, magic=magic, mask=mask)


def test_entry_fields_of_a_magic_entry_with_an_offset_and_mask():
    entry = parse_entry("x", "enabled\ninterpreter /bin/i\nflags: OC\noffset 2\nmagic 0aff\nmask ff0f\n")
    assert entry == Entry("x", True, "/bin/i", "OC", "M", offset=2, magic=b"\x0a\xff", mask=b"\xff\x0f")
    assert entry.register_string() == ":x:M:2:\\x0a\\xff:\\xff\\x0f:/bin/i:OC"


def test_a_magic_entry_without_mask_or_offset_or_flags():
    entry = parse_entry("y", "disabled\ninterpreter /bin/i\nmagic 7f454c46\n")
    assert entry == Entry("y", False, "/bin/i", "", "M", offset=0, magic=ELF, mask=None)
    assert entry.register_string() == ":y:M:0:\\x7f\\x45\\x4c\\x46::/bin/i:"


def test_register_string_picks_a_delimiter_no_field_holds():
    assert Entry("z", True, "/opt/a:b", "F", "E", extension="z").register_string() == "#z#E##z##/opt/a:b#F"
    assert Entry("z", True, "/opt/a:b#c", "", "E").register_string() == "|z|E||||/opt/a:b#c|"


@pytest.mark.parametrize("text, message", [
    ("enabled\ninterpreter /x\nflags: PX\nmagic 00\n",
     "bad: flags 'PX' are not from P, O, C and F: the kernel would not print them"),
    ("enabled\ninterpreter /x\nmagic zz\n",
     "bad: non-hexadecimal number found in fromhex() arg at position 0"),
    ("enabled\ninterpreter /x\nmagic\n", "bad: no magic bytes: the kernel would not accept it"),
    ("enabled\ninterpreter /x\noffset -1\nmagic 00\n", "bad: negative offset -1: the kernel would not accept it"),
    ("enabled\ninterpreter /x\noffset 1234567\nmagic 00\n",
     "bad: offset 1234567 is not a usable number: the kernel would not accept it"),
    ("enabled\ninterpreter /x\noffset 1234567890123\nmagic 00\n",
     "bad: offset 123456789012... (13 characters) is not a usable number: the kernel would not accept it"),
    ("enabled\ninterpreter /x\noffset 255\nmagic 0000\n",
     "bad: offset 255 plus 2 magic bytes lies beyond the first 256 bytes the kernel reads: the kernel would not "
     "accept it"),
    ("enabled\ninterpreter /x\nmagic 0000\nmask ff\n",
     "bad: mask of 1 bytes for a magic of 2: the kernel would not accept it"),
    ("x" * 41, "bad: first line is '" + "x" * 40 + "'... (41 characters), not enabled/disabled"),
    ("x" * 40, "bad: first line is 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', not enabled/disabled"),
    ("\n\n", "bad: first line is missing, not enabled/disabled"),
    ("enabled\ninterpreter \n", "bad: no interpreter"),
])
def test_entry_errors_exactly(text, message):
    with pytest.raises(EntryError) as caught:
        parse_entry("bad", text)
    assert str(caught.value) == message


@pytest.mark.parametrize("offset, magic, ok", [("254", "0000", True), ("0", "00" * 256, True),
                                              ("", "00", True), (" 7 ", "00", True), ("-0", "00", True)])
def test_offsets_the_kernel_accepts(offset, magic, ok):
    entry = parse_entry("o", f"enabled\ninterpreter /x\noffset {offset}\nmagic {magic}\n")
    assert entry.offset == int(offset.strip() or "0")


def test_extension_keeps_its_name_without_the_dot():
    entry = parse_entry("e", "enabled\ninterpreter /x\nflags: F\nextension ..jar\n")
    assert (entry.kind, entry.extension, entry.flags, entry.enabled) == ("E", "jar", "F", True)


def test_canonical_headers_are_an_exec_and_a_dyn_of_64_bytes():
    heads = canonical_headers(AARCH64)
    assert sorted(heads) == ["DYN", "EXEC"]
    assert [len(h) for h in heads.values()] == [64, 64]
    assert heads["EXEC"][:20] == ELF + b"\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\xb7\x00"
    assert heads["DYN"][16:18] == b"\x03\x00"


def test_entry_matches_applies_the_mask_and_the_offset():
    head = ELF + b"\x02\x01"
    assert entry_matches(magic_entry(), head)
    assert not entry_matches(magic_entry(magic=b"\x7fELG"), head)
    assert entry_matches(magic_entry(magic=b"\x7fELG", mask=b"\xff\xff\xff\xf0"), head)
    assert entry_matches(magic_entry(magic=b"\x02\x01", offset=4), head)
    assert not entry_matches(magic_entry(magic=b"\x02\x01\x00", offset=4), head)  # the file is shorter
    assert not entry_matches(magic_entry(magic=b""), head)
    assert not entry_matches(Entry("e", True, "/x", "", "E", extension="jar"), head)


def test_debian_aarch64_handles_both_kinds_and_not_other_platforms():
    entry = parse_register_line(DEBIAN_AARCH64)
    assert handles(entry, AARCH64) == (True, True)
    assert handles(entry, BY_OCI["linux/amd64"]) == (False, False)
    exec_only = parse_register_line(DEBIAN_AARCH64.replace("\\xfe\\xff\\xff\\xff:", "\\xff\\xff\\xff\\xff:"))
    assert handles(exec_only, AARCH64) == (True, False)


def test_find_handling_newest_full_match_wins():
    full = parse_register_line(DEBIAN_AARCH64)
    older = parse_register_line(DEBIAN_AARCH64.replace(":qemu-aarch64:", ":old-aarch64:"))
    off = Entry("off", False, full.interpreter, "F", "M", magic=full.magic, mask=full.mask)
    partial = parse_register_line(DEBIAN_AARCH64.replace("\\xfe\\xff\\xff\\xff:", "\\xff\\xff\\xff\\xff:")
                                  .replace(":qemu-aarch64:", ":exec-only:"))
    other = parse_register_line(DEBIAN_AARCH64.replace("\\xb7", "\\x3e"))
    got = find_handling(Listing((partial, off, full, other, older), (), True), AARCH64)
    assert got.winner is full and got.shadowed == (older, partial)
    assert got.disabled == (off,) and got.partial == (partial,)
    only_partial = find_handling(Listing((partial,), (), True), AARCH64)
    assert only_partial.winner is partial and only_partial.shadowed == ()
    assert find_handling(Listing((other, off), (), True), AARCH64).winner is None


def test_read_listing_of_a_tree(make_host):
    ctx = make_host({f"{MP}/status": "enabled\n", f"{MP}/register": "",
                     f"{MP}/qemu-aarch64": entry_text(DEBIAN_AARCH64), f"{MP}/broken": "garbage\n"})
    got = read_listing(ctx)
    assert [e.name for e in got.entries] == ["qemu-aarch64"] and got.ordered is False
    assert got.garbage == ("broken: first line is 'garbage', not enabled/disabled",)
    assert binfmt.listing(ctx) is binfmt.listing(ctx)
    assert binfmt.listing(ctx).entries == got.entries


def test_read_listing_names_an_unreadable_entry(make_host):
    import os

    ctx = make_host({f"{MP}/status": "enabled\n"})
    os.mkfifo(ctx.path(f"{MP}/fifo"))
    assert read_listing(ctx).garbage == (f"{MP}/fifo: a FIFO, not a regular file: not read",)


@pytest.mark.parametrize("name, interpreter, qemu", [
    ("qemu-arm", "/usr/bin/x", True), ("arm", "/usr/bin/qemu-arm-static", True),
    ("arm", "/usr/libexec/qemu-binfmt/arm-binfmt-P", True), ("arm", "/opt/qemu/bin/arm", True),
    ("aarch64", "/usr/libexec/x/aarch64-binfmt-P", True), ("jar", "/usr/bin/jexec", False),
    ("box", "/usr/bin/box64", False),
])
def test_is_qemu(name, interpreter, qemu):
    assert is_qemu(Entry(name, True, interpreter, "", "E", extension="x")) is qemu


@pytest.mark.parametrize("name, protected", [
    ("jar", True), ("python3.11", True), ("llvm-14-runtime.binfmt", True), ("WSLInterop", True), ("CLR", True),
    ("Mono", True), ("wine", True), ("qemu-arm", False), ("xjar", False), ("llvm", False),
])
def test_is_protected(name, protected):
    assert is_protected(name) is protected


@pytest.mark.parametrize("line, entry", [
    (":n:M::\\x7fELF::/i:", Entry("n", True, "/i", "", "M", offset=0, magic=ELF, mask=None)),
    (":n:M:3:\\x7f\\x45::/i:FCP\n", Entry("n", True, "/i", "POCF", "M", offset=3, magic=b"\x7fE", mask=None)),
    (":n:M::a\\b:\\xff\\xff\\xff:/i:C", Entry("n", True, "/i", "OC", "M", magic=b"a\\b", mask=b"\xff\xff\xff")),
    ("#n#E##py##/i:x#F", Entry("n", True, "/i:x", "F", "E", extension="py")),
    (":n:E::py::/i", Entry("n", True, "/i", "", "E", extension="py")),
])
def test_register_lines(line, entry):
    assert parse_register_line(line) == entry


@pytest.mark.parametrize("line, message", [
    (":", "register line too short: ':'"),
    (":a:M:0:\\x00:", "register line has 5 fields, needs 6 or 7: ':a:M:0:\\\\x00:'"),
    (":a:X:0:\\x00::/i:", "register line is not a magic or extension entry: ':a:X:0:\\\\x00::/i:'"),
    ("::M:0:\\x00::/i:", "register line is not a magic or extension entry: '::M:0:\\\\x00::/i:'"),
    (":a:M:0:\\x00:::", "register line is not a magic or extension entry: ':a:M:0:\\\\x00:::'"),
    (":..:M:0:\\x00::/i:", "register line names '..': the kernel would not accept it"),
    (":a/b:M:0:\\x00::/i:", "register line names 'a/b': the kernel would not accept it"),
    (":.:M:0:\\x00::/i:", "register line names '.': the kernel would not accept it"),
    (":a:M:0:\\x00::/i:F:x", "register line ends in 'F:x', not flags from POCF: the kernel would not accept it"),
    (":a:M:0:\\x00::/i:Q", "register line ends in 'Q', not flags from POCF: the kernel would not accept it"),
    (":a:M:0:::/i:", "register line has no usable magic: the kernel would not accept it"),
    (":a:E::x/y::/i:", "register line has no usable extension: the kernel would not accept it"),
    (":a:M:0:\\x4::/i:", "\\x not followed by two hex digits: the kernel would not accept it"),
    (":a:M:0:\\xzz::/i:", "\\x not followed by two hex digits: the kernel would not accept it"),
    (":a:M:0:\\x00:\\x0:/i:", "\\x not followed by two hex digits: the kernel would not accept it"),
    (":a:M:x:\\x00::/i:", "a: offset x is not a usable number: the kernel would not accept it"),
])
def test_register_line_errors_exactly(line, message):
    with pytest.raises(EntryError) as caught:
        parse_register_line(line)
    assert str(caught.value) == message
