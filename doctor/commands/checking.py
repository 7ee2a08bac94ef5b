"""What the run and fix commands share: the registry, the selected checks, the context, one run."""

from __future__ import annotations

import sys
import time
from typing import Any

from mab_doctor.commands import NAMES
from mab_doctor.commands.options import Options, UsageError, shown


def registry(opts: Options):
    """Built-in checks plus plugins (unless --no-plugins); no check may take a command's name."""
    from mab_doctor.checks import BUILTIN
    from mab_doctor.core.registry import discover

    return discover(plugins=opts.plugins, builtins=BUILTIN, reserved=NAMES)


def selected_checks(opts: Options) -> tuple[list, list]:
    """(checks to run incl. prerequisites, plugin problems to show) for the NAMEs given."""
    from mab_doctor.core.runner import UnknownCheck, select

    reg = registry(opts)
    try:
        checks = select(reg.checks, opts.names)
    except UnknownCheck as exc:
        raise UsageError(f"unknown check {shown(exc.args[0])} (known: {', '.join(reg.names)})") from None
    return checks, [p for p in reg.problems if not opts.names or p.name in opts.names]


def make_context(opts: Options, targets: tuple = ()):
    """The one door to the host for this run."""
    from mab_doctor.core.context import Context

    return Context(root=opts.root, targets=targets or opts.targets, timeout=opts.timeout)


def run_once(opts: Options, *, spinner: bool = False) -> tuple[list, Any, float]:
    """(outcomes, context, wall seconds) of one run of the selected checks."""
    from mab_doctor.core.runner import run_checks

    checks, problems = selected_checks(opts)
    ctx = make_context(opts)
    start = time.monotonic()
    stream = run_checks(checks, ctx, problems=problems, jobs=opts.jobs)
    if not spinner:
        return list(stream), ctx, time.monotonic() - start
    from rich.console import Console

    from mab_doctor.report.style import unicode_ok

    # Ctrl-C leaves through the `with`: rich stops the spinner and shows the cursor again.
    fancy = unicode_ok(sys.stderr.encoding)
    outcomes = []
    with Console(stderr=True).status("running checks…" if fancy else "running checks...",
                                     spinner="dots" if fancy else "line") as status:
        for outcome in stream:
            outcomes.append(outcome)
            status.update(f"ran {outcome.check.title}")
    return outcomes, ctx, time.monotonic() - start


def wants_spinner(opts: Options) -> bool:
    """A spinner only for a text report on a terminal, outside CI."""
    from mab_doctor.commands.options import Sink

    return Sink("text") in opts.sinks and not opts.ci and sys.stdout.isatty() and sys.stderr.isatty()
