"""Fix action kinds that change the kernel's binfmt_misc: mount, enable, enable-entry, unregister, register."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Sequence

from mab_doctor.core.model import Action
from mab_doctor.emulation.binfmt import MOUNT_POINT, is_protected
from mab_doctor.fix.entries import (REGISTER, STATUS, entry_difference, entry_names, entry_path, line_name,
                                    restore_entry, same_definition, same_entry)
from mab_doctor.fix.kinds import ActionKind, FixError, Resolver, StepLog, printf_into, run_or_fail

if TYPE_CHECKING:
    from mab_doctor.fix.writer import HostWriter

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

    def places(self, step: dict) -> tuple[str, ...]:
        return (MOUNT_POINT,)

    def drift(self, step: dict, writer: "HostWriter", place: str, accounted: frozenset[str]) -> str | None:
        if not writer.exists(STATUS):
            return None  # unmounted since: as before the step
        found = step.get("found")
        # Most kernels drop every entry on an unmount: one that neither this journal nor the mount
        # accounts for came later, from someone else, and undo would destroy it.
        later = [n for n in sorted(entry_names(writer)) if n not in (found or ()) and entry_path(n) not in accounted]
        if not later:
            return None
        shown, them = ", ".join(later), "it" if len(later) == 1 else "them"
        if found is None and step.get("state") == "pending":
            return (f"binfmt_misc: {shown} registered, and --fix was killed before it noted what its mount "
                    f"found: unmounting may remove {them}")
        return f"binfmt_misc: {shown} registered since --fix mounted it (unmounting would remove {them})"

    def label(self, step: dict) -> str:
        return MOUNT_POINT


class Enable(ActionKind):
    """Its undo writes 0 only while status still reads enabled (what it left), so it has no drift to check."""

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

    def places(self, step: dict) -> tuple[str, ...]:
        return (entry_path(step["name"]),)

    def left(self, step: dict, current: str | None) -> bool:
        """Whether the entry text ``current`` (None: no entry) is what the step left."""
        raise NotImplementedError

    def drift(self, step: dict, writer: "HostWriter", place: str, accounted: frozenset[str]) -> str | None:
        current, before = writer.read(place), step.get("before")
        if current == before or self.left(step, current):
            return None
        return self.difference(step, current)

    def difference(self, step: dict, current: str | None) -> str:
        """What changed, given that the entry holds neither what was there before nor what the step left."""
        left = step.get("after") or step.get("line") or step.get("before") or ""  # the best we know of it
        return entry_difference(step["name"], left, current)


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
        step["after"] = writer.read(entry_path(action.subject))  # exactly what the kernel shows, for undo
        journal.done(step)

    def left(self, step: dict, current: str | None) -> bool:
        # A step killed before it was marked done did not read the entry back: before, switched on.
        return current == (step.get("after") or (step.get("before") or "").replace("disabled", "enabled", 1))


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

    def left(self, step: dict, current: str | None) -> bool:
        return current is None

    def difference(self, step: dict, current: str | None) -> str:
        return f"{step['name']}: registered again since --fix removed it"


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
        step["after"] = writer.read(entry_path(name))  # exactly what the kernel made of the line, for undo
        journal.done(step)

    def left(self, step: dict, current: str | None) -> bool:
        if step.get("after"):
            return current == step["after"]
        # Killed before it read the entry back, or a journal of an older version: the definition, on.
        return same_entry(step["name"], current, step["line"])

    def undo(self, step: dict, writer: "HostWriter") -> list[str]:
        name = step["name"]
        current = writer.read(entry_path(name))
        if current is None:
            return []  # never registered (the step failed), or removed since
        if not same_definition(name, current, step["line"]):
            return [f"left {name} as it is: its definition changed after --fix registered it"]
        writer.write_control(entry_path(name), "-1")
        return []
