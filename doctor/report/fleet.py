"""The fleet matrix: many hosts' saved reports as one hosts x targets table, with ages and dissenters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import PurePath
from types import MappingProxyType
from typing import Any

from mab_doctor import __version__
from mab_doctor.core.model import Status
from mab_doctor.core.record import record
from mab_doctor.report.escape import terminal_text
from mab_doctor.report.lines import cell_len
from mab_doctor.report.model import Report

SCHEMA_ID = "mab-doctor/fleet/v1"
HOST_COLUMN = "host"   # the column of the findings that name no target (kernel, binfmt_misc mount, docker)
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
_FAILING = (Status.FAIL, Status.ERROR)
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


@record
class Superseded:
    """An older report of a host that a newer one replaced in the matrix."""

    file: str
    started_at: str | None


@record
class FleetHost:
    """One row of the matrix: a host's newest report, reduced to its worst status per column."""

    name: str
    file: str
    started_at: str | None
    age_s: int | None                      # now - started_at; None when the report has no usable time
    cells: Mapping[str, Status | None]     # column -> worst status; None: no finding for that column
    version: str
    exit_code: int
    superseded: tuple[Superseded, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", MappingProxyType(dict(self.cells)))
        object.__setattr__(self, "superseded", tuple(self.superseded))


@record
class Unreadable:
    """A file (or folder) named on the command line that gave no report, and why, in one line."""

    file: str
    error: str


@record
class Disagreement:
    """A column where some hosts differ from the most common status (majority None: a tie)."""

    column: str
    majority: Status | None
    counts: Mapping[str, int]
    dissent: tuple[tuple[str, Status], ...]   # (host, status) of every host that differs


@record
class Fleet:
    """The whole matrix: its target columns, its host rows, dissent per column, unreadable inputs."""

    targets: tuple[str, ...]
    hosts: tuple[FleetHost, ...]
    disagreements: tuple[Disagreement, ...]
    unreadable: tuple[Unreadable, ...]
    generated_at: str

    @property
    def columns(self) -> tuple[str, ...]:
        """The host column, then every target."""
        return (HOST_COLUMN, *self.targets)

    @property
    def failing_hosts(self) -> tuple[FleetHost, ...]:
        """The hosts with a FAIL or ERROR cell."""
        return tuple(h for h in self.hosts if any(s in _FAILING for s in h.cells.values()))

    @property
    def exit_code(self) -> int:
        """1 when a cell is FAIL or ERROR, or a report could not be read (its host is not judged); else 0."""
        return 1 if self.failing_hosts or self.unreadable else 0


def parse_stamp(value: str | None) -> datetime | None:
    """A report's `started_at` as an aware UTC datetime; None when missing or not in the report's format."""
    try:
        return datetime.strptime(value or "", _STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def age_text(seconds: int | None) -> str:
    """An age as people read it: `40 s`, `12 min`, `3 h`, `2 d` (whole units, rounded down); `?` unknown."""
    if seconds is None:
        return "?"
    if seconds < 0:  # the host's clock runs ahead of this one
        return "-" + age_text(-seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _worst(statuses: list[Status]) -> Status | None:
    return max(statuses, key=lambda s: s.severity) if statuses else None


def _cells(report: Report) -> dict[str, Status | None]:
    columns: dict[str, list[Status]] = {HOST_COLUMN: [], **{t: [] for t in report.platforms}}
    for row in report.rows:
        # A row for a target the report does not list still gets its column: the row says it was checked.
        columns.setdefault(row.target or HOST_COLUMN, []).append(row.status)
    return {column: _worst(statuses) for column, statuses in columns.items()}


def _newest(reports: list[tuple[str, Report]]) -> list[tuple[str, Report, list[tuple[str, Report]]]]:
    """Per host name, in first-seen order: the newest report and the older ones it replaces."""
    groups: dict[str, list[tuple[str, Report]]] = {}
    for path, report in reports:
        name = report.host.hostname or PurePath(path).stem
        groups.setdefault(name, []).append((path, report))
    kept = []
    for name, group in groups.items():
        # A report without a usable time counts as the oldest; equal times: the one named last wins.
        order = sorted(range(len(group)), key=lambda i: (parse_stamp(group[i][1].started_at) or _NEVER, i))
        newest = group[order[-1]]
        kept.append((name, newest[1], [newest] + [group[i] for i in reversed(order[:-1])]))
    return kept


def _dissent(column: str, hosts: Sequence[FleetHost]) -> Disagreement | None:
    values = [(h.name, h.cells.get(column)) for h in hosts if h.cells.get(column) is not None]
    counts = Counter(status for _, status in values)
    if len(counts) < 2:
        return None
    ranked = counts.most_common()
    majority = ranked[0][0] if ranked[0][1] > ranked[1][1] else None
    dissent = tuple((name, status) for name, status in values if status is not majority)
    plain = {s.value: counts[s] for s in sorted(counts, key=lambda s: -s.severity)}
    return Disagreement(column, majority, plain, dissent)


def build_fleet(sources: Sequence[tuple[str, Report | str]], now: datetime) -> Fleet:
    """The matrix of (file, Report or one-line error) pairs, in the order given, aged against ``now``."""
    reports = [(path, item) for path, item in sources if isinstance(item, Report)]
    unreadable = tuple(Unreadable(path, item) for path, item in sources if isinstance(item, str))
    newest = [(name, report, group, _cells(report)) for name, report, group in _newest(reports)]
    # Every host gets every column any report has, in first-seen order: the targets are known first.
    targets = dict.fromkeys(c for *_, cells in newest for c in cells if c != HOST_COLUMN)
    columns = (HOST_COLUMN, *targets)
    hosts: list[FleetHost] = []
    for name, report, group, cells in newest:
        started = parse_stamp(report.started_at)
        hosts.append(FleetHost(name=name, file=group[0][0], started_at=report.started_at,
                               age_s=None if started is None else int((now - started).total_seconds()),
                               cells={c: cells.get(c) for c in columns}, version=report.version,
                               exit_code=report.exit_code,
                               superseded=tuple(Superseded(p, r.started_at) for p, r in group[1:])))
    disagreements = tuple(d for d in (_dissent(c, hosts) for c in columns) if d is not None)
    return Fleet(tuple(targets), tuple(hosts), disagreements, unreadable,
                 now.astimezone(timezone.utc).strftime(_STAMP))


def to_json(fleet: Fleet) -> dict[str, Any]:
    """The fleet as plain data (schema mab-doctor/fleet/v1, shipped as data/fleet-v1.schema.json)."""
    value = lambda status: None if status is None else status.value  # noqa: E731
    return {
        "schema": SCHEMA_ID, "version": __version__, "generated_at": fleet.generated_at,
        "targets": list(fleet.targets), "columns": list(fleet.columns),
        "hosts": [{"name": h.name, "file": h.file, "started_at": h.started_at, "version": h.version,
                   "exit_code": h.exit_code,
                   "superseded": [{"file": s.file, "started_at": s.started_at} for s in h.superseded]}
                  for h in fleet.hosts],
        "cells": {h.name: {c: value(s) for c, s in h.cells.items()} for h in fleet.hosts},
        "ages": {h.name: h.age_s for h in fleet.hosts},
        "disagreements": [{"column": d.column, "majority": value(d.majority), "counts": dict(d.counts),
                           "hosts": [{"host": name, "status": s.value} for name, s in d.dissent]}
                          for d in fleet.disagreements],
        "unreadable": [{"file": u.file, "error": u.error} for u in fleet.unreadable],
        "exit_code": fleet.exit_code,
    }


def _plain(value: str) -> str:
    # One line per host in the text: a tab or newline in a saved host name or file name would break rows.
    return terminal_text(value).replace("\t", "\\t").replace("\n", "\\n")


def _names(names: list[str]) -> str:
    return ", ".join(_plain(n) for n in names) + (" says" if len(names) == 1 else " say")


def disagreement_line(d: Disagreement) -> str:
    """`linux/arm64: runner-3 says FAIL, 5 others OK` (a tie: `no majority: a says FAIL; b says OK`)."""
    groups: dict[Status, list[str]] = {}
    for name, status in d.dissent:
        groups.setdefault(status, []).append(name)
    said = "; ".join(f"{_names(groups[s])} {s.name}" for s in sorted(groups, key=lambda s: -s.severity))
    if d.majority is None:
        return f"{_plain(d.column)}: no majority: {said}"
    others = d.counts[d.majority.value]
    return f"{_plain(d.column)}: {said}, {others} other{'s' if others != 1 else ''} {d.majority.name}"


def _pad(text: str, width: int) -> str:
    return text + " " * (width - cell_len(text))


def _table(rows: list[list[str]], unreadable: Sequence[Unreadable]) -> list[str]:
    # Cells are escaped before they are measured, so a control character in a host name cannot skew a
    # column; they are measured in terminal cells, so a wide (CJK) host name does not either.
    rows = [[_plain(cell) for cell in row] for row in rows]
    first = max([cell_len(r[0]) for r in rows] + [cell_len(_plain(u.file)) for u in unreadable])
    widths = [first] + [max(cell_len(r[i]) for r in rows) for i in range(1, len(rows[0]))]
    lines = ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return lines + [f"{_pad(_plain(u.file), first)}  unreadable: {_plain(u.error)}" for u in unreadable]


def _verdict(fleet: Fleet) -> str:
    reasons = ["FAIL or ERROR in the matrix"] if fleet.failing_hosts else []
    reasons += ["a report could not be read"] if fleet.unreadable else []
    return f"exit {fleet.exit_code}: " + ("; ".join(reasons) or "no FAIL or ERROR")


def _marked(fleet: Fleet) -> set[tuple[str, str]]:
    """(host, column) of every cell that differs from its column's majority (a tie marks none)."""
    return {(name, d.column) for d in fleet.disagreements if d.majority is not None for name, _ in d.dissent}


def render_text(fleet: Fleet) -> str:
    """The matrix as a plain table (unreadable files as rows too), then dissent and replaced reports."""
    marked = _marked(fleet)
    rows = [["name", "age", *fleet.columns]]
    for h in fleet.hosts:
        cells = [("-" if s is None else s.name) + ("*" if (h.name, c) in marked else "")
                 for c, s in h.cells.items()]
        rows.append([h.name, age_text(h.age_s), *cells])
    counted = [f"{len(fleet.hosts)} host{'s' if len(fleet.hosts) != 1 else ''}",
               f"{len(fleet.targets)} target{'s' if len(fleet.targets) != 1 else ''}"]
    counted += [f"{len(fleet.unreadable)} unreadable"] if fleet.unreadable else []
    lines = ["mab-doctor fleet: " + ", ".join(counted), "", *_table(rows, fleet.unreadable),
             "", "host: the findings that name no target; -: no finding for that column"]
    if fleet.disagreements:
        lines += ["", "* differs from the most common status of its column:"]
        lines += [f"  {disagreement_line(d)}" for d in fleet.disagreements]
    replaced = [f"  {_plain(h.name)}: {_plain(s.file)} (started {_plain(s.started_at or 'at an unknown time')}), "
                f"replaced by {_plain(h.file)}"
                for h in fleet.hosts for s in h.superseded]
    if replaced:
        lines += ["", "older reports of the same host, not shown:", *replaced]
    lines += ["", _verdict(fleet)]
    # Every host string above went through _plain already, and the rest is this module's own ASCII.
    return "\n".join(lines) + "\n"


def render_markdown(fleet: Fleet) -> str:
    """The matrix as a Markdown table (a step summary, a wiki page), with the same notes as the text."""
    from mab_doctor.report.markdown import md_cell, md_escape

    marked = _marked(fleet)
    head = ["host", "age", *fleet.columns]
    lines = [f"## mab-doctor fleet: {len(fleet.hosts)} hosts, {len(fleet.targets)} targets", "",
             "| " + " | ".join(md_cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    for h in fleet.hosts:
        cells = [("-" if s is None else s.name) + (" \\*" if (h.name, c) in marked else "") for c, s in h.cells.items()]
        lines.append("| " + " | ".join([md_cell(h.name), md_cell(age_text(h.age_s)), *cells]) + " |")
    lines += [f"| {md_cell(u.file)} | - | unreadable: {md_cell(u.error)} |" for u in fleet.unreadable]
    if fleet.disagreements:
        lines += ["", "\\* differs from the most common status of its column:", ""]
        lines += [f"- {md_escape(disagreement_line(d))}" for d in fleet.disagreements]
    return "\n".join(lines + ["", md_escape(_verdict(fleet))]) + "\n"

