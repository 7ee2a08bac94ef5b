"""What every fix action kind must say and do: the base class the kind modules implement."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from mab_doctor.core.model import Action

if TYPE_CHECKING:
    from mab_doctor.fix.writer import HostWriter

# Turns an entry name into its register line once the package that ships it is installed.
Resolver = Callable[[str], "str | None"]


class FixError(RuntimeError):
    """A fix step that could not be applied or undone (message is one line for the user)."""


class StepLog(Protocol):
    """Where a kind journals a step before changing anything (the Journal)."""

    def record(self, step: dict) -> dict:
        """Save ``step`` as pending; returns it."""

    def done(self, step: dict) -> None:
        """Save ``step`` as applied."""


class ActionKind:
    """One kind of fix action: how it reads, the command a person would type, apply and exact undo."""

    kind: str = ""
    phase: int = 0             # apply order within a plan, lowest first
    needs_root: bool = True
    opt_in = ""                # the --fix option without which plans hold this kind's steps back ("" none)

    def describe(self, action: Action) -> str:
        """What the action does, in words for a person."""
        raise NotImplementedError

    def command(self, action: Action) -> tuple[str, ...]:
        """The equivalent shell command a person could type (what --dry-run shows)."""
        raise NotImplementedError

    def redundant(self, action: Action, planned: Sequence[Action]) -> bool:
        """Whether another planned action already does what this one would."""
        return False

    def refuse(self, action: Action) -> None:
        """Raise FixError when the action must not run at all (checked for a whole plan before any change)."""

    def apply(self, action: Action, writer: "HostWriter", journal: StepLog, resolve: Resolver) -> None:
        """Make the change, journaling what undo needs before touching anything."""
        raise NotImplementedError

    def undo(self, step: dict, writer: "HostWriter") -> list[str]:
        """Put back what ``step`` changed, whether it finished ("done") or not ("pending"); notes for the user."""
        raise NotImplementedError

    def places(self, step: dict) -> tuple[str, ...]:
        """The host paths ``step`` changed (entry files, files): what undo checks before it changes any."""
        return ()

    def drift(self, step: dict, writer: "HostWriter", place: str, accounted: frozenset[str]) -> str | None:
        """How ``place`` now differs from what ``step`` left there, in words for a person; None while it
        holds what the step left or what was there before the step (undo then overwrites nothing it did
        not write). ``accounted``: the places of every step of the journal that is not undone yet."""
        return None

    def label(self, step: dict) -> str:
        """What a journaled step was about, for the undo log."""
        return step.get("name") or step.get("path") or ""


def printf_into(text: str, path: str) -> tuple[str, ...]:
    """A shell command writing ``text`` and a newline to ``path``; printf %s keeps `\\xNN` literal
    (the kernel decodes the escapes itself, echo -e would decode them first)."""
    return ("sh", "-c", f'printf "%s\\n" "$1" > {shlex.quote(path)}', "sh", text)


def run_or_fail(writer: "HostWriter", argv: tuple[str, ...], timeout: float) -> None:
    """Run a command through the writer; FixError with its last output line when it fails."""
    result = writer.run(argv, timeout)
    if result.returncode != 0:
        raise FixError(f"`{shlex.join(argv)}` exited {result.returncode}: {result.last_line}")
