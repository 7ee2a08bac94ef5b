"""Frozen result data shared by checks, the runner and the renderers (no I/O here)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


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


BINFMT = "/proc/sys/fs/binfmt_misc"
# Order in which a plan applies actions: the mount before registrations, packages before handlers.
ACTION_PHASES = ("run", "mount", "enable", "install", "enable-entry", "unregister", "register", "persist",
                 "json-set")
# Merges a JSON object into a JSON file (what a json-set action does, as a command a person can run).
JSON_MERGE = ("import json, sys; p = sys.argv[1]; d = json.load(open(p)); d.update(json.loads(sys.argv[2])); "
              "json.dump(d, open(p, 'w'), indent=1)")


@dataclass(frozen=True)
class Action:
    """One step `--fix` knows how to apply, journal and undo (kinds: ACTION_PHASES)."""

    kind: str
    subject: str = ""               # entry name, file path, or a label
    line: str = ""                  # register line / file content ("" = resolve after install)
    argv: tuple[str, ...] = ()      # for "run" and "install": the command itself

    def command(self) -> tuple[str, ...]:
        """The equivalent shell command a person could type (shown by --dry-run)."""
        import shlex

        def sh(text: str, path: str) -> tuple[str, ...]:
            # printf %s keeps the \xNN escapes literal: the kernel decodes them itself.
            return ("sh", "-c", f'printf "%s\\n" "$1" > {shlex.quote(path)}', "sh", text)
        return {
            "mount": ("mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT),
            "enable": ("sh", "-c", f"echo 1 > {BINFMT}/status"),
            "enable-entry": ("sh", "-c", f"echo 1 > {BINFMT}/{self.subject}"),
            "unregister": ("sh", "-c", f"echo -1 > {BINFMT}/{self.subject}"),
            "register": sh(self.line or f"<{self.subject} definition from the package just installed>",
                           f"{BINFMT}/register"),
            "persist": sh(self.line, self.subject),
            "json-set": ("python3", "-c", JSON_MERGE, self.subject, self.line),
        }.get(self.kind, self.argv)

    @property
    def needs_root(self) -> bool:
        """Whether applying it needs root (everything but editing the user's own config files)."""
        return self.kind != "json-set"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind, "subject": self.subject, "line": self.line, "argv": list(self.command())}


@dataclass(frozen=True)
class Fix:
    """A machine-applicable remediation: argv lists (printed verbatim by --dry-run) and actions."""

    title: str
    commands: tuple[tuple[str, ...], ...] = ()
    needs_root: bool = False
    actions: tuple[Action, ...] = ()

    def __post_init__(self) -> None:
        commands = self.commands or tuple(a.command() for a in self.actions)
        object.__setattr__(self, "commands", tuple(tuple(c) for c in commands))
        object.__setattr__(self, "actions", tuple(self.actions))

    @classmethod
    def of(cls, title: str, *actions: Action) -> Fix:
        """A fix made of actions; its commands and need for root are derived from them."""
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


def count_statuses(outcomes: "list[Outcome]") -> dict[str, int]:
    """Number of results per status, every status present (JSON `counts`)."""
    counts = {s.value: 0 for s in Status}
    for outcome in outcomes:
        counts[outcome.status.value] += 1
    return counts


def exit_code(outcomes: "list[Outcome]", *, strict: bool = False) -> int:
    """0 without FAIL/ERROR (and without WARN under --strict), else 1 (SPEC section 2)."""
    failing = {Status.FAIL, Status.ERROR} | ({Status.WARN} if strict else set())
    return 1 if any(o.status in failing for o in outcomes) else 0
