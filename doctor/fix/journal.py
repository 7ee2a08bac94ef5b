"""Apply fix actions safely: a lock, a journal written before every change, and exact undo."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from mab_doctor.emulation.binfmt import MOUNT_POINT, is_protected, parse_entry, parse_register_line
from mab_doctor.core.files import write_atomically
from mab_doctor.core.model import Action

DEFAULT_STATE_DIR = "/var/lib/mab-doctor"
SCHEMA = "mab-doctor/journal/v1"


class FixError(RuntimeError):
    """A fix step that could not be applied or undone (message is one line for the user)."""


def state_dir() -> Path:
    """Where journals and the lock live: /var/lib/mab-doctor for root, the user's XDG state
    directory otherwise (a user's fix only edits the user's own files); MAB_DOCTOR_STATE_DIR wins."""
    if os.environ.get("MAB_DOCTOR_STATE_DIR"):
        return Path(os.environ["MAB_DOCTOR_STATE_DIR"])
    if os.geteuid() == 0:
        return Path(DEFAULT_STATE_DIR)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mab-doctor"


@contextmanager
def fix_lock(timeout: float = 120.0) -> Iterator[None]:
    """Serialise --fix and undo runs on this host (flock on <state dir>/lock)."""
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FixError(f"another mab-doctor --fix holds {folder / 'lock'}") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_json(path: Path, data: dict) -> None:
    write_atomically(path, json.dumps(data, indent=2))


def _entry_path(name: str) -> str:
    return f"{MOUNT_POINT}/{name}"


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None


class Journal:
    """One --fix run's steps, saved (fsync + rename) before each change is made."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = path, data

    @classmethod
    def begin(cls) -> Journal:
        """A new journal file for this run."""
        folder = state_dir() / "journals"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json"
        journal = cls(path, {"schema": SCHEMA, "started": time.time(), "steps": [], "undone": False})
        journal.save()
        return journal

    @classmethod
    def latest(cls) -> Journal | None:
        """The newest journal that was not undone yet."""
        folder = state_dir() / "journals"
        for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
            data = json.loads(path.read_text())
            if not data.get("undone"):
                return cls(path, data)
        return None

    def save(self) -> None:
        """Persist the journal atomically."""
        _write_json(self.path, self.data)

    def record(self, step: dict) -> dict:
        """Add a step in state 'pending' and save before the change is made."""
        step["state"] = "pending"
        self.data["steps"].append(step)
        self.save()
        return step

    def done(self, step: dict) -> None:
        """Mark a step applied."""
        step["state"] = "done"
        self.save()


def apply(actions: list[Action], journal: Journal, resolve: Callable[[str], str | None],
          log: Callable[[str], None]) -> None:
    """Apply actions in order; every change is journaled first. Raises FixError on the first failure."""
    for action in actions:
        log(f"{action.kind} {action.subject}".strip())
        _apply_one(action, journal, resolve)


def _apply_one(action: Action, journal: Journal, resolve) -> None:
    kind = action.kind
    if kind in ("unregister", "enable-entry", "register") and is_protected(action.subject):
        raise FixError(f"refusing to touch protected binfmt_misc entry {action.subject}")
    if kind == "mount":
        step = journal.record({"kind": "mount", "was_mounted": os.path.exists(f"{MOUNT_POINT}/status")})
        if not step["was_mounted"]:
            _run(action.command())
    elif kind == "enable":
        step = journal.record({"kind": "enable", "before": (_read(f"{MOUNT_POINT}/status") or "").strip()})
        _write(f"{MOUNT_POINT}/status", "1")
    elif kind == "enable-entry":
        step = journal.record({"kind": "enable-entry", "name": action.subject,
                               "before": _read(_entry_path(action.subject))})
        _write(_entry_path(action.subject), "1")
    elif kind == "unregister":
        text = _read(_entry_path(action.subject))
        step = journal.record({"kind": "unregister", "name": action.subject, "before": text})
        if text is not None:
            _write(_entry_path(action.subject), "-1")
    elif kind == "register":
        line = action.line or resolve(action.subject)
        if not line:
            raise FixError(f"no static QEMU definition found for {action.subject} after installing")
        current = _read(_entry_path(action.subject))
        if current is not None:
            # A package's postinst may have registered it meanwhile (systemd-binfmt, update-binfmts).
            if parse_entry(action.subject, current) == dataclasses.replace(parse_register_line(line), enabled=True):
                return
            _apply_one(Action("unregister", action.subject), journal, resolve)
        step = journal.record({"kind": "register", "name": action.subject, "line": line})
        try:
            _write(f"{MOUNT_POINT}/register", line + "\n")
        except OSError as exc:
            raise FixError(f"registering {action.subject} failed: {exc.strerror}") from None
    elif kind in ("persist", "json-set"):
        path = Path(action.subject)
        before = path.read_text() if path.exists() else None
        text = action.line + "\n" if kind == "persist" else _merged_json(path, before, action.line)
        step = journal.record({"kind": kind, "path": str(path), "before": before})
        _replace_file(path, text, before)
    else:  # "run", "install": a plain command; not undoable (packages stay installed)
        step = journal.record({"kind": kind, "argv": list(action.command())})
        _run(action.command(), timeout=900 if kind == "install" else 120)
    journal.done(step)


def _merged_json(path: Path, before: str | None, update: str) -> str:
    try:
        data = json.loads(before) if before and before.strip() else {}
    except json.JSONDecodeError as exc:
        raise FixError(f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}; not editing it") from None
    if not isinstance(data, dict):
        raise FixError(f"{path} does not hold a JSON object; not editing it")
    data.update(json.loads(update))
    return json.dumps(data, indent=1) + "\n"


def _replace_file(path: Path, text: str, before: str | None) -> None:
    # A backup of the old content first, then the atomic replacement.
    path.parent.mkdir(parents=True, exist_ok=True)
    if before is not None:
        path.with_name(path.name + ".mab-doctor.bak").write_text(before)
    write_atomically(path, text)


def _run(argv, timeout: float = 120) -> None:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FixError(f"`{' '.join(argv)}` failed: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise FixError(f"`{' '.join(argv)}` exited {proc.returncode}: {tail[0]}")


def undo(journal: Journal, log: Callable[[str], None]) -> list[str]:
    """Revert every step (newest first), whether it finished or not; returns notes for the user."""
    notes = []
    for step in reversed(journal.data["steps"]):
        notes += _undo_one(step, log) or []
    journal.data["undone"] = True
    journal.save()
    return notes


def _undo_one(step: dict, log) -> list[str] | None:
    kind = step["kind"]
    log(f"undo {kind} {step.get('name') or step.get('path') or ''}".strip())
    if kind == "register":
        current = _read(_entry_path(step["name"]))
        if current is not None:
            _write(_entry_path(step["name"]), "-1")
    elif kind in ("unregister", "enable-entry") and step.get("before"):
        before = parse_entry(step["name"], step["before"])
        current = _read(_entry_path(step["name"]))
        if current != step["before"]:
            if current is not None:
                _write(_entry_path(step["name"]), "-1")
            _write(f"{MOUNT_POINT}/register", before.register_string() + "\n")
            if not before.enabled:
                _write(_entry_path(step["name"]), "0")
    elif kind == "enable" and step.get("before") == "disabled":
        _write(f"{MOUNT_POINT}/status", "0")
    elif kind == "mount" and step.get("was_mounted") is False and os.path.exists(f"{MOUNT_POINT}/status"):
        _write(f"{MOUNT_POINT}/status", "-1")  # it was not mounted before: no entry existed then
        _run(("umount", MOUNT_POINT))
    elif kind in ("persist", "json-set"):
        path = Path(step["path"])
        if step.get("before") is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(step["before"])
            path.with_name(path.name + ".mab-doctor.bak").unlink(missing_ok=True)
    elif kind in ("install", "run") and step.get("state") == "done":
        return [f"not undone: `{' '.join(step['argv'])}` (packages and modules stay; remove them yourself "
                f"if you want)"]
    return None
