"""The fake binfmt_misc follows the kernel: the same errors, the same entry files as a real capture."""

from __future__ import annotations

import errno

import pytest

from fakes.binfmt_kernel import FakeHost, parse_register
from helpers import HOSTS
from mab_doctor.emulation.binfmt import parse_entry

MP = "/proc/sys/fs/binfmt_misc"
DEBIAN = HOSTS / "debian-12-amd64-qemu"
INTERP = "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"


def errno_of(call, *args) -> int | None:
    try:
        call(*args)
    except OSError as exc:
        return exc.errno
    return None


def test_entry_file_is_what_a_real_kernel_printed():
    line = (DEBIAN / "usr/lib/binfmt.d/qemu-aarch64.conf").read_text().splitlines()[0]
    host = FakeHost(files={INTERP: ""})
    host.register(line)
    assert host.read(f"{MP}/qemu-aarch64") == (DEBIAN / "proc/sys/fs/binfmt_misc/qemu-aarch64").read_text()


def test_extension_entry_and_flag_order():
    host = FakeHost(files={"/usr/bin/qt": ""})
    host.register(":qt:E::qt::/usr/bin/qt:FCP")  # C implies O; printed as P O C F
    assert host.read(f"{MP}/qt") == "enabled\ninterpreter /usr/bin/qt\nflags: POCF\nextension .qt\n"
    assert parse_entry("qt", host.read(f"{MP}/qt")).flags == "POCF"


@pytest.mark.parametrize("line", [
    ":short:",                                     # under 11 bytes
    ":a/b:M::\\x7f::/bin/x:",                       # '/' in the name
    ":.:E::x::/bin/x:", ":..:E::x::/bin/x:",        # . and ..
    "::M::\\x7fELF::/bin/x:",                       # empty name
    ":q:X::\\x7f::/bin/x:",                         # neither M nor E
    ":q:M::\\x7fELF::/bin/x:Z",                     # a flag the kernel does not know
    ":q:M::\\x7fELF::/bin/x:f",                     # flags are upper case only
    ":q:M::\\x7fELF:\\xff\\xff:/bin/x:",            # mask shorter than magic
    ":q:M::\\x7fEL:\\xff\\xff\\xff\\xff\\xff:/bin/x:",  # ... or longer
    ":q:M:-1:\\x7fELF::/bin/x:",                    # negative offset
    ":q:M:250:\\x7fELF\\x02\\x01\\x01\\x00::/bin/x:",   # offset + magic past the 256 bytes read
    ":q:M::\\x7g::/bin/x:",                          # \\x without two hex digits
    ":q:M:::::/bin/x:",                             # empty magic
    ":q:M::\\x7fELF:::",                            # empty interpreter
    ":q:M::\\x7fELF::/bin/x",                       # no delimiter before the (empty) flags
    ":q:E::x/y::/bin/x:",                           # '/' in an extension
])
def test_malformed_register_strings_are_einval(line):
    host = FakeHost(files={"/bin/x": ""})
    assert errno_of(host.write_control, f"{MP}/register", line + "\n") == errno.EINVAL
    assert host.snapshot().entries == {}


def test_taken_name_is_eexist_and_a_missing_f_interpreter_enoent():
    host = FakeHost(files={"/bin/x": ""})
    host.register(":q:M::\\x7fELF::/bin/x:F")
    assert errno_of(host.register, ":q:M::\\x7fELF::/bin/x:") == errno.EEXIST
    assert errno_of(host.register, ":r:M::\\x7fELF::/bin/missing:F") == errno.ENOENT
    host.register(":r:M::\\x7fELF::/bin/missing:")  # without F the kernel opens nothing now


def test_entry_and_status_commands():
    host = FakeHost(files={"/bin/x": ""})
    for name in ("a", "b"):
        host.register(f":{name}:E::{name}::/bin/x:")
    host.write_control(f"{MP}/a", "0")
    assert host.read(f"{MP}/a").startswith("disabled\n") and host.read(f"{MP}/b").startswith("enabled\n")
    host.write_control(f"{MP}/a", "1\n")
    assert host.read(f"{MP}/a").startswith("enabled\n")
    assert errno_of(host.write_control, f"{MP}/a", "2") == errno.EINVAL
    assert errno_of(host.write_control, f"{MP}/a", "enable") == errno.EINVAL
    assert host.listdir(MP) == ["register", "status", "b", "a"]  # newest first, as the kernel lists them
    host.write_control(f"{MP}/b", "-1")
    assert errno_of(host.write_control, f"{MP}/b", "1") == errno.ENOENT
    host.write_control(f"{MP}/status", "0")
    assert host.read(f"{MP}/status") == "disabled\n"
    host.write_control(f"{MP}/status", "-1")  # removes every entry; the status stays as it was
    assert host.snapshot().entries == {} and host.read(f"{MP}/status") == "disabled\n"


def test_nothing_without_a_mount():
    host = FakeHost(mounted=False, files={"/bin/x": ""})
    assert errno_of(host.write_control, f"{MP}/register", ":q:E::q::/bin/x:\n") == errno.ENOENT
    assert errno_of(host.write_control, f"{MP}/status", "1") == errno.ENOENT
    assert host.read(f"{MP}/status") is None and host.listdir(MP) == [] and not host.exists(f"{MP}/status")
    assert host.run(("umount", MP), 5).returncode == 32
    assert host.run(("mount", "-t", "binfmt_misc", "binfmt_misc", MP), 5).returncode == 0
    assert host.read(f"{MP}/status") == "enabled\n"
    assert host.run(("mount", "-t", "binfmt_misc", "binfmt_misc", MP), 5).returncode == 32  # already


@pytest.mark.parametrize("survive", [False, True])
def test_umount_drops_entries_on_new_kernels_and_keeps_them_on_old_ones(survive):
    host = FakeHost(files={"/bin/x": ""}, entries_survive_umount=survive)
    host.register(":q:E::q::/bin/x:")
    host.run(("umount", MP), 5)
    host.run(("mount", "-t", "binfmt_misc", "binfmt_misc", MP), 5)
    assert ("q" in host.snapshot().entries) is survive


def test_parse_register_decodes_only_hex_escapes():
    entry = parse_register(":q:M:2:\\x7fA\\\\::/bin/x:OP\n")
    assert (entry.offset, entry.magic, entry.mask, entry.flags) == (2, b"\x7fA\\\\", None, "PO")
    entry = parse_register(":q:M::\\x7f\\x0F:\\xff\\xFF:/bin/x:")
    assert (entry.magic, entry.mask) == (b"\x7f\x0f", b"\xff\xff")
    assert entry.text().endswith("magic 7f0f\nmask ffff\n")  # printed in lower case
