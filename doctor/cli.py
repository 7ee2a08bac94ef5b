"""Command line: parse argv into frozen Options and dispatch to one command; `main(argv) -> int`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from mab_doctor import __version__
from mab_doctor.commands import BY_NAME, COMMANDS, RUN, Command, entry
from mab_doctor.commands.options import (FORMATS, Options, Sink, UsageError, check_root, check_timeout,
                                         resolve_targets, shown)

PROG = "mab-doctor"
CI_VALUES = ("true", "1", "yes")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit(2) itself
        raise UsageError(message)


class _FormatAction(argparse.Action):
    # Each --format opens a sink; an --output given before it (or none) is its file.
    def __call__(self, parser, ns, value, option_string=None):
        ns.sinks = (ns.sinks or []) + [[value, ns.pending_output]]
        ns.pending_output = None


class _OutputAction(argparse.Action):
    # --output belongs to the --format just before it; with none yet, to the next one.
    def __call__(self, parser, ns, value, option_string=None):
        if value == "":
            raise UsageError("--output: empty file name (leave the option out for standard output)")
        if ns.sinks and ns.sinks[-1][1] is None:
            ns.sinks[-1][1] = value
        elif ns.pending_output is None:
            ns.pending_output = value
        else:
            raise UsageError(f"--output {shown(value)}: every --format takes at most one --output")


def _targets(p):
    p.add_argument("--platform", metavar="LIST", help="target platforms, comma separated, Docker syntax "
                   "(default: $MAB_PLATFORMS, else linux/amd64,linux/arm64,linux/arm/v7)")


def _report(p):
    p.add_argument("--format", choices=FORMATS, action=_FormatAction, dest="sinks",
                   help="report format; repeat it for several reports from one run (default text)")
    p.add_argument("--output", metavar="FILE", action=_OutputAction, dest="pending_output",
                   help="write the report of the --format before it to FILE, atomically")


def _view(p):
    p.add_argument("--format", choices=("text", "json"), action=_FormatAction, dest="sinks",
                   help="text (default) or json")
    p.add_argument("--output", metavar="FILE", action=_OutputAction, dest="pending_output",
                   help="write to FILE, atomically, instead of standard output")


def _checks(p):
    p.add_argument("--strict", action="store_true", help="WARN also fails (exit 1)")
    p.add_argument("-v", "--verbose", action="store_true", help="details under every row")
    p.add_argument("-q", "--quiet", action="store_true", help="only WARN, FAIL and ERROR rows, and the footer")
    p.add_argument("--jobs", type=int, default=8, help=argparse.SUPPRESS)
    _plugins(p)


def _plugins(p):
    p.add_argument("--no-plugins", action="store_true", help="do not load third-party checks")


def _host(p):
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="timeout for each external command (default 10)")
    p.add_argument("--root", default="/", metavar="PATH",
                   help="read host files under PATH (a mounted image or chroot); commands are refused")


def _fix_switches(p, with_flag: bool):
    if with_flag:
        p.add_argument("--fix", action="store_true", help="apply the fixes the checks found (needs root)")
    p.add_argument("--dry-run", action="store_true", help="with --fix: print the exact plan, change nothing")
    p.add_argument("--yes", action="store_true", help="with --fix: apply without asking")
    p.add_argument("--persist", action="store_true", help="with --fix: also write /etc/binfmt.d files")


def _output(p):
    p.add_argument("--ci", action="store_true",
                   help="CI mode (also when CI=true): no colour, no spinner, no prompts, a final verdict line")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour policy (NO_COLOR is honoured)")


GROUPS = {
    "targets": _targets, "report": _report, "view": _view, "plugins": _plugins, "host": _host,
    "output": _output,
    "checks": _checks,
    "fixing": lambda p: _fix_switches(p, True),
    "fix": lambda p: _fix_switches(p, False),
    "undo": lambda p: p.add_argument("--yes", action="store_true", help="accepted for scripts; undo never asks"),
    "inspect": lambda p: (p.add_argument("--deep", action="store_true",
                                         help="also analyse an image's filesystem (export or mount)"),
                          _targets(p)),
}


def _epilog() -> str:
    width = max(len(c.name) for c in COMMANDS)
    rows = "\n".join(f"  {c.name:<{width}}  {c.summary}" for c in COMMANDS)
    return f"commands (`{PROG} help COMMAND` for each):\n{rows}"


def build_parser(command: Command = RUN) -> argparse.ArgumentParser:
    """The parser of one command (the default run when none is named)."""
    is_run = command is RUN
    p = _Parser(prog=PROG if is_run else f"{PROG} {command.name}", allow_abbrev=False,
                description=("Can this Linux host build multi-architecture images? " if is_run else "")
                + command.summary[:1].upper() + command.summary[1:] + ".",
                epilog=_epilog() if is_run else (command.details or None),
                formatter_class=argparse.RawDescriptionHelpFormatter)
    if command.operands:
        nargs = "?" if command.operands.startswith("[") and "..." not in command.operands else "*"
        p.add_argument("operands", nargs=nargs, metavar=command.operands.strip("[]. ").split("|")[0] or "ARG",
                       help=command.operands)
    else:  # collected anyway, so the command can say in its own words that it takes none
        p.add_argument("operands", nargs="*", help=argparse.SUPPRESS)
    for group in command.groups:
        GROUPS[group](p)
    if is_run:
        p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


def _value_options() -> set[str]:
    # Options that take a value, so the search for the command word can skip their values.
    return {"--platform", "--format", "--output", "--color", "--timeout", "--root", "--jobs"}


def split_command(argv: list[str]) -> tuple[Command, list[str]]:
    """The command named by the first operand (anywhere among the options), and the other words."""
    takes_value, i = _value_options(), 0
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


def parse(argv: Sequence[str], env=os.environ) -> Options:
    """Validate a command line into Options; raises UsageError with a one-line message."""
    command, words = split_command(list(argv))
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


def _options(command: Command, ns, env) -> Options:
    get = lambda name, default=False: getattr(ns, name, default)  # noqa: E731
    ci = get("ci") or env.get("CI", "").lower() in CI_VALUES
    operands = get("operands", None)
    operands = tuple(operands if isinstance(operands, list) else [operands] if operands else [])
    names, args = (operands, ()) if command.name in ("run", "fix") else ((), operands)
    if get("verbose") and get("quiet"):
        raise UsageError("-v and -q cannot be combined")
    if command is RUN and (get("dry_run") or get("yes") or get("persist")):
        raise UsageError("--dry-run, --yes and --persist only go with --fix")
    if command.name == "fix" and _sinks(ns) != (Sink("text"),):
        raise UsageError("--fix shows its plan and results as text on the terminal; --format and --output "
                         "apply to plain runs")
    spec = get("platform", None)
    targets, source = ((), "default")
    if "targets" in command.groups or (command.name == "inspect" and spec is not None):
        targets, source = resolve_targets(spec, env)
    return Options(
        command=command.name, names=names, args=args, platform_spec=spec, targets=targets,
        target_source=source, sinks=_sinks(ns), ci=ci, strict=get("strict"), verbose=get("verbose"),
        quiet=get("quiet"), color="never" if ci else get("color", "auto"),
        timeout=check_timeout(get("timeout", 10.0)), root=check_root(get("root", "/")),
        plugins=not get("no_plugins"), dry_run=get("dry_run"), yes=get("yes"), persist=get("persist"),
        deep=get("deep"), jobs=max(1, get("jobs", 8)))


def _help(words: list[str]) -> int:
    """`help [COMMAND]`: the command's own help, or the default run's with the list of commands."""
    if len(words) > 1:
        raise UsageError("help takes at most one command name")
    if words and words[0] not in BY_NAME:
        known = ", ".join(c.name for c in COMMANDS)
        raise UsageError(f"help: unknown command '{shown(words[0])}' (commands: {known}; checks: "
                         f"`{PROG} explain NAME`)")
    sys.stdout.write(build_parser(BY_NAME[words[0]] if words else RUN).format_help())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run mab-doctor; returns the exit code (0 ok, 1 problems found, 2 usage error)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        command, words = split_command(list(argv))
        if command.name == "help":
            return _help(words)
        opts = parse(argv)
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
        return 0
