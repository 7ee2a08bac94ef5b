"""`mab-doctor report FILE`: re-render a saved JSON report in any format; how a saved report is read (fleet too)."""

from __future__ import annotations

import json
import os
import stat
from typing import TYPE_CHECKING

from mab_doctor.commands.options import Options, UsageError, shown
from mab_doctor.commands.reporting import finish, write_reports

if TYPE_CHECKING:
    from mab_doctor.report.model import Report

MAX_REPORT = 64 * 1024 * 1024  # a report of thousands of rows is a few MiB; more is not a report
REASON_CHARS = 200  # one line of a fleet row; the start of a parser's message says what is wrong


def load_report(path: str) -> Report | str:
    """The Report saved in ``path``, or a one-line reason it is not one (never an exception)."""
    from mab_doctor.report.model import Report

    raw = _read(path)
    if isinstance(raw, str):
        return _one_line(raw)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "not a mab-doctor report: not UTF-8 text"
    except (ValueError, RecursionError) as exc:
        return _one_line(f"not a mab-doctor report: not JSON ({exc})")
    try:
        return Report.from_json(data)
    except (ValueError, RecursionError) as exc:
        return _one_line(str(exc))


def _read(path: str) -> bytes | str:
    """The file's bytes, or why not: a regular file only (a FIFO or device would block or never end), bounded."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "strerror", None) or exc)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return "not a regular file"
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(MAX_REPORT + 1)
    if len(raw) > MAX_REPORT:
        return f"larger than {MAX_REPORT // 2**20} MiB, not a report"
    return raw


def _one_line(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."


def main(opts: Options) -> int:
    """Exit with the exit code the saved report recorded (2 when the file is not a report)."""
    if len(opts.args) != 1:
        raise UsageError("report takes exactly one saved JSON report (`mab-doctor --format json --output FILE`)")
    path = opts.args[0]
    report = load_report(path)
    if isinstance(report, str):
        raise UsageError(f"report {shown(path)}: {report}")
    write_reports(opts, report)
    return finish(opts, report)
