"""The default command: run the selected checks and render the report."""

from __future__ import annotations

import importlib
import os
import sys
from argparse import Namespace

from mab_doctor.cli import UsageError, emit
from mab_doctor.core.context import Context
from mab_doctor.host.hostinfo import host_facts, host_summary
from mab_doctor.core.model import Outcome, count_statuses, exit_code
from mab_doctor.host.platforms import runs_natively
from mab_doctor.core.registry import discover
from mab_doctor.core.runner import UnknownCheck, run_checks, select


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


def _renderer(module: str, name: str):
    return lambda: getattr(importlib.import_module(module), name)


# Machine formats: render(outcomes, host, targets, exit_code) -> str, imported only when asked for.
RENDERERS = {"json": _renderer("mab_doctor.report.jsonfmt", "render_json"),
             "junit": _renderer("mab_doctor.report.junit", "render_junit"),
             "github": _renderer("mab_doctor.report.github", "render_github"),
             "markdown": _renderer("mab_doctor.report.markdown", "render_markdown")}


def verdict(outcomes: list[Outcome], code: int) -> str:
    """The one-line final verdict printed in CI mode."""
    counts = count_statuses(outcomes)
    word = "FAIL" if code else ("WARN" if counts["warn"] else "OK")
    return (f"mab-doctor: {word}: {counts['fail']} fail, {counts['error']} error, {counts['warn']} warn, "
            f"{counts['ok']} ok, {counts['skip']} skip (exit {code})")


def run_report(args: Namespace) -> int:
    """Run checks per the parsed arguments; return the exit code."""
    checks, problems = selected_checks(args)
    ctx = Context(root=args.root, targets=args.targets, timeout=args.timeout)
    spinner = (("text", None) in args.sinks and not args.ci and sys.stdout.isatty() and sys.stderr.isatty())
    outcomes = collect(checks, ctx, problems, spinner=spinner, jobs=args.jobs)
    code = exit_code(outcomes, strict=args.strict)
    host, targets = host_summary(ctx), [str(t) for t in ctx.targets]
    for fmt, output in args.sinks:
        if fmt == "text":
            from mab_doctor.report.text import render_text

            emit(args, lambda console: render_text(console, outcomes, host=host, targets=list(ctx.targets),
                                                   native=native_map(ctx), exit_code=code,
                                                   verbose=args.verbose, quiet=args.quiet), output)
        else:
            render = RENDERERS[fmt]()
            emit(args, lambda console: render(outcomes, host, targets, code), output)
        if fmt == "github" and os.environ.get("GITHUB_STEP_SUMMARY"):
            from mab_doctor.report.github import step_summary

            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:  # GitHub appends steps
                fh.write(step_summary(outcomes, host, targets, code, os.environ) or "")
    if args.ci:
        print(verdict(outcomes, code), file=sys.stderr)
    return code
