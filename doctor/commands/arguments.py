"""The option groups commands accept, and the argparse parser of each command built from them."""

from __future__ import annotations

import argparse
import functools
import textwrap

from mab_doctor.commands import COMMANDS, RUN, Command
from mab_doctor.commands.options import UsageError, shown
from mab_doctor.core.tasks import DEFAULT_JOBS

PROG = "mab-doctor"
HELP_WIDTH = 88


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is an exception (one line, exit 2) instead of exit(2) with usage."""

    def error(self, message: str) -> None:
        command = self.prog.removeprefix(PROG).strip()
        raise UsageError(f"{command}: {message}" if command else message)


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


def _platform(p):
    p.add_argument("--platform", metavar="LIST", help="target platforms, comma separated, Docker syntax "
                   "(default: $MAB_PLATFORMS, else the project's build files, else "
                   "linux/amd64,linux/arm64,linux/arm/v7)")


def _targets(p):
    _platform(p)
    p.add_argument("--project", metavar="DIR", help="read the build files (bake, compose, CI workflows, "
                   "Dockerfiles) in DIR (default: the current directory)")


def _report(p):
    from mab_doctor.report.formats import FORMATS

    p.add_argument("--format", choices=FORMATS, action=_FormatAction, dest="sinks",
                   help="report format; repeat it for several reports (default text)")
    p.add_argument("--output", metavar="FILE", action=_OutputAction, dest="pending_output",
                   help="write the report of the --format before it to FILE, atomically")


def _view(p, formats: tuple[str, ...] = ("text", "json")):
    p.add_argument("--format", choices=formats, action=_FormatAction, dest="sinks",
                   help=f"{formats[0]} (default) or {' or '.join(formats[1:])}")
    p.add_argument("--output", metavar="FILE", action=_OutputAction, dest="pending_output",
                   help="write to FILE, atomically, instead of standard output")


def _verbosity(p):
    p.add_argument("-v", "--verbose", action="store_true", help="details under every row")
    p.add_argument("-q", "--quiet", action="store_true", help="only WARN, FAIL and ERROR rows, and the footer")


def _checks(p):
    p.add_argument("--strict", action="store_true", help="WARN also fails (exit 1)")
    p.add_argument("--build", action="store_true", help="also prove each target with a tiny offline build through "
                   "your builder (the build-probe check; --fix always runs it afterwards)")
    _verbosity(p)
    p.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=argparse.SUPPRESS)
    _plugins(p)


def _plugins(p):
    p.add_argument("--no-plugins", action="store_true", help="do not load third-party checks")


def _root(p):
    p.add_argument("--root", default="/", metavar="PATH",
                   help="read host files under PATH (a mounted image or chroot); commands are refused")


def _host(p):
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="timeout for each external command (default 10)")
    _root(p)


def _fix_switches(p, with_flag: bool):
    if with_flag:
        p.add_argument("--fix", action="store_true", help="apply the fixes the checks found (needs root)")
    p.add_argument("--dry-run", action="store_true", help="with --fix: print the exact plan, change nothing")
    p.add_argument("--yes", action="store_true", help="with --fix: apply without asking")
    p.add_argument("--persist", action="store_true", help="with --fix: also write /etc/binfmt.d files")
    p.add_argument("--add-c-flag", action="store_true",
                   help="with --fix: also add the C flag to QEMU handlers (setuid programs keep their privileges "
                        "under emulation; QEMU then runs with them)")


def _output(p):
    p.add_argument("--ci", action="store_true",
                   help="CI mode (also when CI=true): no colour, no spinner, no prompts, a final verdict line")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour policy (NO_COLOR is honoured)")


GROUPS = {
    "targets": _targets, "report": _report, "view": _view, "plugins": _plugins, "host": _host, "root": _root,
    "output": _output, "checks": _checks, "verbosity": _verbosity,
    "fixing": lambda p: _fix_switches(p, True),
    "fix": lambda p: _fix_switches(p, False),
    "undo": lambda p: (p.add_argument("--yes", action="store_true", help="accepted for scripts; undo never asks"),
                       p.add_argument("--force", action="store_true",
                                      help="revert even where the host changed since the fix, or a stale journal")),
    "inspect": lambda p: (p.add_argument("--deep", action="store_true",
                                         help="also analyse an image's filesystem (export or mount)"),
                          _platform(p)),
    "fleetview": lambda p: _view(p, ("text", "json", "markdown")),
    "dockerplugin": lambda p: (p.add_argument("--user", action="store_true",
                                              help="install for this user: ~/.docker/cli-plugins (the default)"),
                               p.add_argument("--system", action="store_true",
                                              help="install for everyone: /usr/local/lib/docker/cli-plugins (root)"),
                               p.add_argument("--uninstall", action="store_true",
                                              help="remove exactly what an earlier install wrote")),
}


def _wrapped(text: str) -> str:
    # Descriptions are prose: wrap them here, so RawDescriptionHelpFormatter can keep the command table.
    return "\n".join(textwrap.fill(para, HELP_WIDTH) for para in text.split("\n"))


# The README's exit code table, word for word: --help lists it, the man page's EXIT STATUS too.
EXIT_CODES = (
    ("0", "no FAIL and no ERROR (WARN and SKIP allowed unless --strict)"),
    ("1", "a FAIL or ERROR; a WARN under --strict; --fix: a selected check still fails afterwards, root "
          "was needed, or the plan was not confirmed"),
    ("2", "usage error (unknown check or command, bad platform, unreadable --root, unwritable --output, "
          "two reports for stdout, a file that is not a report): one line on stderr"),
    ("130", "interrupted (Ctrl-C): any run ends within a second, even with a check stuck"),
)


def _epilog() -> str:
    width = max(len(c.name) for c in COMMANDS)
    rows = "\n".join(f"  {c.name:<{width}}  {c.summary}" for c in COMMANDS)
    exits = "\n".join(textwrap.fill(text, HELP_WIDTH, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7)
                      for code, text in EXIT_CODES)
    return f"commands (`{PROG} help COMMAND` for each):\n{rows}\n\nexit codes:\n{exits}"


def build_parser(command: Command = RUN) -> argparse.ArgumentParser:
    """The parser of one command (the default run when none is named)."""
    is_run = command is RUN
    summary = command.summary[:1].upper() + command.summary[1:] + "."
    p = Parser(prog=PROG if is_run else f"{PROG} {command.name}", allow_abbrev=False,
               description=_wrapped(("Can this Linux host build multi-architecture images? " if is_run else "")
                                    + summary),
               epilog=_epilog() if is_run else (_wrapped(command.details) if command.details else None),
               formatter_class=argparse.RawDescriptionHelpFormatter)
    if command.operand:
        name, nargs, text = command.operand
        p.add_argument("operands", nargs=nargs, metavar=name, help=text)
    else:  # collected anyway, so the command can say in its own words that it takes none
        p.add_argument("operands", nargs="*", help=argparse.SUPPRESS)
    for group in command.groups:
        GROUPS[group](p)
    if is_run:
        from mab_doctor import __version__

        p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


@functools.cache
def visible_actions(command: Command = RUN) -> tuple[argparse.Action, ...]:
    """The options ``command``'s --help lists (hidden ones and operands left out), from its parser built once."""
    return tuple(a for a in build_parser(command)._actions if a.option_strings and a.help != argparse.SUPPRESS)


@functools.cache
def value_options() -> frozenset[str]:
    """Every option string that takes a value, read off the option groups themselves (once)."""
    # One probe parser for every group (a parser costs more to make than its options): "resolve" lets an
    # option that two groups share be added twice.
    probe = argparse.ArgumentParser(add_help=False, conflict_handler="resolve")
    for group in GROUPS.values():
        group(probe)
    return frozenset(s for a in probe._actions if a.nargs != 0 for s in a.option_strings)

