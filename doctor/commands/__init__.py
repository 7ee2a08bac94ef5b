"""Commands room: one module per `mab-doctor` command; each takes frozen Options and returns an exit code.

This table is the one home of the command names: the parser, `help`, and the words no check may be
named after all come from it.
"""

from __future__ import annotations

import importlib
from typing import Callable

from mab_doctor.core.record import record


@record
class Command:
    """A command: its word, what it does, its operands and the option groups it accepts."""

    name: str
    module: str                      # mab_doctor.commands.<module>, with main(options) -> int
    summary: str
    operand: tuple[str, str | None, str] | None = None  # (metavar, argparse nargs, help); None: takes none
    groups: tuple[str, ...] = ()     # option groups, from mab_doctor.commands.arguments.GROUPS
    details: str = ""                # a paragraph for `help COMMAND`


# The default command has no word: `mab-doctor [NAME ...]` runs checks.
RUN = Command("run", "run", "run checks (all when no NAME is given; a NAME also runs what it requires)",
              ("NAME", "*", "checks to run (default: all; each also runs what it requires)"),
              ("targets", "report", "checks", "host", "fixing", "output"),
              "Exit 0 when nothing failed (WARN and SKIP allowed unless --strict), 1 when a check "
              "failed or broke, 2 on a usage error.")

COMMANDS = (
    Command("fix", "fix", "apply the fixes the checks found (root), then check again",
            ("NAME", "*", "checks whose problems to fix (default: all)"),
            ("targets", "checks", "host", "fix", "output"),
            "Plans the fixes from a fresh run, shows the plan, asks (on a terminal) or needs --yes, applies "
            "each step through a journal, runs the checks again and shows what changed. Same as "
            "`mab-doctor --fix`. Exit 0 only when every selected check passes afterwards."),
    Command("undo", "undo", "revert the last --fix exactly, from its journal", None, ("undo", "output"),
            "Restores every binfmt_misc entry and file the last --fix changed, newest step first; also "
            "completes a --fix that was interrupted half-way. First checks that the host still holds what "
            "each step left; where something changed since, it lists the differences and changes nothing "
            "(--force goes ahead). Packages it installed stay installed."),
    Command("list", "listing", "checks: name, category, title, fixable, source", None,
            ("view", "plugins", "output")),
    Command("explain", "explain", "what a check verifies, why it matters, how to fix it",
            ("NAME", None, "a check name (`mab-doctor list` shows them)"),
            ("view", "plugins", "output")),
    Command("platform", "platform", "this host in every platform vocabulary, and how it runs each target "
            "(reads files; starts no engine or emulator)", None, ("view", "targets", "root", "output")),
    Command("inspect", "inspect", "what ELF files, trees and local images really are, and if they run here",
            ("PATH", "+", "ELF files, directories, or local Docker/Podman image references"),
            ("view", "inspect", "host", "output"),
            "Exit 1 when no input could be read, or when --platform is given and an input (or any file "
            "of a tree or image) is for another platform."),
    Command("plan", "plan", "what the project builds: targets, builds, Dockerfiles, CI set-up (starts nothing)", None,
            ("targets", "view", "output"),
            "Reads the bake, compose, CI and Docker files of the project (--project DIR, else the current "
            "directory) and prints the targets a run would check and where each came from, every build, the "
            "Dockerfiles' stages, the CI jobs' QEMU and buildx set-up, problems and notes. Exit 0 when read."),
    Command("matrix", "matrix", "the compatibility matrix and known environments, with sources", None,
            ("view", "output")),
    Command("report", "report_file", "re-render a saved JSON report in any format",
            ("FILE", None, "a report written by `mab-doctor --format json`"), ("report", "verbosity", "output"),
            "Reads a report written by `mab-doctor --format json` and renders it again; exits with the "
            "exit code the report recorded."),
    Command("why", "why", "the known cause of a failed build, read from its log",
            ("LOGFILE", "?", "a failed build's log; - or none: standard input"), ("view", "output"),
            "Reads a failed docker/buildx/podman/buildah build log (the last 4 MiB) and names the known causes "
            "with the line that shows each and what to do. Exit 0 when a cause was found, 1 when none is known "
            "(the last error lines are shown), 2 when the log cannot be read."),
    Command("fleet", "fleet", "one hosts x targets matrix from many saved JSON reports",
            ("REPORT", "+", "JSON reports (mab-doctor --format json), or folders holding them"),
            ("fleetview", "output"),
            "Reads reports written by `mab-doctor --format json` on many hosts (files, or every *.json in a "
            "folder) and renders one matrix: a row per host, a column per target, each cell the host's worst "
            "finding for that target; with each report's age and the hosts that disagree with the majority."),
    Command("completion", "completion", "shell completion for bash, zsh or fish",
            ("SHELL", None, "bash, zsh or fish"), ("output",),
            "Prints a completion script: `source <(mab-doctor completion bash)`; completes commands, check "
            "names, options and platforms."),
    Command("install-docker-plugin", "dockerplugin", "make `docker doctor` run mab-doctor (a Docker CLI plugin)",
            None, ("dockerplugin",),
            "Writes docker-doctor into the Docker CLI's plugin folder (--user: ~/.docker/cli-plugins, --system: "
            "/usr/local/lib/docker/cli-plugins); --uninstall removes exactly what it wrote."),
    Command("help", "help", "help for one command", ("COMMAND", "?", "a command name"), ()),
)

BY_NAME = {c.name: c for c in COMMANDS}
NAMES = frozenset(BY_NAME)


def entry(command: Command) -> Callable:
    """The command's `main(options) -> int`, imported only when that command runs."""
    return importlib.import_module(f"mab_doctor.commands.{command.module}").main
