"""The kernel's parsing for the fake binfmt_misc: register strings (create_entry), commands, entry files."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from mab_doctor.emulation.binfmt import MOUNT_POINT

BINPRM_BUF_SIZE = 256          # magic + offset must fit the first bytes the kernel reads
MAX_REGISTER_LENGTH = 1920
HEX = "0123456789abcdefABCDEF"


def kernel_error(code: int, path: str) -> OSError:
    """The OSError a write() or open() on the real file would raise."""
    return OSError(code, os.strerror(code), path)


@dataclass
class KernelEntry:
    """One registered handler, as the kernel keeps it."""

    name: str
    interpreter: str
    flags: str                   # subset of "POCF", kept in that order (the kernel's print order)
    magic: bytes = b""
    mask: bytes | None = None
    offset: int = 0
    extension: str | None = None  # set for type E entries
    enabled: bool = True

    def text(self) -> str:
        """The entry file exactly as entry_status() prints it."""
        out = f"{'enabled' if self.enabled else 'disabled'}\ninterpreter {self.interpreter}\nflags: {self.flags}\n"
        if self.extension is not None:
            return out + f"extension .{self.extension}\n"
        out += f"offset {self.offset}\nmagic {self.magic.hex()}"
        if self.mask is not None:
            out += f"\nmask {self.mask.hex()}"
        return out + "\n"


def _unescape(raw: str) -> bytes:
    # string_unescape_inplace(UNESCAPE_HEX): \xHH becomes one byte, everything else stays as it is.
    out, i = bytearray(), 0
    while i < len(raw):
        pair = raw[i + 2:i + 4]
        if raw.startswith("\\x", i) and len(pair) == 2 and all(c in HEX for c in pair):
            out.append(int(pair, 16))
            i += 4
        else:
            out.extend(raw[i].encode())
            i += 1
    return bytes(out)


def _scanarg(buf: str, p: int, delim: str) -> tuple[str, int] | None:
    # scanarg(): up to the next delimiter; every \x must be followed by two hex digits.
    start = p
    while buf[p] != delim:
        if buf[p] == "\\" and buf[p + 1] == "x":
            if buf[p + 2] not in HEX or buf[p + 3] not in HEX:
                return None
            p += 4
        else:
            p += 1
    return buf[start:p], p + 1


def parse_register(data: str) -> KernelEntry:
    """create_entry(): parse a register string the way the kernel does; OSError(EINVAL) when it would."""
    bad = kernel_error(errno.EINVAL, f"{MOUNT_POINT}/register")
    if not 11 <= len(data) <= MAX_REGISTER_LENGTH:
        raise bad
    delim = data[0]
    buf = data + delim * 8  # the kernel pads with the delimiter so a short string still parses

    def field_at(p: int) -> tuple[str, int]:
        end = buf.index(delim, p)
        return buf[p:end], end + 1

    name, p = field_at(1)
    if not name or name in (".", "..") or "/" in name:
        raise bad
    kind, p = buf[p], p + 1
    if kind not in "EM" or buf[p] != delim:
        raise bad
    p += 1
    entry = KernelEntry(name, "", "")
    if kind == "M":
        offset, p = field_at(p)
        if offset and not (offset.isdigit() and int(offset) <= 2**31 - 1):
            raise bad
        entry.offset = int(offset or 0)
        magic, mask = _scanarg(buf, p, delim), None
        if magic is None or not magic[0]:
            raise bad
        mask = _scanarg(buf, magic[1], delim)
        if mask is None:
            raise bad
        p = mask[1]
        entry.magic = _unescape(magic[0])
        entry.mask = _unescape(mask[0]) if mask[0] else None
        if entry.mask is not None and len(entry.mask) != len(entry.magic):
            raise bad
        if len(entry.magic) > BINPRM_BUF_SIZE or BINPRM_BUF_SIZE - len(entry.magic) < entry.offset:
            raise bad
    else:
        _, p = field_at(p)                 # offset: ignored
        extension, p = field_at(p)
        if not extension or "/" in extension:
            raise bad
        entry.extension = extension
        _, p = field_at(p)                 # mask: ignored
    entry.interpreter, p = field_at(p)
    if not entry.interpreter:
        raise bad
    letters = set()
    while buf[p] in "POCF":
        letters |= {buf[p]} | ({"O"} if buf[p] == "C" else set())  # C implies O
        p += 1
    if buf[p] == "\n":
        p += 1
    if p != len(data):  # anything else after the flags (or a missing delimiter) is invalid
        raise bad
    entry.flags = "".join(f for f in "POCF" if f in letters)
    return entry


def parse_command(data: str, path: str) -> str:
    """parse_command(): '' (an empty write does nothing), 'disable', 'enable' or 'remove'; EINVAL otherwise."""
    if not data:
        return ""
    word = data[:-1] if data.endswith("\n") else data
    command = {"0": "disable", "1": "enable", "-1": "remove"}.get(word) if len(data) <= 3 else None
    if command is None:
        raise kernel_error(errno.EINVAL, path)
    return command
