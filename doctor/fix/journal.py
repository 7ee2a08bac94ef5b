"""Apply fix actions with a journal written before every change; undo a journal exactly, and only
while the host still holds what it wrote."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from mab_doctor.core.model import Action
from mab_doctor.core.record import record
from mab_doctor.fix.actions import kind_of
from mab_doctor.fix.kinds import FixError, Resolver
from mab_doctor.fix.state import JOURNALS, fix_lock, journal_names, journals_dir, read_private, state_dir, write_private
from mab_doctor.fix.writer import HostWriter, RealHostWriter

SCHEMA = "mab-doctor/journal/v1"
__all__ = ["FixError", "HostChanged", "Journal", "Selection", "apply", "changed_since",
           "fix_lock", "state_dir", "undo"]  # FixError, fix_lock, state_dir: re-exported

Log = Callable[[str], None]


class HostChanged(FixError):
    """Undo refused: the host no longer holds what the journal's steps left (one line in the message,
    one item per place in ``differences``)."""

    def __init__(self, differences: Sequence[str]):
        super().__init__("the host changed since that --fix: " + "; ".join(differences))
        self.differences = list(differences)


def _this_run() -> dict[str, Any]:
    return {"pid": os.getpid(), "started": time.time()}


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


class Journal:
    """One --fix's steps, saved (fsync + rename, 0600) before each change is made. A run that is
    killed leaves its journal "interrupted"; the next --fix continues it, so one undo reverts both."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = path, data
        self.continued = ""  # for_fix: the run this one continues, described

    @classmethod
    def begin(cls) -> Journal:
        """A new journal file for this run."""
        now = time.time_ns()  # nanoseconds in the name: two runs in one second still sort in order
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now // 10**9)) + f".{now % 10**9:09d}"
        path = state_dir() / JOURNALS / f"{stamp}-{os.getpid()}.json"
        run = _this_run()
        journal = cls(path, {"schema": SCHEMA, "started": run["started"], "runs": [run], "steps": [], "undone": False})
        journal.save()
        return journal

    @classmethod
    def for_fix(cls) -> Journal:
        """The journal a --fix run writes to: the newest one if its run was interrupted (killed, or
        stopped by a failed step) and not undone, continued by this run; a new one otherwise.
        ``continued`` says which run it continues ("" for a new journal)."""
        newest = next((j for j in cls.all() if j.steps), None)
        if newest is None or newest.undone or not newest.interrupted:
            return cls.begin()
        newest.continued = newest.describe()
        newest.data["runs"] = [*newest.runs, _this_run()]
        newest.save()
        return newest

    @classmethod
    def all(cls) -> list[Journal]:
        """Every journal in the state directory, newest first."""
        with journals_dir() as fd:
            found = []
            for name in journal_names(fd):
                try:
                    found.append(cls(state_dir() / JOURNALS / name, json.loads(read_private(fd, name))))
                except (OSError, ValueError) as exc:
                    raise FixError(f"cannot read journal {state_dir() / JOURNALS / name}: {exc}; move it "
                                   f"away to go on") from None
        return found

    @classmethod
    def pick(cls, force: bool = False) -> Selection:
        """The journal `undo` reverts: the newest one with steps that is not undone. Journals of runs
        that changed nothing are skipped (noted when newer); an interrupted journal older than a newer
        one with steps is stale: noted, and picked only with ``force``."""
        chosen: Journal | None = None
        newer: Journal | None = None  # the newest journal with steps, before the one we are looking at
        notes: list[str] = []
        for journal in cls.all():
            if not journal.steps:
                if chosen is None and newer is None and not journal.undone:
                    notes.append(f"Skipped {journal.describe()}: that run changed nothing.")
                continue
            stale = newer is not None and journal.interrupted and not journal.undone
            if stale and not (force and chosen is None):
                notes.append(f"Not reverted: {journal.describe()}; a newer --fix ({newer.path.name}) ran after it"
                             + ("." if chosen else ", so it is stale: `mab-doctor undo --force` reverts it anyway."))
            elif chosen is None and not journal.undone:
                chosen = journal
            newer = newer or journal
        return Selection(chosen, tuple(notes))

    @classmethod
    def latest(cls) -> Journal | None:
        """The journal `undo` would revert, if any."""
        return cls.pick().journal

    def save(self) -> None:
        """Persist the journal atomically (fsync, then rename), 0600, never through a symbolic link."""
        with journals_dir(self.path.parent.parent) as fd:
            write_private(fd, self.path.name, json.dumps(self.data, indent=2), self.path.parent)

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The recorded steps, oldest first."""
        return self.data["steps"]

    @property
    def undone(self) -> bool:
        """Whether undo reverted it completely."""
        return bool(self.data.get("undone"))

    @property
    def runs(self) -> list[dict[str, Any]]:
        """The --fix runs that wrote it, oldest first: pid, started, and ended once the run finished."""
        if "runs" in self.data:
            return self.data["runs"]
        pid = self.path.stem.rpartition("-")[2]  # journals of older versions: the pid is in the name
        started = self.data.get("started", 0)
        return [{"pid": int(pid) if pid.isdigit() else "?", "started": started, "ended": started}]

    def _left_pending(self) -> dict | None:
        # The step the last run left pending (killed or failed there); earlier runs' pending steps
        # were followed by a run that carried on.
        last = len(self.runs) - 1
        return next((s for s in reversed(self.steps) if s.get("state") == "pending" and not s.get("undone")
                     and s.get("run", last) == last), None)

    @property
    def interrupted(self) -> bool:
        """Whether its last run stopped half way: killed, or a step left pending by a failure."""
        return bool(self.steps) and ("ended" not in self.runs[-1] or self._left_pending() is not None)

    def describe(self) -> str:
        """Which journal, which runs wrote it (pid, time) and how far they got, for a person."""
        first, *more = self.runs
        text = f"journal {self.path} of --fix pid {first['pid']} at {_when(first['started'])}"
        text += "".join(f", continued by pid {r['pid']} at {_when(r['started'])}" for r in more)
        step = self._left_pending()
        where = f"{step['kind']} {kind_of(step['kind']).label(step)}".strip() if step else ""
        if "ended" not in self.runs[-1]:
            state = (f"killed during {where}" if where else "killed before its first step" if not self.steps
                     else f"killed after step {len(self.steps)}")
        elif where:
            state = f"stopped by a failure at {where}"
        else:
            state = "complete" if self.steps else "nothing to change"
        return f"{text} ({len(self.steps)} step{'s' if len(self.steps) != 1 else ''}, {state})"

    def record(self, step: dict) -> dict:
        """Add a step in state 'pending' and save before the change is made."""
        step["state"], step["run"] = "pending", len(self.runs) - 1
        self.data["steps"].append(step)
        self.save()
        return step

    def done(self, step: dict) -> None:
        """Mark a step applied."""
        step["state"] = "done"
        self.save()

    def finish(self, failure: str | None = None) -> None:
        """Mark this run ended (a run killed before this stays interrupted, and the next --fix continues it)."""
        self.runs[-1]["ended"] = time.time()
        if failure:
            self.runs[-1]["failed"] = failure
        self.save()


@record
class Selection:
    """The journal undo would revert (None: nothing to undo) and what it says about the others."""

    journal: Journal | None
    notes: tuple[str, ...]


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


def changed_since(journal: Journal, writer: HostWriter) -> list[str]:
    """Every place (entry, file, the mount) where the host no longer holds what the journal's steps
    left nor what was there before them: what undo would overwrite without having written it."""
    newest: dict[str, dict] = {}  # place -> the newest step not undone yet that changed it
    for step in journal.steps:
        if not step.get("undone"):
            newest.update(dict.fromkeys(kind_of(step["kind"]).places(step), step))
    accounted = frozenset(newest)
    found = (kind_of(step["kind"]).drift(step, writer, place, accounted) for place, step in newest.items())
    return [difference for difference in found if difference]


def undo(journal: Journal, log: Log, writer: HostWriter | None = None, *, force: bool = False) -> list[str]:
    """Revert every step, newest first, whether it finished or was left pending by a crash; returns
    notes for the user. HostChanged, before anything changes, where the host moved on since the fix
    (unless ``force``). A step is marked undone as soon as it is, so a failed undo can be run again."""
    writer = writer or RealHostWriter()
    differences = [] if force else changed_since(journal, writer)
    if differences:
        raise HostChanged(differences)
    journal.data.setdefault("undo_runs", []).append({**_this_run(), "forced": force})
    journal.save()  # before any change: a journal that cannot be written stops the undo here
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
