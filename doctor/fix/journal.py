"""Apply fix actions with a journal written before every change, undo a journal exactly; the lock."""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from mab_doctor.core.files import write_atomically
from mab_doctor.core.model import Action
from mab_doctor.fix.actions import kind_of
from mab_doctor.fix.kinds import FixError, Resolver
from mab_doctor.fix.writer import HostWriter, RealHostWriter

DEFAULT_STATE_DIR = "/var/lib/mab-doctor"
SCHEMA = "mab-doctor/journal/v1"
__all__ = ["FixError", "Journal", "apply", "fix_lock", "state_dir", "undo"]  # FixError: re-exported

Log = Callable[[str], None]


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


class Journal:
    """One --fix run's steps, saved (fsync + rename) before each change is made."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = path, data

    @classmethod
    def begin(cls) -> Journal:
        """A new journal file for this run."""
        folder = state_dir() / "journals"
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time_ns()  # nanoseconds in the name: two runs in one second still sort in order
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now // 10**9)) + f".{now % 10**9:09d}"
        path = folder / f"{stamp}-{os.getpid()}.json"
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
        """Persist the journal atomically (fsync, then rename)."""
        write_atomically(self.path, json.dumps(self.data, indent=2))

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The recorded steps, oldest first."""
        return self.data["steps"]

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


def apply(actions: Sequence[Action], journal: Journal, resolve: Resolver, log: Log,
          writer: HostWriter | None = None) -> None:
    """Apply actions in order, each change journaled first; FixError on the first failure (what was
    applied stays, and `undo` of this journal reverts it)."""
    writer = writer or RealHostWriter()
    for action in actions:  # a forbidden step stops the whole plan before anything changes
        kind_of(action).refuse(action)
    for action in actions:
        log(f"{action.kind} {action.subject}".strip())
        try:
            kind_of(action).apply(action, writer, journal, resolve)
        except OSError as exc:
            raise FixError(f"{action.kind} {action.subject}: {exc.strerror or exc}".replace("  ", " ")) from None


def undo(journal: Journal, log: Log, writer: HostWriter | None = None) -> list[str]:
    """Revert every step, newest first, whether it finished or was left pending by a crash; returns
    notes for the user. A step is marked undone as soon as it is, so a failed undo can be run again."""
    writer = writer or RealHostWriter()
    notes: list[str] = []
    for step in reversed(journal.steps):
        if step.get("undone"):
            continue
        kind = kind_of(step["kind"])
        log(f"undo {step['kind']} {kind.label(step)}".strip())
        try:
            notes += kind.undo(step, writer)
        except OSError as exc:
            raise FixError(f"undo {step['kind']} {kind.label(step)}: {exc.strerror or exc}") from None
        step["undone"] = True
        journal.save()
    journal.data["undone"] = True
    journal.save()
    return notes
