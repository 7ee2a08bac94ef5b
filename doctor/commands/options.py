"""The parsed command line as one frozen value, and the usage error every command raises."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping

from mab_doctor.core.record import record
from mab_doctor.core.tasks import DEFAULT_JOBS

MAX_TIMEOUT = 3600.0   # one external command never needs more than an hour; larger values are typos
MIN_TIMEOUT = 0.1      # not even `docker --version` starts faster; smaller values only make every command fail
MAX_JOBS = 64          # worker threads of one run: more only adds contention on a build host
_SHOWN = 60            # characters of a bad value repeated in an error message


class UsageError(Exception):
    """Bad command line: one line on stderr, exit code 2."""


def shown(value: str) -> str:
    """A user-given value as an error message quotes it: printable and at most a line long."""
    text = value.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(value)} characters)"


@record
class Sink:
    """One report to produce: a format and where it goes (None: standard output)."""

    format: str
    output: str | None = None


@record
class Options:
    """Everything a command needs from the command line and the environment, validated."""

    command: str                          # "run" for the default (run checks), else a command's name
    names: tuple[str, ...] = ()           # check names (run, fix)
    args: tuple[str, ...] = ()            # the command's own operands (explain NAME, inspect PATH ...)
    platform_spec: str | None = None      # --platform as given (None: not given)
    targets: tuple[Any, ...] = ()         # parsed targets, for commands that judge targets
    target_source: str = "default"        # where the targets came from: --platform, MAB_PLATFORMS, default
    project: str | None = None            # --project DIR (None: the current directory)
    sinks: tuple[Sink, ...] = (Sink("text"),)
    ci: bool = False
    strict: bool = False
    verbose: bool = False
    quiet: bool = False
    color: str = "auto"
    timeout: float = 10.0
    root: str = "/"
    plugins: bool = True
    dry_run: bool = False
    yes: bool = False
    persist: bool = False
    add_c_flag: bool = False              # --add-c-flag (with --fix)
    build: bool = False                   # --build: the opt-in build probe runs too
    plugin_scope: str = "user"            # install-docker-plugin: "user" or "system"
    uninstall: bool = False               # install-docker-plugin --uninstall
    force: bool = False                   # undo --force
    deep: bool = False
    jobs: int = DEFAULT_JOBS              # --jobs (hidden)

    @property
    def format(self) -> str:
        """The first (or only) report format."""
        return self.sinks[0].format

    @property
    def output(self) -> str | None:
        """The first (or only) report's file, None for standard output."""
        return self.sinks[0].output


def check_timeout(value: float) -> float:
    """A finite number of seconds in [MIN_TIMEOUT, MAX_TIMEOUT]."""
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"--timeout must be positive and finite, not {value:g}")
    if value < MIN_TIMEOUT:
        raise UsageError(f"--timeout {value:g}: at least {MIN_TIMEOUT:g} seconds")
    if value > MAX_TIMEOUT:
        raise UsageError(f"--timeout {value:g}: at most {MAX_TIMEOUT:g} seconds")
    return value


def check_jobs(value: int) -> int:
    """Worker threads for one run: at least 1, at most MAX_JOBS."""
    return min(max(1, value), MAX_JOBS)


def check_root(root: str) -> str:
    """--root must name a readable directory."""
    if root == "":
        raise UsageError("--root: empty path (leave the option out for this machine)")
    try:
        usable = Path(root).is_dir() and os.access(root, os.R_OK | os.X_OK)
    except (OSError, ValueError) as exc:  # a name too long for the kernel, a NUL byte
        raise UsageError(f"--root {shown(root)}: {getattr(exc, 'strerror', None) or exc}") from None
    if not usable:
        raise UsageError(f"--root {shown(root)}: not a readable directory")
    return root


def check_project(directory: str | None) -> str | None:
    """--project must name a readable directory (kept as given; None means the current directory)."""
    if directory is None:
        return None
    if directory == "":
        raise UsageError("--project: empty path (leave the option out for the current directory)")
    try:
        usable = Path(directory).is_dir() and os.access(directory, os.R_OK | os.X_OK)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--project {shown(directory)}: {getattr(exc, 'strerror', None) or exc}") from None
    if not usable:
        raise UsageError(f"--project {shown(directory)}: not a readable directory")
    return directory


def resolve_targets(spec: str | None, env: Mapping[str, str]) -> tuple[tuple[Any, ...], str]:
    """(targets, where they came from): --platform, else MAB_PLATFORMS, else the default three (which the
    project's own build files may still replace: see commands.checking.project_targets)."""
    from mab_doctor.host.platforms import DEFAULT_TARGETS, PlatformError, parse_platform_list

    if spec is not None:
        text, source = spec, "--platform"
    elif env.get("MAB_PLATFORMS", "").strip():
        text, source = env["MAB_PLATFORMS"], "MAB_PLATFORMS"
    else:
        text, source = ",".join(DEFAULT_TARGETS), "default"
    try:
        return parse_platform_list(text), source
    except PlatformError as exc:
        message = str(exc)
        if len(message) > 200:
            message = f"{shown(text)}: {message[:120]}..."
        # The parser's words name no source: say where the bad list came from.
        raise UsageError(f"{source}: {message}" if source != "default" else message) from None
