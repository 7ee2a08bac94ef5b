"""`mab-doctor report FILE`: re-render a saved JSON report in any format."""

from __future__ import annotations

import json
import os
import stat

from mab_doctor.commands.options import Options, UsageError, shown
from mab_doctor.commands.reporting import finish, write_reports

MAX_REPORT = 64 * 1024 * 1024  # a report of thousands of rows is a few MiB; more is not a report


def read_report_bytes(path: str) -> bytes:
    """The file's bytes: a regular file only (a FIFO or device would block or never end), bounded."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except (OSError, ValueError) as exc:
        raise UsageError(f"report {shown(path)}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"report {shown(path)}: not a regular file")
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(MAX_REPORT + 1)
    if len(raw) > MAX_REPORT:
        raise UsageError(f"report {shown(path)}: larger than {MAX_REPORT // 2**20} MiB, not a report")
    return raw


def main(opts: Options) -> int:
    """Exit with the exit code the saved report recorded (2 when the file is not a report)."""
    from mab_doctor.report.model import Report

    if len(opts.args) != 1:
        raise UsageError("report takes exactly one saved JSON report (`mab-doctor --format json --output FILE`)")
    path = opts.args[0]
    raw = read_report_bytes(path)
    try:
        report = Report.from_json(json.loads(raw.decode("utf-8")))
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise UsageError(f"report {shown(path)}: {str(exc).splitlines()[0][:200]}") from None
    write_reports(opts, report)
    return finish(opts, report)
