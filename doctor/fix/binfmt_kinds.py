"""Fix action kinds that change the kernel's binfmt_misc: mount, enable, enable-entry, unregister, register."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Sequence

from mab_doctor.core.model import Action
from mab_doctor.emulation.binfmt import (MOUNT_POINT, SPECIAL_FILES, Entry, EntryError, is_protected, parse_entry,
                                         parse_register_line)
from mab_doctor.fix.kinds import ActionKind, FixError, Resolver, StepLog, printf_into, run_or_fail

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


def _definition(name: str, text: str | None, enabled: bool = True) -> Entry | None:
    # An entry file or register line as a comparable Entry; None when it does not parse.
    if text is None:
        return None
    try:
        is_file = text.startswith(("enabled\n", "disabled\n"))  # else a register line, any delimiter
        entry = parse_entry(name, text) if is_file else parse_register_line(text)
    except EntryError:
        return None
    return dataclasses.replace(entry, enabled=enabled)


def same_definition(name: str, text: str | None, line: str) -> bool:
    """Whether an entry file ``text`` defines what register ``line`` would, ignoring enabled/disabled."""
    ours = _definition(name, line)
    return ours is not None and _definition(name, text) == ours


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


class Mount(ActionKind):
    kind, phase = "mount", 1

    def describe(self, action: Action) -> str:
        return f"mount binfmt_misc at {MOUNT_POINT}"

    def command(self, action: Action) -> tuple[str, ...]:
        return ("mount", "-t", "binfmt_misc", "binfmt_misc", MOUNT_POINT)

    def apply(self, action: Action, writer: "HostWriter", journal: StepLog, resolve: Resolver) -> None:
        if writer.exists(STATUS):
            return  # mounted already: nothing to change, nothing to journal
        step = journal.record({"kind": self.kind, "was_mounted": False})
        run_or_fail(writer, self.command(action), timeout=60)
        step["found"] = entry_names(writer)  # entries outlive an unmount: these were there before
        journal.done(step)

    def undo(self, step: dict, writer: "HostWriter") -> list[str]:
        if step.get("was_mounted") is not False or not writer.exists(STATUS):
            return []
        found = step.get("found")
        if found is None and step.get("state") == "done":
            found = []  # journals of older versions: every entry came after the mount
        # The kernel keeps registered entries alive after an unmount, so remove what came later first.
        for name in entry_names(writer) if found is not None else []:
            if name not in found:
                writer.write_control(entry_path(name), "-1")
        run_or_fail(writer, ("umount", MOUNT_POINT), timeout=60)
        return []

    def label(self, step: dict) -> str:
        return MOUNT_POINT


class Enable(ActionKind):
    kind, phase = "enable", 2

    def describe(self, action: Action) -> str:
        return "switch binfmt_misc on (its status reads disabled, so no handler runs)"

    def command(self, action: Action) -> tuple[str, ...]:
        return ("sh", "-c", f"echo 1 > {STATUS}")

    def apply(self, action: Action, writer: "HostWriter", journal: StepLog, resolve: Resolver) -> None:
        before = (writer.read(STATUS) or "").strip()
        if before == "enabled":
            return
        step = journal.record({"kind": self.kind, "before": before})
        writer.write_control(STATUS, "1")
        journal.done(step)

    def undo(self, step: dict, writer: "HostWriter") -> list[str]:
        if step.get("before") == "disabled" and (writer.read(STATUS) or "").strip() == "enabled":
            writer.write_control(STATUS, "0")
        return []

    def label(self, step: dict) -> str:
        return STATUS


class EntryKind(ActionKind):
    """Kinds that change one named entry: never one that belongs to other software."""

    def refuse(self, action: Action) -> None:
        if is_protected(action.subject):
            raise FixError(f"refusing to touch protected binfmt_misc entry {action.subject}")

    def undo(self, step: dict, writer: "HostWriter") -> list[str]:
        return restore_entry(step, writer)


class EnableEntry(EntryKind):
    kind, phase = "enable-entry", 4

    def describe(self, action: Action) -> str:
        return f"switch the binfmt_misc entry {action.subject} back on"

    def command(self, action: Action) -> tuple[str, ...]:
        return ("sh", "-c", f"echo 1 > {entry_path(action.subject)}")

    def apply(self, action: Action, writer: "HostWriter", journal: StepLog, resolve: Resolver) -> None:
        before = writer.read(entry_path(action.subject))
        if before is not None and before.startswith("enabled"):
            return
        step = journal.record({"kind": self.kind, "name": action.subject, "before": before})
        writer.write_control(entry_path(action.subject), "1")
        journal.done(step)


class Unregister(EntryKind):
    kind, phase = "unregister", 5

    def describe(self, action: Action) -> str:
        return f"remove the binfmt_misc entry {action.subject} (its definition is journaled for undo)"

    def command(self, action: Action) -> tuple[str, ...]:
        return ("sh", "-c", f"echo -1 > {entry_path(action.subject)}")

    def apply(self, action: Action, writer: "HostWriter", journal: StepLog, resolve: Resolver) -> None:
        before = writer.read(entry_path(action.subject))
        if before is None:
            return  # gone already
        step = journal.record({"kind": self.kind, "name": action.subject, "before": before})
        writer.write_control(entry_path(action.subject), "-1")
        journal.done(step)


class Register(EntryKind):
    kind, phase = "register", 6

    def describe(self, action: Action) -> str:
        if not action.line:
            return f"register {action.subject} with the definition of the package installed just before"
        return f"register {action.subject}: {action.line}"

    def command(self, action: Action) -> tuple[str, ...]:
        return printf_into(action.line or f"<{action.subject} definition from the package just installed>",
                           REGISTER)

    def redundant(self, action: Action, planned: Sequence[Action]) -> bool:
        # A deferred register (install first, read the definition then) is moot when the plan
        # registers the same entry from a definition it has already.
        return not action.line and any(o.kind == self.kind and o.subject == action.subject and o.line
                                       for o in planned)

    def refuse(self, action: Action) -> None:
        super().refuse(action)
        if action.line and line_name(action.line) != action.subject:
            raise FixError(f"register line {action.line!r} does not define {action.subject}")

    def apply(self, action: Action, writer: "HostWriter", journal: StepLog, resolve: Resolver) -> None:
        name = action.subject
        line = action.line or resolve(name)
        if not line:
            raise FixError(f"no static QEMU definition found for {name} after installing")
        self.refuse(dataclasses.replace(action, line=line))
        current = writer.read(entry_path(name))
        if current is not None:
            # Identical and on already (a package's postinst may have registered it): nothing to do.
            if current.startswith("enabled") and same_definition(name, current, line):
                return
            Unregister().apply(Action(Unregister.kind, name), writer, journal, resolve)
        step = journal.record({"kind": self.kind, "name": name, "line": line})
        try:
            writer.write_control(REGISTER, line + "\n")
        except OSError as exc:
            raise FixError(f"registering {name} failed: {exc.strerror or exc}") from None
        journal.done(step)

    def undo(self, step: dict, writer: "HostWriter") -> list[str]:
        name = step["name"]
        current = writer.read(entry_path(name))
        if current is None:
            return []  # never registered (the step failed), or removed since
        if not same_definition(name, current, step["line"]):
            return [f"left {name} as it is: its definition changed after --fix registered it"]
        writer.write_control(entry_path(name), "-1")
        return []
