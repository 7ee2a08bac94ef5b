"""binfmt_misc entry parsing and exact register strings (real Debian 12 capture)."""

import pytest

from helpers import HOSTS
from mab_doctor.emulation.binfmt import EntryError, parse_entry

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
