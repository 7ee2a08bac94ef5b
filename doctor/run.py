"""The default command: run the selected checks and render the report."""

from __future__ import annotations

import sys
from argparse import Namespace

from doctor.cli import UsageError, emit
from doctor.context import Context
from doctor.hostinfo import host_facts, host_summary
from doctor.model import Outcome, exit_code
from doctor.platforms import runs_natively
from doctor.registry import discover
from doctor.runner import UnknownCheck, run_checks, select


def collect(checks, ctx: Context, problems, *, spinner: bool, jobs: int) -> list[Outcome]:
    """Run the checks, showing a spinner on a TTY only."""
    stream = run_checks(checks, ctx, problems=problems, jobs=jobs)
    if not spinner:
        return list(stream)
    from rich.console import Console

    outcomes: list[Outcome] = []
    with Console(stderr=True).status("running checks…") as status:
        for outcome in stream:
            outcomes.append(outcome)
            status.update(f"ran {outcome.check.title}")
    return outcomes


def native_map(ctx: Context) -> dict[str, bool]:
    """Target -> runs natively on this host."""
    try:
        host = host_facts(ctx).platform
    except Exception:
        host = None
    return {str(t): bool(host and runs_natively(host, t)) for t in ctx.targets}


def selected_checks(args: Namespace) -> tuple[list, list]:
    """(checks to run incl. prerequisites, plugin problems to show) for the NAMEs given."""
    registry = discover(plugins=not args.no_plugins)
    try:
        checks = select(registry.checks, args.words)
    except UnknownCheck as exc:
        raise UsageError(f"unknown check {exc.args[0]} (known: {', '.join(registry.names)})") from None
    return checks, [p for p in registry.problems if not args.words or p.name in args.words]


def run_report(args: Namespace) -> int:
    """Run checks per the parsed arguments; return the exit code."""
    checks, problems = selected_checks(args)
    ctx = Context(root=args.root, targets=args.targets, timeout=args.timeout)
    spinner = args.format == "text" and not args.output and sys.stdout.isatty() and sys.stderr.isatty()
    outcomes = collect(checks, ctx, problems, spinner=spinner, jobs=args.jobs)
    code = exit_code(outcomes, strict=args.strict)
    host = host_summary(ctx)
    if args.format == "json":
        from doctor.report_json import render_json

        emit(args, lambda console: render_json(outcomes, host, [str(t) for t in ctx.targets], code))
    else:
        from doctor.report_text import render_text

        emit(args, lambda console: render_text(console, outcomes, host=host, targets=list(ctx.targets),
                                               native=native_map(ctx), exit_code=code,
                                               verbose=args.verbose, quiet=args.quiet))
    return code
