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
        checks = select(reg.checks, opts.names, opt_in=opts.build)
    except UnknownCheck as exc:
        raise UsageError(f"unknown check {shown(exc.args[0])} (known: {', '.join(reg.names)})") from None
    return checks, [p for p in reg.problems if not opts.names or p.name in opts.names]


def read_project(opts: Options):
    """The build intent of the project directory (--project, else the current one)."""
    import os

    from mab_doctor.project.intent import read_intent

    return read_intent(os.path.abspath(opts.project or "."), os.environ)


def project_targets(opts: Options, intent) -> tuple[tuple, dict[str, str]]:
    """(targets, target -> where it came from). --platform and MAB_PLATFORMS win; else the platforms
    the project's builds name (each with the file and line of its first mention); else the default."""
    from mab_doctor.host.platforms import PlatformError, parse_platform

    chosen = []
    if opts.target_source == "default" and intent is not None:
        for platform in intent.platforms:
            try:  # the readers keep only platforms that parse; a second look costs nothing
                chosen.append((parse_platform(platform.name), str(platform.where)))
            except PlatformError:
                continue
    if not chosen:
        return opts.targets, {str(t): opts.target_source for t in opts.targets}
    return tuple(t for t, _ in chosen), {str(t): where for t, where in chosen}


def make_context(opts: Options, targets: tuple = (), *, project: bool = True):
    """The one door to the host for this run, with the project's build intent and the targets chosen."""
    from mab_doctor.core.context import Context

    intent = read_project(opts) if project else None
    chosen, sources = project_targets(opts, intent)
    if targets:
        chosen, sources = targets, {str(t): opts.target_source for t in targets}
    return Context(root=opts.root, targets=chosen, target_sources=sources, project=intent, timeout=opts.timeout,
                   thorough=opts.verbose or bool(opts.names))


def run_once(opts: Options, *, spinner: bool = False) -> tuple[list, Any, float]:
    """(outcomes, context, wall seconds) of one run of the selected checks."""
    from mab_doctor.core.runner import run_checks

    from mab_doctor.core.tasks import TaskPool

    ctx = make_context(opts)
    pool = TaskPool(opts.jobs, name="check")
    if not opts.names and ctx.is_live:
        _warm(ctx, pool)  # the slowest answers of a full run start now, while the checks are still being imported
    try:
        checks, problems = selected_checks(opts)
        # The checks' modules are imported here, on the main thread, while _warm's facts start.
        stream = run_checks(checks, ctx, problems=problems, jobs=opts.jobs, pool=pool)
    except BaseException:  # an unknown check name, a check that cannot be imported: no worker outlives it
        pool.close()
        raise
    start = time.monotonic()
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


def _warm(ctx, pool) -> None:
    """Start, on the run's pool, the facts a full run waits longest for: Docker's answers, the plugin's
    metadata, the buildx builders and Podman's images (a program start or a daemon round trip each); the
    checks that need them find them computed or in progress (a fact is computed once: later askers wait).
    Each starts as soon as its module is imported, before the next one is."""
    def start(fact) -> None:
        def quietly() -> None:
            try:
                fact()
            except Exception:  # noqa: BLE001 - the check that asks again gets the error itself
                pass
        pool.submit(quietly)
    ctx.lend(pool)  # what they wait on in turn goes side by side too
    from mab_doctor.engines.docker import docker_binary, docker_facts

    start(lambda: docker_facts(ctx))
    from mab_doctor.engines.buildx import plugin_candidates, plugin_metadata

    docker, plugins = docker_binary(ctx), plugin_candidates(ctx)
    if plugins and ctx.is_executable(plugins[0][1]):
        start(lambda: plugin_metadata(ctx, plugins[0][1]))
    if docker and plugins:
        from mab_doctor.engines.builders import list_builders

        start(lambda: list_builders(ctx, docker))
    podman = ctx.which("podman")
    if podman:
        from mab_doctor.engines.localimages import podman_images

        start(lambda: podman_images(ctx, podman))


def wants_spinner(opts: Options) -> bool:
    """A spinner only for a text report on a terminal, outside CI."""
    from mab_doctor.commands.options import Sink

    return Sink("text") in opts.sinks and not opts.ci and sys.stdout.isatty() and sys.stderr.isatty()
