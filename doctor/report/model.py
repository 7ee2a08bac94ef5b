"""The one Report value every renderer takes: built from a run's outcomes or loaded from saved JSON."""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mab_doctor import __version__
from mab_doctor.core.model import Outcome, Status, to_plain
from mab_doctor.core.record import record

if TYPE_CHECKING:
    from datetime import datetime

SCHEMA_ID = "mab-doctor/report/v1"
# Order of the counts in every footer and counts line.
COUNTS_ORDER = (Status.OK, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR)
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _frozen(value: Any) -> Any:
    # Loaded JSON is as read-only as a Result's data: nested mappings and lists cannot be changed.
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _text(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _lines(value: Any) -> tuple[str, ...]:
    """A saved row's details: a list of lines; a single string is one line, not one per character."""
    if value is None:
        return ()
    return tuple(str(line) for line in value) if isinstance(value, (list, tuple)) else (str(value),)


def fix_lines(fix: Mapping[str, Any] | None) -> list[str]:
    """`fix: sudo <command>` for each command of a fix, quoted so that a copy-paste runs it as is."""
    if not fix:
        return []
    root = "sudo " if fix.get("needs_root") else ""
    commands = fix.get("commands")
    # A saved report may hold anything here: only lists of words are commands.
    return [f"fix: {root}{shlex.join(str(word) for word in argv)}" for argv in
            (commands if isinstance(commands, (list, tuple)) else ()) if isinstance(argv, (list, tuple))]


@record
class Row:
    """One result line of the report: which check, for which target, what it found."""

    name: str
    title: str
    category: str
    source: str
    target: str | None
    status: Status
    summary: str
    details: tuple[str, ...] = ()
    remediation: str | None = None
    fix: Mapping[str, Any] | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", tuple(str(d) for d in self.details))
        object.__setattr__(self, "fix", None if self.fix is None else _frozen(self.fix))
        object.__setattr__(self, "data", _frozen(self.data))

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> Row:
        """The row of one runner outcome."""
        res, chk = outcome.result, outcome.check
        return cls(name=chk.name, title=chk.title, category=chk.category, source=chk.source,
                   target=res.target, status=res.status, summary=res.summary, details=res.details,
                   remediation=res.remediation, fix=res.fix.to_dict() if res.fix else None, data=res.data,
                   duration_ms=round(outcome.duration_s * 1000, 3))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Row:
        """A row from its JSON object (only name, status and summary are required)."""
        if not isinstance(data, Mapping):
            raise ValueError("not an object")
        try:
            status = Status(data["status"])
        except ValueError:
            raise ValueError(f"unknown status {data['status']!r}") from None
        fix = data.get("fix")
        return cls(name=str(data["name"]), title=_text(data.get("title"), str(data["name"])),
                   category=_text(data.get("category")), source=_text(data.get("source")),
                   target=_optional(data.get("target")), status=status, summary=str(data["summary"]),
                   details=_lines(data.get("details")), remediation=_optional(data.get("remediation")),
                   fix=dict(fix) if isinstance(fix, Mapping) else None,
                   data=dict(data.get("data") or {}), duration_ms=float(data.get("duration_ms") or 0))

    @property
    def label(self) -> str:
        """The check title plus ` [target]` for a per-target row."""
        return self.title + (f" [{self.target}]" if self.target else "")

    def fix_lines(self) -> list[str]:
        """This row's `fix:` command lines."""
        return fix_lines(self.fix)

    def to_json(self) -> dict[str, Any]:
        """The result object of the JSON report."""
        return {"name": self.name, "title": self.title, "category": self.category, "source": self.source,
                "target": self.target, "status": self.status.value, "summary": self.summary,
                "details": list(self.details), "remediation": self.remediation,
                "fix": to_plain(self.fix) if self.fix is not None else None, "data": to_plain(self.data),
                "duration_ms": self.duration_ms}


@record
class HostSummary:
    """What the report says about the host (from host_summary(ctx); never raises, `error` says why)."""

    root: str = ""
    hostname: str = ""
    kernel_release: str = ""
    uname_machine: str = ""
    oci_platform: str | None = None
    debian_arch: str | None = None
    distro_id: str = ""
    distro_version: str = ""
    distro_name: str = ""
    known_environment: str | None = None
    known_environment_name: str | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, host: Mapping[str, Any]) -> HostSummary:
        """From the `host` object of a report (the host_summary dict has the same shape)."""
        distro = host.get("distro") if isinstance(host, Mapping) else None
        if not isinstance(host, Mapping) or not isinstance(distro or {}, Mapping):
            raise ValueError("host or host.distro is not an object")
        distro = distro or {}
        return cls(root=_text(host.get("root")), hostname=_text(host.get("hostname")),
                   kernel_release=_text(host.get("kernel_release")),
                   uname_machine=_text(host.get("uname_machine")), oci_platform=host.get("oci_platform"),
                   debian_arch=host.get("debian_arch"), distro_id=_text(distro.get("id")),
                   distro_version=_text(distro.get("version")), distro_name=_text(distro.get("name")),
                   known_environment=host.get("known_environment"),
                   known_environment_name=host.get("known_environment_name"), error=host.get("error"))

    def to_json(self) -> dict[str, Any]:
        """The `host` object of the JSON report (`error` only when there is one)."""
        out = {"root": self.root, "hostname": self.hostname, "kernel_release": self.kernel_release,
               "uname_machine": self.uname_machine, "oci_platform": self.oci_platform,
               "debian_arch": self.debian_arch,
               "distro": {"id": self.distro_id, "version": self.distro_version, "name": self.distro_name},
               "known_environment": self.known_environment,
               "known_environment_name": self.known_environment_name}
        return out | ({"error": self.error} if self.error is not None else {})


@record
class TargetInfo:
    """One target of the run: the platform, whether this host runs it natively, and who asked for it."""

    platform: str
    native: bool
    source: str = ""  # "--platform", "MAB_PLATFORMS", "default", a project file; "" = not recorded
    placement: str = ""  # "native", "emulated", "impossible" ("" = not recorded: older reports)
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        """One item of the report's `target_details`."""
        placed = {"placement": self.placement, "why": self.why} if self.placement else {}
        return {"platform": self.platform, "native": self.native, "source": self.source} | placed


def _native_guess(host: HostSummary, platform: str) -> bool:
    # A report saved before `target_details` existed: judge from the host platform it recorded.
    from mab_doctor.host.platforms import PlatformError, parse_platform, runs_natively

    try:
        return bool(host.oci_platform) and runs_natively(parse_platform(host.oci_platform).platform,
                                                         parse_platform(platform))
    except PlatformError:
        return False


def _targets(data: Mapping[str, Any], host: HostSummary) -> tuple[TargetInfo, ...]:
    details = data.get("target_details")
    if details is not None:
        return tuple(TargetInfo(str(t["platform"]), bool(t.get("native")), _text(t.get("source")),
                                _text(t.get("placement")), _text(t.get("why"))) for t in details)
    return tuple(TargetInfo(str(t), _native_guess(host, str(t))) for t in data.get("targets") or ())


@record
class Report:
    """A whole run: host, targets, one row per result, exit code, wall time."""

    version: str
    host: HostSummary
    targets: tuple[TargetInfo, ...]
    rows: tuple[Row, ...]
    exit_code: int
    duration_ms: float | None = None   # wall time of the whole run (None: a report saved without it)
    started_at: str | None = None      # UTC, "2024-05-01T12:30:45Z" (None: a report saved without it)

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "rows", tuple(self.rows))

    @classmethod
    def build(cls, outcomes: Sequence[Outcome], host: Mapping[str, Any], targets: Sequence[TargetInfo],
              exit_code: int, duration_s: float, *, finished: datetime | None = None) -> Report:
        """The report of a run: runner outcomes, the host_summary dict, the run's wall time."""
        # In whole microseconds, as datetime arithmetic has it (without importing datetime on every run):
        # the end, less the wall time, cut to the second.
        end_us = round(finished.timestamp() * 10**6) if finished is not None else time.time_ns() // 1000
        start = time.strftime(_STAMP, time.gmtime((end_us - round(duration_s * 10**6)) // 10**6))
        return cls(version=__version__, host=HostSummary.from_json(host), targets=tuple(targets),
                   rows=tuple(Row.from_outcome(o) for o in outcomes), exit_code=exit_code,
                   duration_ms=round(duration_s * 1000, 3), started_at=start)

    @classmethod
    def from_json(cls, data: Any) -> Report:
        """A report loaded from its JSON; ValueError (one line) when it is not a v1 report."""
        if not isinstance(data, Mapping):
            raise ValueError(f"not a mab-doctor report: expected a JSON object, got {type(data).__name__}")
        schema = data.get("schema")
        if schema != SCHEMA_ID:
            raise ValueError(f"not a mab-doctor report: schema is {schema!r}, expected {SCHEMA_ID!r}"
                             if schema is not None else "not a mab-doctor report: it has no \"schema\" key")
        missing = [key for key in ("version", "host", "results", "exit_code") if key not in data]
        if missing:
            raise ValueError(f"broken mab-doctor report: the report has no {missing[0]!r} key")
        where = "host"
        try:
            host = HostSummary.from_json(data["host"])
            where = "targets"
            targets = _targets(data, host)
            rows = []
            where = "results"
            for index, result in enumerate(data["results"]):
                where = f"result {index}"
                rows.append(Row.from_json(result))
            where = "exit_code"
            if data["exit_code"] not in (0, 1, 2) or isinstance(data["exit_code"], bool):
                raise ValueError(f"{data['exit_code']!r} is not an exit code of mab-doctor (0, 1 or 2)")
            where = "the report"
            duration, started = data.get("duration_ms"), data.get("started_at")
            return cls(version=str(data["version"]), host=host, targets=targets, rows=tuple(rows),
                       exit_code=int(data["exit_code"]), started_at=None if started is None else str(started),
                       duration_ms=None if duration is None else float(duration))
        except KeyError as exc:
            raise ValueError(f"broken mab-doctor report: {where} has no {exc.args[0]!r} key") from None
        except (TypeError, ValueError, AttributeError) as exc:
            message = " ".join(str(exc).split())  # one line, whatever the exception said
            raise ValueError(f"broken mab-doctor report: {where}: {message}") from None

    @property
    def counts(self) -> dict[str, int]:
        """Number of rows per status, every status present (JSON `counts`)."""
        counts = {s.value: 0 for s in Status}
        for row in self.rows:
            counts[row.status.value] += 1
        return counts

    @property
    def platforms(self) -> list[str]:
        """The target platform strings, in order."""
        return [t.platform for t in self.targets]

    def counts_line(self) -> str:
        """`2 ok, 1 warn, 1 fail, 0 skip, 0 error, exit 1` (plain text)."""
        counts = self.counts
        return ", ".join(f"{counts[s.value]} {s.value}" for s in COUNTS_ORDER) + f", exit {self.exit_code}"

    def to_json(self) -> dict[str, Any]:
        """The whole report as plain data (schema mab-doctor/report/v1)."""
        out = {"schema": SCHEMA_ID, "version": self.version, "host": self.host.to_json(),
               "targets": self.platforms, "target_details": [t.to_json() for t in self.targets],
               "results": [r.to_json() for r in self.rows], "counts": self.counts,
               "exit_code": self.exit_code}
        if self.duration_ms is not None:
            out["duration_ms"] = self.duration_ms
        if self.started_at is not None:
            out["started_at"] = self.started_at
        return out
