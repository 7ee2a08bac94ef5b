"""The default command: run the selected checks and write the report in every format asked for."""

from __future__ import annotations

from mab_doctor.commands.checking import run_once, wants_spinner
from mab_doctor.commands.options import Options
from mab_doctor.commands.reporting import build_report, finish, write_reports


def main(opts: Options) -> int:
    """Run checks per the options; return the exit code (0 ok, 1 a FAIL or ERROR, or a WARN with --strict)."""
    outcomes, ctx, wall = run_once(opts, spinner=wants_spinner(opts))
    report = build_report(opts, outcomes, ctx, wall)
    write_reports(opts, report)
    return finish(opts, report)
