"""Command line: argument parsing and dispatch; `main(argv) -> int` never calls sys.exit."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from mab_doctor import __version__

SUBCOMMANDS = ("list", "explain", "matrix", "platform", "inspect", "undo")
FORMATS = ("text", "json", "junit", "github", "markdown")


class UsageError(Exception):
    """Bad command line: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit(2) itself
        raise UsageError(message)


class _FormatAction(argparse.Action):
    # Each --format opens a sink; an --output given before it (or the default) is its file.
    def __call__(self, parser, ns, value, option_string=None):
        ns.sinks = (ns.sinks or []) + [[value, ns.pending_output]]
        ns.pending_output = None


class _OutputAction(argparse.Action):
    # --output belongs to the --format just before it; with none yet, to the next one.
    def __call__(self, parser, ns, value, option_string=None):
        if ns.sinks and ns.sinks[-1][1] is None:
            ns.sinks[-1][1] = value
        elif ns.pending_output is None:
            ns.pending_output = value
        else:
            raise UsageError(f"--output {value}: every --format takes at most one --output")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents the options for --help)."""
    p = _Parser(prog="mab-doctor", description="Can this Linux host build multi-architecture images?",
                epilog="subcommands: list | explain NAME | matrix | platform | inspect PATH|IMAGE... | undo")
    p.add_argument("words", nargs="*", metavar="NAME", help="checks to run (default: all), or a subcommand")
    p.add_argument("--platform", help="target platforms, comma separated (default: $MAB_PLATFORMS or "
                                      "linux/amd64,linux/arm64,linux/arm/v7)")
    p.add_argument("--format", choices=FORMATS, action=_FormatAction, dest="sinks",
                   help="output format; repeat it for several reports in one run (default text)")
    p.add_argument("--output", metavar="FILE", action=_OutputAction, dest="pending_output",
                   help="write the report of the --format before it to FILE (atomically)")
    p.add_argument("--ci", action="store_true",
                   help="CI mode (also when CI=true): no colour, no spinner, no prompts, a final verdict line")
    p.add_argument("--strict", action="store_true", help="WARN also fails (exit 1)")
    p.add_argument("-v", "--verbose", action="store_true", help="details under every row")
    p.add_argument("-q", "--quiet", action="store_true", help="only non-OK rows and the footer")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="timeout for each external command (default 10)")
    p.add_argument("--root", default="/", metavar="PATH",
                   help="read host files under PATH (a mounted image or chroot); commands are refused")
    p.add_argument("--no-plugins", action="store_true", help="do not load third-party checks")
    p.add_argument("--fix", action="store_true", help="apply the fixes the checks found (needs root)")
    p.add_argument("--dry-run", action="store_true", help="with --fix: print the exact plan, change nothing")
    p.add_argument("--yes", action="store_true", help="with --fix: apply without asking")
    p.add_argument("--persist", action="store_true", help="with --fix: also write /etc/binfmt.d files")
    p.add_argument("--deep", action="store_true", help="inspect: also analyse an image's filesystem")
    p.add_argument("--jobs", type=int, default=8, help=argparse.SUPPRESS)
    p.add_argument("--version", action="version", version=f"mab-doctor {__version__}")
    return p


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse and validate; raises UsageError with a one-line message."""
    args = build_parser().parse_intermixed_args(list(argv))
    _settle_sinks(args)
    args.ci = args.ci or os.environ.get("CI", "").lower() in ("true", "1")
    if args.ci:
        args.color = "never"
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {args.timeout:g}")
    if args.verbose and args.quiet:
        raise UsageError("-v and -q cannot be combined")
    if args.deep and args.words[:1] != ["inspect"]:
        raise UsageError("--deep only goes with inspect")
    if (args.dry_run or args.yes or args.persist) and not args.fix:
        raise UsageError("--dry-run, --yes and --persist only go with --fix")
    if args.fix and (len(args.sinks) > 1 or args.format != "text" or args.output):
        raise UsageError("--fix shows its plan and results as text on the terminal; --format and --output "
                         "apply to plain runs")
    root = Path(args.root)
    if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        raise UsageError(f"--root {args.root}: not a readable directory")
    from mab_doctor.host.platforms import DEFAULT_TARGETS, PlatformError, parse_platform_list

    spec = args.platform or os.environ.get("MAB_PLATFORMS") or ",".join(DEFAULT_TARGETS)
    try:
        args.targets = parse_platform_list(spec)
    except PlatformError as exc:
        raise UsageError(str(exc)) from None
    return args


def _settle_sinks(args: argparse.Namespace) -> None:
    """Turn the --format/--output sequence into args.sinks [(format, file or None)]."""
    sinks = [tuple(s) for s in args.sinks or []]
    if args.pending_output is not None:  # an --output that no later --format took
        if sinks:
            raise UsageError(f"--output {args.pending_output}: every --format takes at most one --output")
        sinks = [("text", args.pending_output)]
    sinks = sinks or [("text", None)]
    to_stdout = [f for f, out in sinks if out is None]
    if len(to_stdout) > 1:
        raise UsageError(f"only one report can go to stdout (--format {' and '.join(to_stdout)}); "
                         f"give the others --output FILE")
    args.sinks = sinks
    args.format, args.output = sinks[0]


def make_console(args: argparse.Namespace, file=None):
    """A rich Console honouring --color, NO_COLOR and the output destination."""
    from rich.console import Console

    if file is not None:
        return Console(file=file, color_system=None, width=100, soft_wrap=False)
    # Piped output is not wrapped: CI logs and grep want one finding per line.
    piped = not sys.stdout.isatty()
    wrap = {"soft_wrap": piped, "highlight": False, **({"width": 120} if piped and "COLUMNS" not in os.environ else {})}
    if args.color == "never":
        return Console(color_system=None, **wrap)
    if args.color == "always":
        return Console(force_terminal=True, **wrap)
    return Console(**wrap)  # rich turns colour off when not a TTY or NO_COLOR is set


def write_output(path: str, text: str) -> None:
    """Write a report to --output atomically; an unwritable path is a usage error."""
    from mab_doctor.core.files import write_atomically

    try:
        write_atomically(path, text)
    except OSError as exc:
        raise UsageError(f"--output {path}: {exc.strerror or exc}") from None


_PRIMARY = object()


def emit(args: argparse.Namespace, render, output: str | None | object = _PRIMARY) -> None:
    """Send a rendering to ``output`` (a file, None for stdout; default: the first --format's
    --output); ``render(console)`` prints, or returns a string."""
    output = args.output if output is _PRIMARY else output
    if output:
        import io

        buf = io.StringIO()
        out = render(make_console(args, file=buf))
        write_output(output, out if isinstance(out, str) else buf.getvalue())
        return
    console = make_console(args)
    out = render(console)
    if isinstance(out, str):
        sys.stdout.write(out)
        sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run mab-doctor; returns the exit code (0 ok, 1 problems found, 2 usage error)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
        words = args.words
        if words and words[0] in SUBCOMMANDS:
            from mab_doctor.commands import views

            return views.run_subcommand(words[0], words[1:], args)
        if args.fix:
            from mab_doctor.commands.fix import run_fix

            return run_fix(args)
        from mab_doctor.commands.run import run_report

        return run_report(args)
    except UsageError as exc:
        print(f"mab-doctor: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version end argparse's way
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("mab-doctor: interrupted", file=sys.stderr)
        return 130
