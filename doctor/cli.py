"""Command line: parse argv into frozen Options and dispatch to one command; `main(argv) -> int`."""

from __future__ import annotations

import os
import sys
from typing import Mapping, Sequence

from mab_doctor.commands import BY_NAME, COMMANDS, RUN, Command, entry
from mab_doctor.commands.arguments import PROG, build_parser, value_options
from mab_doctor.commands.options import (Options, Sink, UsageError, check_jobs, check_project, check_root,
                                         check_timeout, resolve_targets, shown)

CI_VALUES = ("true", "1", "yes")


def split_command(argv: list[str]) -> tuple[Command, list[str]]:
    """The command named by the first operand (it may follow options), and the other words."""
    if not any(word in BY_NAME for word in argv):  # no command word at all: the run (no parser to build)
        return RUN, argv
    takes_value, i = value_options(), 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            break
        if word.startswith("-") and word != "-":
            i += 2 if word in takes_value else 1
            continue
        if word in BY_NAME:
            return BY_NAME[word], argv[:i] + argv[i + 1:]
        break
    return RUN, argv


def parse(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> Options:
    """Validate a command line into Options; raises UsageError with a one-line message."""
    return _parsed(*split_command(list(argv)), env)


def _parsed(command: Command, words: list[str], env: Mapping[str, str]) -> Options:
    ns = build_parser(command).parse_intermixed_args(words)
    if getattr(ns, "fix", False):
        command = BY_NAME["fix"]
    return _options(command, ns, env)


def _sinks(ns) -> tuple[Sink, ...]:
    sinks = [Sink(f, out) for f, out in getattr(ns, "sinks", None) or []]
    pending = getattr(ns, "pending_output", None)
    if pending is not None:  # an --output that no later --format took
        if sinks:
            raise UsageError(f"--output {shown(pending)}: every --format takes at most one --output")
        sinks = [Sink("text", pending)]
    sinks = sinks or [Sink("text")]
    to_stdout = [s.format for s in sinks if s.output is None]
    if len(to_stdout) > 1:
        raise UsageError(f"only one report can go to stdout (--format {' and '.join(to_stdout)}); "
                         f"give the others --output FILE")
    return tuple(sinks)


def _operands(ns) -> tuple[str, ...]:
    value = getattr(ns, "operands", None)
    words = tuple(value) if isinstance(value, list) else (value,) if value is not None else ()
    if "" in words:
        raise UsageError("an empty argument (a name, file or image is needed)")
    return words


def _options(command: Command, ns, env: Mapping[str, str]) -> Options:
    get = lambda name, default=False: getattr(ns, name, default)  # noqa: E731
    ci = get("ci") or env.get("CI", "").lower() in CI_VALUES
    operands = _operands(ns)
    names, args = (operands, ()) if command.name in ("run", "fix") else ((), operands)
    if get("verbose") and get("quiet"):
        raise UsageError("-v and -q cannot be combined")
    if command is RUN and (get("dry_run") or get("yes") or get("persist") or get("add_c_flag")):
        raise UsageError("--dry-run, --yes, --persist and --add-c-flag only go with --fix")
    if get("user") and get("system"):
        raise UsageError("--user and --system cannot be combined")
    if command.name == "fix" and _sinks(ns) != (Sink("text"),):
        raise UsageError("--fix shows its plan and results as text on the terminal; --format and --output "
                         "apply to plain runs")
    spec = get("platform", None)
    targets, source = ((), "default")
    if "targets" in command.groups or (command.name == "inspect" and spec is not None):
        targets, source = resolve_targets(spec, env)
    return Options(
        command=command.name, names=names, args=args, platform_spec=spec, targets=targets,
        target_source=source, project=check_project(get("project", None)), sinks=_sinks(ns), ci=ci,
        strict=get("strict"), verbose=get("verbose"),
        quiet=get("quiet"), color="never" if ci else get("color", "auto"),
        timeout=check_timeout(get("timeout", 10.0)), root=check_root(get("root", "/")),
        plugins=not get("no_plugins"), dry_run=get("dry_run"), yes=get("yes"), persist=get("persist"),
        add_c_flag=get("add_c_flag"), build=get("build"), force=get("force"),
        plugin_scope="system" if get("system") else "user", uninstall=get("uninstall"),
        deep=get("deep"), jobs=check_jobs(get("jobs", Options.jobs)))


def _help(words: list[str]) -> int:
    """`help [COMMAND]`: the command's own help, or the default run's with the list of commands."""
    words = ["help" if w in ("-h", "--help") else w for w in words]
    if len(words) > 1:
        raise UsageError("help takes at most one command name")
    if words and words[0] not in BY_NAME:
        known = ", ".join(c.name for c in COMMANDS)
        raise UsageError(f"help: unknown command '{shown(words[0])}' (commands: {known}; checks: "
                         f"`{PROG} explain NAME`)")
    sys.stdout.write(build_parser(BY_NAME[words[0]] if words else RUN).format_help())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run mab-doctor; returns the exit code (0 ok, 1 problems found, 2 usage error, 130 Ctrl-C)."""
    if argv is None:  # the process itself, not a test calling main
        _no_cycle_collector()
    code = _run(sys.argv[1:] if argv is None else argv)
    if argv is None:  # it must end now
        _leave(code)
    return code


def _no_cycle_collector() -> None:
    # A run lives a fraction of a second and reference counting frees nearly everything it makes; the
    # cycle collector's passes over the tens of thousands of objects the imports create cost more (about
    # 4% of a full run, measured) than the little cyclic garbage it would reclaim.
    import gc

    gc.disable()


def _run(argv: Sequence[str]) -> int:
    try:
        command, words = split_command(list(argv))
        if command.name == "help":
            return _help(words)
        opts = _parsed(command, words, os.environ)
        return entry(BY_NAME.get(opts.command, RUN))(opts)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version end argparse's way
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mab-doctor | head`: the reader left; that is not an error of ours
        from mab_doctor.commands.output import silence_stdout

        silence_stdout()
        return 0


def _leave(code: int) -> None:
    # Everything the run had to say is written; what is left of the process is the interpreter tearing
    # down every module and object one by one (about 15 ms of a 200 ms run, measured). Exit hooks that a
    # plugin (or a library it called) registered still run, on a thread and for a bounded time: a check
    # that never returned (Ctrl-C, or past its time budget) may sit in a daemon thread with a hook
    # waiting for it. Then flush what was said and leave.
    import atexit

    if atexit._ncallbacks():  # none in a run of the built-in checks
        from mab_doctor.core.tasks import within

        try:
            within(2.0, atexit._run_exitfuncs, default=None)
        except Exception:  # noqa: BLE001 - a hook's failure is the plugin's; the exit code is the run's
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)
