"""Dying at a named point of a fix, for crash tests: FakeHost tests raise Crash, a child process on the
real host SIGKILLs itself. A point reads "<kind>:<when>[:<nth>]" (the nth step of that kind, 1 by default):

  before  the step is journaled (pending) and its change not made yet
  after   the change is made and the step not yet marked done
  during  install/run: while the command runs; persist/json-set: the backup written, the file not yet
  begin   kind "journal": the run's journal exists and no step was taken
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

from mab_doctor.fix.journal import Journal
from mab_doctor.fix.writer import HostWriter, RunResult


class Crash(BaseException):
    """The process dying: nothing after it runs (BaseException, so no handler in the engine catches it)."""


def raise_crash() -> None:
    raise Crash


def sigkill() -> None:
    """Die as `kill -9` kills: no handler, no finally block, no flush."""
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)  # not reached: the signal is delivered at once


@dataclass
class Crasher:
    """Counts the point's events on a journal and a writer it wraps, and calls ``die`` at the nth.
    ``run_for``: seconds a command runs before ``die`` (None: ``die`` once it returned)."""

    point: str
    die: Callable[[], None] = raise_crash
    run_for: float | None = None

    def __post_init__(self):
        kind, _, rest = self.point.partition(":")  # "never": a point no fix reaches
        when, _, nth = rest.partition(":")
        self.kind, self.when, self.left = kind, when, int(nth or 1)
        self.current: Journal | None = None

    def _hit(self, kind: str, when: str) -> bool:
        if (kind, when) != (self.kind, self.when):
            return False
        self.left -= 1
        return self.left == 0

    def _tick(self, kind: str, when: str) -> None:
        if self._hit(kind, when):
            self.die()

    def _pending_kind(self) -> str:
        steps = self.current.steps if self.current else []
        return steps[-1]["kind"] if steps and steps[-1]["state"] == "pending" else ""

    def journal(self, journal: Journal) -> Journal:
        """``journal`` as one that dies at the point (and at once for "journal:begin")."""
        crasher = self

        class CrashingJournal(Journal):
            def record(self, step: dict) -> dict:
                step = super().record(step)
                crasher._tick(step["kind"], "before")
                return step

            def done(self, step: dict) -> None:
                crasher._tick(step["kind"], "after")
                super().done(step)

        self.current = CrashingJournal(journal.path, journal.data)
        self._tick("journal", "begin")
        return self.current

    def writer(self, inner: HostWriter) -> HostWriter:
        """``inner`` as a writer that dies "during" a command or a file write of the point's kind."""
        return _CrashingWriter(inner, self)


class _CrashingWriter:
    def __init__(self, inner: HostWriter, crasher: Crasher):
        self.inner, self.crasher = inner, crasher

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def run(self, argv, timeout: float) -> RunResult:
        crasher = self.crasher
        if not crasher._hit(crasher._pending_kind(), "during"):
            return self.inner.run(argv, timeout)
        if crasher.run_for is None:
            self.inner.run(argv, timeout)
            crasher.die()
        threading.Timer(crasher.run_for, crasher.die).start()
        return self.inner.run(argv, timeout)

    def replace_file(self, path: str, text: str, mode: int | None = None) -> None:
        crasher = self.crasher
        step = crasher.current.steps[-1] if crasher.current and crasher.current.steps else {}
        if path == step.get("path") and crasher._hit(crasher._pending_kind(), "during"):
            crasher.die()  # the backup (if any) is written, the file is not
        self.inner.replace_file(path, text, mode)
