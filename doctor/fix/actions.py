"""Every fix action kind by name, and the constructors checks use to make actions."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from mab_doctor.core.model import Action
from mab_doctor.fix.binfmt_kinds import Enable, EnableEntry, Mount, Register, Unregister
from mab_doctor.fix.host_kinds import Install, JsonSet, Persist, Run
from mab_doctor.fix.kinds import ActionKind, FixError

KINDS: Mapping[str, ActionKind] = MappingProxyType({k.kind: k for k in sorted(
    (Run(), Mount(), Enable(), Install(), EnableEntry(), Unregister(), Register(), Persist(), JsonSet()),
    key=lambda k: k.phase)})
PHASES = tuple(KINDS)  # kind names in apply order


def kind_of(action: Action | str) -> ActionKind:
    """The kind behind an action (or a journaled step's kind name); FixError for one this version lacks."""
    name = action if isinstance(action, str) else action.kind
    try:
        return KINDS[name]
    except KeyError:
        raise FixError(f"unknown fix action kind {name!r}") from None


def describe(action: Action) -> str:
    """What the action does, in words for a person."""
    return kind_of(action).describe(action)


def command(action: Action) -> tuple[str, ...]:
    """The equivalent shell command a person could type."""
    return kind_of(action).command(action)


def _make(kind: str, subject: str = "", line: str = "", argv: Sequence[str] = ()) -> Action:
    # argv is the command itself for install/run and the equivalent command for the other kinds.
    made = KINDS[kind]
    draft = Action(kind, subject, line, tuple(argv), made.needs_root)
    return Action(kind, subject, line, made.command(draft), made.needs_root)


def mount() -> Action:
    """Mount binfmt_misc."""
    return _make("mount")


def enable() -> Action:
    """Switch binfmt_misc on globally (its status file)."""
    return _make("enable")


def enable_entry(name: str) -> Action:
    """Switch one disabled entry back on."""
    return _make("enable-entry", name)


def unregister(name: str) -> Action:
    """Remove one entry (journaled, so undo registers it again exactly)."""
    return _make("unregister", name)


def register(name: str, line: str = "") -> Action:
    """Register an entry from its register line; "" means: read it once the package is installed."""
    return _make("register", name, line)


def persist(path: str, line: str) -> Action:
    """Write a binfmt.d file holding one register line."""
    return _make("persist", path, line)


def json_set(path: str, update: Mapping[str, Any]) -> Action:
    """Merge keys into a user's JSON config file (no root needed: it is the user's own file)."""
    return _make("json-set", path, json.dumps(dict(update)))


def install(argv: Sequence[str]) -> Action:
    """Install a package with the package manager command ``argv`` (its last word names it)."""
    return _make("install", argv[-1], argv=argv)


def run_command(argv: Sequence[str]) -> Action:
    """Run a plain command such as modprobe (not undone: it leaves nothing to put back)."""
    return _make("run", argv[0], argv=argv)
