"""Turning a run into the Report value and writing it: the sinks, the GitHub step summary, the CI verdict."""

from __future__ import annotations

import os
import sys

from mab_doctor.commands.arguments import PROG
from mab_doctor.commands.options import Options, Sink, shown
from mab_doctor.commands.output import color_on, width, write


def build_report(opts: Options, outcomes: list, ctx, wall_s: float):
    """The one Report value of a run: host summary, targets with where they came from, rows, exit code.

    The header's host facts are waited for at most one check's budget: a check that never returned
    may be stuck computing them, and the report must still come out."""
    from mab_doctor.core.model import exit_code
    from mab_doctor.core.runner import check_budget
    from mab_doctor.core.tasks import within
    from mab_doctor.host.hostinfo import host_summary, placement_map
    from mab_doctor.report.model import Report, TargetInfo

    wait = check_budget(ctx.timeout)
    placed = within(wait, placement_map, ctx, default={})
    host = within(wait, host_summary, ctx, default={"root": str(ctx.root), "error": "host facts unavailable: "
                                                    f"not found within {wait:g} s"})
    targets = [TargetInfo(str(t), getattr(placed.get(str(t)), "how", "") == "native",
                          ctx.target_sources.get(str(t), opts.target_source), getattr(placed.get(str(t)), "how", ""),
                          getattr(placed.get(str(t)), "why", "")) for t in ctx.targets]
    return Report.build(outcomes, host, targets, exit_code(outcomes, strict=opts.strict), wall_s)


def style(opts: Options, to_file: bool):
    """How a renderer lays the report out for one destination."""
    from mab_doctor.report.renderers import Style

    from mab_doctor.report.renderers import unicode_ok

    return Style(color=color_on(opts) and not to_file, width=width(opts, to_file),
                 unicode=unicode_ok(None if to_file else sys.stdout.encoding), verbose=opts.verbose,
                 quiet=opts.quiet)


def render(report, sink: Sink, opts: Options) -> str:
    """The report in one sink's format."""
    from mab_doctor.report.renderers import renderer

    return renderer(sink.format)(report, style(opts, sink.output is not None))


def write_reports(opts: Options, report) -> None:
    """Every --format to its --output (or standard output); GitHub also appends its step summary."""
    for sink in opts.sinks:
        write(render(report, sink, opts), sink.output)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if sink.format == "github" and summary_path:
            from mab_doctor.report.renderers import step_summary

            _append(summary_path, step_summary(report))


def _append(path: str, text: str) -> None:
    # GitHub collects every step's summary by appending to a file it names. The variable comes from
    # the CI runner, not from the command line, and the report itself is already written: a summary
    # that cannot be written (a directory, a missing directory, no permission) is one warning line
    # on stderr, and the exit code stays the report's.
    from mab_doctor.core.files import append_output

    try:
        append_output(path, text)
    except OSError as exc:
        print(f"{PROG}: warning: GITHUB_STEP_SUMMARY {shown(path)}: {exc.strerror or exc}; the step summary "
              f"was not written", file=sys.stderr)


def finish(opts: Options, report, code: int | None = None) -> int:
    """The exit code; in CI mode the one-line verdict goes to stderr first."""
    if opts.ci:
        from mab_doctor.report.renderers import verdict

        print(verdict(report) if code is None else verdict(report, code), file=sys.stderr)
    return report.exit_code if code is None else code
