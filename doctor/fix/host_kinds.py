"""Fix action kinds outside binfmt_misc: files (persist, json-set) and commands (install, run)."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from mab_doctor.core.model import Action
from mab_doctor.fix.entries import entry_difference, entry_names, entry_path
from mab_doctor.fix.kinds import ActionKind, FixError, Resolver, StepLog, printf_into, run_or_fail

if TYPE_CHECKING:
    from mab_doctor.fix.writer import HostWriter

BACKUP_SUFFIX = ".mab-doctor.bak"
# Merges a JSON object into a JSON file: what a json-set action does, as a command a person can run.
JSON_MERGE = ("import json, os, sys; p = sys.argv[1]; d = json.load(open(p)) if os.path.exists(p) else {}; "
              "d.update(json.loads(sys.argv[2])); json.dump(d, open(p, 'w'), indent=1)")


class FileKind(ActionKind):
    """Replace one regular file atomically, keeping a backup of the old content next to it."""

    mode: int | None = None  # the file's mode afterwards; None keeps the old one (a new file: the umask's)

    def new_text(self, action: Action, before: str | None) -> str:
        """The file's content after the action, given its content before (None: no file)."""
        raise NotImplementedError

    def apply(self, action: Action, writer: "HostWriter", journal: StepLog, resolve: Resolver) -> None:
        path, backup = action.subject, action.subject + BACKUP_SUFFIX
        for place in (path, backup):
            if writer.is_link(place):  # writing would go wherever the link points
                raise FixError(f"refusing to write {place}: it is a symbolic link")
        before = writer.read(path)
        text = self.new_text(action, before)
        if text == before:
            return
        step = journal.record({"kind": self.kind, "path": path, "before": before, "mode_before": writer.mode(path),
                               "backup_before": writer.read(backup), "after": text})
        if before is not None:
            writer.replace_file(backup, before, mode=writer.mode(path))  # as private as the original
        writer.replace_file(path, text, mode=self.mode)
        journal.done(step)

    def undo(self, step: dict, writer: "HostWriter") -> list[str]:
        path, backup = step["path"], step["path"] + BACKUP_SUFFIX
        if step.get("before") is None:
            writer.unlink(path)
        else:
            writer.replace_file(path, step["before"], mode=step.get("mode_before"))
        if "backup_before" not in step:  # journals of older versions: a backup exists only if we made it
            if step.get("before") is not None:
                writer.unlink(backup)
        elif step["backup_before"] is None:
            writer.unlink(backup)
        else:
            writer.replace_file(backup, step["backup_before"])
        return []

    def places(self, step: dict) -> tuple[str, ...]:
        return (step["path"], step["path"] + BACKUP_SUFFIX)

    def drift(self, step: dict, writer: "HostWriter", place: str, accounted: frozenset[str]) -> str | None:
        if "after" not in step:
            return None  # a journal of an older version: what it wrote is unknown
        before, current = step.get("before"), writer.read(place)
        if place == step["path"]:
            left = (before, step["after"])
        else:  # the backup: ours (the old file), or what was there before the step
            left = (step.get("backup_before"), before) if before is not None else (step.get("backup_before"),)
        if current in left:
            return None
        return f"{place}: {'removed' if current is None else 'changed'} since --fix wrote it"


class Persist(FileKind):
    kind, phase, opt_in, mode = "persist", 7, "--persist", 0o644  # systemd-binfmt reads it; anyone may

    def describe(self, action: Action) -> str:
        return f"write {action.subject} so the handler is registered again at boot: {action.line}"

    def command(self, action: Action) -> tuple[str, ...]:
        return printf_into(action.line, action.subject)

    def new_text(self, action: Action, before: str | None) -> str:
        return action.line + "\n"


class JsonSet(FileKind):
    kind, phase, needs_root = "json-set", 8, False

    def describe(self, action: Action) -> str:
        keys = ", ".join(f"{k!r}: {json.dumps(v)}" for k, v in json.loads(action.line).items())
        return f"set {keys} in {action.subject} (every other key kept; old file saved as *{BACKUP_SUFFIX})"

    def command(self, action: Action) -> tuple[str, ...]:
        return ("python3", "-c", JSON_MERGE, action.subject, action.line)

    def new_text(self, action: Action, before: str | None) -> str:
        try:
            data: Any = json.loads(before) if before and before.strip() else {}
        except json.JSONDecodeError as exc:
            raise FixError(f"{action.subject}: line {exc.lineno}, column {exc.colno}: {exc.msg}; "
                           f"not editing it") from None
        if not isinstance(data, dict):
            raise FixError(f"{action.subject} does not hold a JSON object; not editing it")
        update = json.loads(action.line)
        if before is not None and all(k in data and data[k] == v for k, v in update.items()):
            return before  # set already: leave the file (and its formatting) alone
        return json.dumps({**data, **update}, indent=1) + "\n"


class CommandKind(ActionKind):
    """Run a command; nothing to put back on undo (packages and modules stay), only a note."""

    timeout: float = 120

    def command(self, action: Action) -> tuple[str, ...]:
        return tuple(action.argv)

    def apply(self, action: Action, writer: "HostWriter", journal: StepLog, resolve: Resolver) -> None:
        if not action.argv:
            raise FixError(f"{self.kind} {action.subject}: no command to run")
        step = journal.record({"kind": self.kind, "argv": list(action.argv)})
        had = set(entry_names(writer))
        run_or_fail(writer, tuple(action.argv), self.timeout)
        # A package's postinst may register handlers: they came from this fix, and undo's checks
        # must know them (and their exact text) from entries someone else registered later.
        step["registered"] = {n: writer.read(entry_path(n)) for n in entry_names(writer) if n not in had}
        journal.done(step)

    def undo(self, step: dict, writer: "HostWriter") -> list[str]:
        return [f"not undone: `{shlex.join(step['argv'])}` (packages and modules stay; remove them yourself "
                f"if you want)"]

    def places(self, step: dict) -> tuple[str, ...]:
        return tuple(entry_path(n) for n in step.get("registered", {}))

    def drift(self, step: dict, writer: "HostWriter", place: str, accounted: frozenset[str]) -> str | None:
        name, current = place.rsplit("/", 1)[1], writer.read(place)
        left = step["registered"][name]
        return None if current in (None, left) else entry_difference(name, left or "", current)

    def label(self, step: dict) -> str:
        return shlex.join(step.get("argv", ()))


class Install(CommandKind):
    kind, phase, timeout = "install", 3, 900

    def describe(self, action: Action) -> str:
        return f"install {action.subject} with `{shlex.join(action.argv)}`"


class Run(CommandKind):
    kind, phase = "run", 0

    def describe(self, action: Action) -> str:
        return f"run `{shlex.join(action.argv)}`"
