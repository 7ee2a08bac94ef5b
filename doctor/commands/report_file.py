"""`mab-doctor report FILE`: re-render a saved JSON report in any format."""

from __future__ import annotations

import json

from mab_doctor.commands.options import Options, UsageError, shown
from mab_doctor.commands.reporting import finish, write_reports

MAX_REPORT = 64 * 1024 * 1024  # a report of thousands of rows is a few MiB; more is not a report


def main(opts: Options) -> int:
    """Exit with the exit code the saved report recorded (2 when the file is not a report)."""
    from mab_doctor.report.model import Report

    if len(opts.args) != 1:
        raise UsageError("report takes exactly one saved JSON report (`mab-doctor --format json --output FILE`)")
    path = opts.args[0]
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_REPORT + 1)
    except OSError as exc:
        raise UsageError(f"report {shown(path)}: {exc.strerror or exc}") from None
    if len(raw) > MAX_REPORT:
        raise UsageError(f"report {shown(path)}: larger than {MAX_REPORT // 2**20} MiB, not a report")
    try:
        report = Report.from_json(json.loads(raw.decode("utf-8")))
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise UsageError(f"report {shown(path)}: {str(exc).splitlines()[0][:200]}") from None
    write_reports(opts, report)
    return finish(opts, report)
