"""Frozen result data shared by checks, the runner and the renderers (no I/O here)."""

from __future__ import annotations

import enum
from dataclasses import field
from types import MappingProxyType
from typing import Any, Mapping

from mab_doctor.core.record import record


class Status(enum.Enum):
    """Outcome of one check, ordered by severity (the exit code reads this order)."""

    OK = "ok"
    SKIP = "skip"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"

    @property
    def severity(self) -> int:
        """Position in the severity order OK < SKIP < WARN < FAIL < ERROR."""
        return list(Status).index(self)


@record
class Action:
    """One step `--fix` can apply, journal and undo; plain data made by mab_doctor.fix.actions,
    which also knows what each kind does (argv is the equivalent command a person could type)."""

    kind: str
    subject: str = ""               # entry name, file path, package or program
    line: str = ""                  # register line / file content / JSON to merge ("" = resolve after install)
    argv: tuple[str, ...] = ()      # the equivalent shell command (what --dry-run shows)
    needs_root: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "argv", tuple(self.argv))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind, "subject": self.subject, "line": self.line, "argv": list(self.argv)}


@record
class Fix:
    """A machine-applicable remediation: argv lists (printed verbatim by --dry-run) and actions."""

    title: str
    commands: tuple[tuple[str, ...], ...] = ()
    needs_root: bool = False
    actions: tuple[Action, ...] = ()

    def __post_init__(self) -> None:
        commands = self.commands or tuple(a.argv for a in self.actions if a.argv)
        object.__setattr__(self, "commands", tuple(tuple(c) for c in commands))
        object.__setattr__(self, "actions", tuple(self.actions))

    @classmethod
    def of(cls, title: str, *actions: Action) -> Fix:
        """A fix made of actions; its commands and need for root are read from them."""
        return cls(title, needs_root=any(a.needs_root for a in actions), actions=actions)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: {title, commands, needs_root, actions}."""
        return {"title": self.title, "commands": [list(c) for c in self.commands],
                "needs_root": self.needs_root, "actions": [a.to_dict() for a in self.actions]}


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@record
class Result:
    """What one check (or one target of a per-target check) found."""

    status: Status
    summary: str
    details: tuple[str, ...] = ()
    remediation: str | None = None
    fix: Fix | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", tuple(str(d) for d in self.details))
        object.__setattr__(self, "data", _freeze(dict(self.data)))

    @classmethod
    def ok(cls, summary: str, **kw: Any) -> Result:
        """An OK result."""
        return cls(Status.OK, summary, **kw)

    @classmethod
    def warn(cls, summary: str, **kw: Any) -> Result:
        """A WARN result."""
        return cls(Status.WARN, summary, **kw)

    @classmethod
    def fail(cls, summary: str, **kw: Any) -> Result:
        """A FAIL result."""
        return cls(Status.FAIL, summary, **kw)

    @classmethod
    def skip(cls, reason: str, **kw: Any) -> Result:
        """A SKIP result; the reason is the summary."""
        return cls(Status.SKIP, reason, **kw)

    @classmethod
    def error(cls, summary: str, **kw: Any) -> Result:
        """An ERROR result: the check itself broke (runner use)."""
        return cls(Status.ERROR, summary, **kw)


class SkipCheck(Exception):
    """Raised from deep inside a check to turn its result into SKIP with this reason."""


@record
class Outcome:
    """One rendered row: which check, what it found, how long it took."""

    check: Any  # mab_doctor.core.check.Check; Any avoids an import cycle
    result: Result
    duration_s: float = 0.0

    @property
    def status(self) -> Status:
        """Shortcut for result.status."""
        return self.result.status


def to_plain(value: Any) -> Any:
    """Turn frozen mappings/tuples back into JSON-ready dicts/lists."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def exit_code(outcomes: "list[Outcome]", *, strict: bool = False) -> int:
    """0 without FAIL/ERROR (and without WARN under --strict), else 1."""
    failing = {Status.FAIL, Status.ERROR} | ({Status.WARN} if strict else set())
    return 1 if any(o.status in failing for o in outcomes) else 0
