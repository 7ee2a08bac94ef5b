"""`mab-doctor fleet REPORT... | DIR...`: one hosts x targets matrix from many hosts' saved JSON reports."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

from mab_doctor.commands.options import Options, UsageError, shown
from mab_doctor.commands.output import as_json, write
from mab_doctor.commands.report_file import load_report


def now() -> datetime:
    """The moment reports are aged against (tests replace it)."""
    return datetime.now(timezone.utc)


def main(opts: Options) -> int:
    """Exit 1 when a cell is FAIL or ERROR or a report is unreadable, 0 otherwise, 2 when none could be read."""
    from mab_doctor.report.fleet import build_fleet, render_markdown, render_text, to_json

    sources = [(path, load_report(path) if error is None else error) for path, error in _inputs(opts.args)]
    if not any(not isinstance(item, str) for _, item in sources):
        first = next(((p, e) for p, e in sources), None)
        more = f" (and {len(sources) - 1} more)" if len(sources) > 1 else ""
        raise UsageError("fleet: no report could be read" +
                         (f": {shown(first[0])}: {first[1]}{more}" if first else ""))
    fleet = build_fleet(sources, now())
    for sink in opts.sinks:
        render = {"json": lambda f: as_json(to_json(f)), "markdown": render_markdown}.get(sink.format, render_text)
        write(render(fleet), sink.output)
    if opts.ci:
        print(f"mab-doctor fleet: {'FAIL' if fleet.exit_code else 'OK'}: {len(fleet.hosts)} hosts, "
              f"{len(fleet.failing_hosts)} with FAIL or ERROR, {len(fleet.unreadable)} unreadable "
              f"(exit {fleet.exit_code})", file=sys.stderr)
    return fleet.exit_code


def _inputs(operands: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(path, None) for every file to read, in order, each once; (path, why) for an operand that gives none.

    A folder contributes every *.json directly in it, sorted by name: Ansible's fetch leaves one file a host."""
    found: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for operand in operands:
        if os.path.isdir(operand):
            try:
                names = sorted(n for n in os.listdir(operand) if n.endswith(".json"))
            except OSError as exc:
                found.append((operand, f"cannot list the folder: {exc.strerror or exc}"))
                continue
            files = [os.path.join(operand, n) for n in names if os.path.isfile(os.path.join(operand, n))]
            if not files:
                found.append((operand, "no *.json file in this folder"))
        else:
            files = [operand]
        for path in files:
            real = os.path.realpath(path)
            if real not in seen:  # a file named both alone and through its folder is one report
                seen.add(real)
                found.append((path, None))
    return found
