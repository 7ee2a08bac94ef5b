"""The binfmt_misc files fix steps touch, and their entries compared and restored exactly."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from mab_doctor.emulation.binfmt import MOUNT_POINT, SPECIAL_FILES, Entry, EntryError, parse_entry, parse_register_line
from mab_doctor.fix.kinds import FixError

if TYPE_CHECKING:
    from mab_doctor.fix.writer import HostWriter

STATUS = f"{MOUNT_POINT}/status"
REGISTER = f"{MOUNT_POINT}/register"


def entry_path(name: str) -> str:
    """The kernel file of one entry."""
    return f"{MOUNT_POINT}/{name}"


def entry_names(writer: "HostWriter") -> list[str]:
    """The entries binfmt_misc shows now (none when it is not mounted)."""
    return [n for n in writer.listdir(MOUNT_POINT) if n not in SPECIAL_FILES]


def line_name(line: str) -> str:
    """The entry name a register line defines (its first field)."""
    return line[1:].split(line[0])[0] if len(line) > 1 else ""


def _entry(name: str, text: str | None) -> Entry | None:
    # An entry file or register line (enabled) as a comparable Entry; None when it does not parse.
    if text is None:
        return None
    try:
        is_file = text.startswith(("enabled\n", "disabled\n"))  # else a register line, any delimiter
        return parse_entry(name, text) if is_file else parse_register_line(text)
    except EntryError:
        return None


def same_definition(name: str, text: str | None, line: str) -> bool:
    """Whether an entry file ``text`` defines what register ``line`` would, ignoring enabled/disabled."""
    ours, now = _entry(name, line), _entry(name, text)
    return ours is not None and now is not None and dataclasses.replace(now, enabled=True) == ours


def same_entry(name: str, text: str | None, line: str) -> bool:
    """Whether an entry file ``text`` is what register ``line`` makes: the definition, switched on."""
    ours = _entry(name, line)
    return ours is not None and _entry(name, text) == ours


def entry_difference(name: str, left: str, current: str | None) -> str:
    """How entry ``name`` differs from the text (or register line) --fix left, in words for a person."""
    if current is None:
        return f"{name}: removed since --fix left it"
    ours, now = _entry(name, left), _entry(name, current)
    changed = [f"{f.name} now {getattr(now, f.name)!r}, --fix left {getattr(ours, f.name)!r}"
               for f in dataclasses.fields(Entry) if ours and now and getattr(now, f.name) != getattr(ours, f.name)]
    return f"{name}: " + ("; ".join(changed) or "its text changed since --fix left it")


def restore_entry(step: dict, writer: "HostWriter") -> list[str]:
    """Bring an entry back to the exact definition journaled in ``step['before']`` (if there was one)."""
    name, before = step["name"], step.get("before")
    current = writer.read(entry_path(name))
    if not before or current == before:
        return []
    try:
        entry = parse_entry(name, before)
    except EntryError as exc:
        raise FixError(f"journaled definition of {name} is unreadable: {exc}") from None
    if current is not None:
        writer.write_control(entry_path(name), "-1")
    writer.write_control(REGISTER, entry.register_string() + "\n")
    if not entry.enabled:
        writer.write_control(entry_path(name), "0")
    return []
