"""binfmt_misc entries: parse the kernel's per-entry files, rebuild exact register strings.

Format per kernel Documentation/admin-guide/binfmt-misc.rst and fs/binfmt_misc.c:
register string ":name:type:offset:magic:mask:interpreter:flags"; entry files print
enabled/disabled, interpreter, "flags: " (in the fixed order P O C F), then offset/magic/mask
(lowercase hex) or "extension .ext".
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from mab_doctor.core.facts import Fact
from mab_doctor.core.record import record
from mab_doctor.host.elf import build_header

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.host.platforms import Platform

MOUNT_POINT = "/proc/sys/fs/binfmt_misc"
SPECIAL_FILES = ("register", "status")
BINPRM_BUF_SIZE = 256  # the kernel matches magic within the first 256 bytes it reads of a file
# Each two hex digits (either case) a register line may escape as \xHH, and the byte they stand for.
HEX_PAIRS = {a + b: int(a + b, 16) for a in "0123456789abcdefABCDEF" for b in "0123456789abcdefABCDEF"}


class EntryError(ValueError):
    """An entry file that does not look like the kernel's format."""


@record
class Entry:
    """One registered binfmt_misc handler."""

    name: str
    enabled: bool
    interpreter: str
    flags: str
    kind: str                    # "M" magic or "E" extension
    offset: int = 0
    magic: bytes = b""
    mask: bytes | None = None
    extension: str | None = None

    def register_string(self) -> str:
        """The line to write to `register` that recreates this entry exactly."""
        def esc(raw: bytes) -> str:
            return "".join(f"\\x{b:02x}" for b in raw)
        if self.kind == "E":
            fields = [self.name, "E", "", self.extension or "", "", self.interpreter, self.flags]
        else:
            mask = esc(self.mask) if self.mask is not None else ""
            fields = [self.name, "M", str(self.offset), esc(self.magic), mask, self.interpreter, self.flags]
        # The first character is the delimiter, whatever it is: take one no field contains (an
        # interpreter path may hold ':'), as the kernel splits on it blindly.
        delim = next(d for d in ":#|!%@,;=+^~" if not any(d in f for f in fields))
        return delim + delim.join(fields)


def parse_entry(name: str, text: str) -> Entry:
    """Parse the text of /proc/sys/fs/binfmt_misc/<name>; raise EntryError on garbage."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] not in ("enabled", "disabled"):
        raise EntryError(f"{name}: first line is {_quoted(lines[0]) if lines else 'missing'}, not enabled/disabled")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    if not fields.get("interpreter"):
        raise EntryError(f"{name}: no interpreter")
    # The kernel prints only the flags it knows; anything else was not written by a kernel.
    if not set(fields.get("flags", "")) <= set("POCF"):
        raise EntryError(f"{name}: flags {_quoted(fields['flags'])} are not from P, O, C and F: "
                         f"the kernel would not print them")
    try:
        if "extension" in fields:
            return Entry(name, lines[0] == "enabled", fields["interpreter"], fields.get("flags", ""), "E",
                         extension=fields["extension"].lstrip("."))
        if "magic" not in fields:
            raise EntryError(f"{name}: neither magic nor extension")
        return _checked(Entry(name, lines[0] == "enabled", fields["interpreter"], fields.get("flags", ""), "M",
                              offset=_offset(name, fields.get("offset", "0")), magic=bytes.fromhex(fields["magic"]),
                              mask=bytes.fromhex(fields["mask"]) if "mask" in fields else None))
    except ValueError as exc:
        if isinstance(exc, EntryError):
            raise
        raise EntryError(f"{name}: {exc}") from None


def _quoted(text: str, limit: int = 40) -> str:
    """A host string as an error message quotes it: repr, at most ``limit`` characters of it."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def _offset(name: str, text: str) -> int:
    """A magic offset as the kernel would take it; anything else is an EntryError in plain words."""
    text = text.strip() or "0"
    if not re.fullmatch(r"-?\d{1,6}", text):
        shown = text if len(text) <= 12 else f"{text[:12]}... ({len(text)} characters)"
        raise EntryError(f"{name}: offset {shown} is not a usable number: the kernel would not accept it")
    return int(text)


def _checked(entry: Entry) -> Entry:
    """The entry, if the kernel would accept it (fs/binfmt_misc.c checks these when registering)."""
    if not entry.magic:
        raise EntryError(f"{entry.name}: no magic bytes: the kernel would not accept it")
    if entry.offset < 0:
        raise EntryError(f"{entry.name}: negative offset {entry.offset}: the kernel would not accept it")
    if entry.offset + len(entry.magic) > BINPRM_BUF_SIZE:
        raise EntryError(f"{entry.name}: offset {entry.offset} plus {len(entry.magic)} magic bytes lies beyond the "
                         f"first {BINPRM_BUF_SIZE} bytes the kernel reads: the kernel would not accept it")
    if entry.mask is not None and len(entry.mask) != len(entry.magic):
        raise EntryError(f"{entry.name}: mask of {len(entry.mask)} bytes for a magic of {len(entry.magic)}: "
                         f"the kernel would not accept it")
    return entry


def canonical_headers(platform: "Platform") -> dict[str, bytes]:
    """The first 64 bytes of a typical static executable and PIE of ``platform`` (SYSV OS/ABI)."""
    exec_head, dyn_head = _headers(platform.elf_class, platform.endian, platform.elf_machine)
    return {"EXEC": exec_head, "DYN": dyn_head}


@lru_cache(maxsize=None)
def _headers(elf_class: int, endian: str, machine: int) -> tuple[bytes, bytes]:
    # Built once per platform: a run matches every stored and registered entry against them.
    return tuple(build_header(elf_class, endian, machine, e_type=e_type).ljust(64, b"\0") for e_type in (2, 3))


def entry_matches(entry: Entry, header: bytes) -> bool:
    """Whether the kernel would hand a file starting with ``header`` to this entry (mask applied)."""
    if entry.kind != "M" or not entry.magic:
        return False
    window = header[entry.offset:entry.offset + len(entry.magic)]
    if len(window) < len(entry.magic):
        return False
    if entry.mask is None:
        return window == entry.magic
    # Byte by byte, (file & mask) == (magic & mask): one big-endian integer per side does all bytes at once.
    size = min(len(entry.mask), len(entry.magic))
    mask = int.from_bytes(entry.mask[:size], "big")
    return int.from_bytes(window[:size], "big") & mask == int.from_bytes(entry.magic[:size], "big") & mask


def handles(entry: Entry, platform: "Platform") -> tuple[bool, bool]:
    """(matches static executables, matches PIE/DYN executables) of ``platform``."""
    exec_head, dyn_head = _headers(platform.elf_class, platform.endian, platform.elf_machine)
    return entry_matches(entry, exec_head), entry_matches(entry, dyn_head)


@record
class Listing:
    """Every entry under the mount, newest registration first, plus what could not be parsed."""

    entries: tuple[Entry, ...]
    garbage: tuple[str, ...]
    ordered: bool  # True when the order really is the kernel's (a live mount), not a guess


def read_listing(ctx: "Context") -> Listing:
    """Parse all entries; the kernel lists binfmt_misc entries newest first, and it also
    searches them newest first (fs/binfmt_misc.c adds new entries at the list head)."""
    names = [n for n in ctx.listdir(MOUNT_POINT, raw_order=ctx.is_live) if n not in SPECIAL_FILES]
    entries, garbage = [], []
    for name in names:
        text, why = ctx.try_read(f"{MOUNT_POINT}/{name}")
        if text is None:
            garbage.append(why or f"{name}: unreadable")
            continue
        try:
            entries.append(parse_entry(name, text))
        except EntryError as exc:
            garbage.append(str(exc))
    return Listing(tuple(entries), tuple(garbage), ctx.is_live)


def is_qemu(entry: Entry) -> bool:
    """A QEMU user-mode handler (Debian, upstream, tonistiigi, multiarch naming)."""
    base = entry.interpreter.rsplit("/", 1)[-1]
    return "qemu" in entry.name or base.startswith("qemu-") or "-binfmt-P" in base or "qemu" in entry.interpreter


def _unescape(text: str) -> bytes:
    # binfmt_misc unescapes with UNESCAPE_HEX only: \xHH is one byte, every other character stays as
    # it is (a backslash too); a \x without two hex digits makes the kernel refuse the line (scanarg).
    first, *escaped = text.split("\\x")
    out = bytearray(_utf8(first))
    for part in escaped:
        byte = HEX_PAIRS.get(part[:2])
        if byte is None:
            raise EntryError("\\x not followed by two hex digits: the kernel would not accept it")
        out.append(byte)
        if len(part) > 2:
            out += _utf8(part[2:])
    return bytes(out)


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate: named as when it is encoded on its own
        raise UnicodeEncodeError(exc.encoding, text[exc.start], 0, 1, exc.reason) from None


def parse_register_line(line: str) -> Entry:
    """Parse a register string (binfmt.d line): ':name:type:offset:magic:mask:interpreter:flags'."""
    line = line.rstrip("\n")
    if len(line) < 2:
        raise EntryError(f"register line too short: {_quoted(line)}")
    fields = line[1:].split(line[0])
    if len(fields) < 6:
        raise EntryError(f"register line has {len(fields)} fields, needs 6 or 7: {_quoted(line)}")
    name, kind, offset, magic, mask, interpreter = fields[:6]
    flags = fields[6] if len(fields) > 6 else ""
    if kind not in ("M", "E") or not name or not interpreter:
        raise EntryError(f"register line is not a magic or extension entry: {_quoted(line)}")
    # The kernel's own rules (create_entry): a name it can make a file of, flags from P, O, C and F
    # only, nothing after them, a magic (or extension) that is there.
    if name in (".", "..") or "/" in name:
        raise EntryError(f"register line names {_quoted(name)}: the kernel would not accept it")
    if len(fields) > 7 or not set(flags) <= set("POCF"):
        raise EntryError(f"register line ends in {_quoted(line.split(line[0], 7)[-1])}, not flags from POCF: "
                         f"the kernel would not accept it")
    if not magic or (kind == "E" and "/" in magic):
        raise EntryError(f"register line has no usable {'magic' if kind == 'M' else 'extension'}: "
                         f"the kernel would not accept it")
    try:
        if kind == "E":
            return Entry(name, True, interpreter, _flag_order(flags), "E", extension=magic)
        return _checked(Entry(name, True, interpreter, _flag_order(flags), "M", offset=_offset(name, offset),
                              magic=_unescape(magic), mask=_unescape(mask) if mask else None))
    except ValueError as exc:
        if isinstance(exc, EntryError):
            raise
        raise EntryError(f"register line {_quoted(line)}: {exc}") from None


def _flag_order(flags: str) -> str:
    # The kernel prints flags in the order P O C F, and C implies O (fs/binfmt_misc.c).
    letters = set(flags.upper()) | ({"O"} if "C" in flags.upper() else set())
    return "".join(f for f in "POCF" if f in letters)




# Handlers no --fix may ever modify, whatever they match: they belong to other software.
PROTECTED_PREFIXES = ("jar", "python", "llvm-", "WSLInterop", "CLR", "Mono", "wine")


def is_protected(name: str) -> bool:
    """Entries that belong to other software and are never touched by mab-doctor."""
    return name.startswith(PROTECTED_PREFIXES)


@record
class Handling:
    """Which registered entries would handle one platform's executables."""

    winner: Entry | None                 # what the kernel uses: the newest enabled full match
    shadowed: tuple[Entry, ...] = ()     # older enabled matches the winner hides
    disabled: tuple[Entry, ...] = ()     # matches switched off (the kernel skips them)
    partial: tuple[Entry, ...] = ()      # match static executables or PIEs, not both


def find_handling(listing: Listing, platform: "Platform") -> Handling:
    """Apply every entry's mask to the platform's canonical headers, newest entry first."""
    full, disabled, partial = [], [], []
    for entry in listing.entries:
        exec_ok, dyn_ok = handles(entry, platform)
        if not (exec_ok or dyn_ok):
            continue
        if not entry.enabled:
            disabled.append(entry)
        elif exec_ok and dyn_ok:
            full.append(entry)
        else:
            partial.append(entry)
    winner = full[0] if full else (partial[0] if partial else None)
    rest = [e for e in full + partial if e is not winner]
    return Handling(winner, tuple(rest), tuple(disabled), tuple(partial))


BINFMT_LISTING: Fact[Listing] = Fact("binfmt_misc listing", read_listing)


def listing(ctx: "Context") -> Listing:
    """The binfmt_misc listing, read once per run (shared by the emulation checks)."""
    return ctx.fact(BINFMT_LISTING)
