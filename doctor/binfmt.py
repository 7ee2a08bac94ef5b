"""binfmt_misc entries: parse the kernel's per-entry files, rebuild exact register strings.

Format per kernel Documentation/admin-guide/binfmt-misc.rst and fs/binfmt_misc.c (matrix (b2)):
register string ":name:type:offset:magic:mask:interpreter:flags"; entry files print
enabled/disabled, interpreter, "flags: " (in the fixed order P O C F), then offset/magic/mask
(lowercase hex) or "extension .ext".
"""

from __future__ import annotations

from dataclasses import dataclass

MOUNT_POINT = "/proc/sys/fs/binfmt_misc"
SPECIAL_FILES = ("register", "status")


class EntryError(ValueError):
    """An entry file that does not look like the kernel's format."""


@dataclass(frozen=True)
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
            return f":{self.name}:E::{self.extension}::{self.interpreter}:{self.flags}"
        mask = esc(self.mask) if self.mask is not None else ""
        return f":{self.name}:M:{self.offset}:{esc(self.magic)}:{mask}:{self.interpreter}:{self.flags}"


def parse_entry(name: str, text: str) -> Entry:
    """Parse the text of /proc/sys/fs/binfmt_misc/<name>; raise EntryError on garbage."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] not in ("enabled", "disabled"):
        raise EntryError(f"{name}: first line is {lines[0] if lines else 'missing'!r}, not enabled/disabled")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    if "interpreter" not in fields:
        raise EntryError(f"{name}: no interpreter line")
    try:
        if "extension" in fields:
            return Entry(name, lines[0] == "enabled", fields["interpreter"], fields.get("flags", ""), "E",
                         extension=fields["extension"].lstrip("."))
        if "magic" not in fields:
            raise EntryError(f"{name}: neither magic nor extension")
        return Entry(name, lines[0] == "enabled", fields["interpreter"], fields.get("flags", ""), "M",
                     offset=int(fields.get("offset", "0")), magic=bytes.fromhex(fields["magic"]),
                     mask=bytes.fromhex(fields["mask"]) if "mask" in fields else None)
    except ValueError as exc:
        if isinstance(exc, EntryError):
            raise
        raise EntryError(f"{name}: {exc}") from None
