"""Bounded commands as values: what ran, what it printed, and why it did not run."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Mapping, Protocol, Sequence

from mab_doctor.core.record import record


@record
class CommandResult:
    """What running a command produced; failures are values, never exceptions."""

    argv: tuple[str, ...]
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    missing: bool = False      # executable not found
    timed_out: bool = False    # killed after the timeout
    refused: bool = False      # not run: --root points at a foreign tree
    error: str | None = None   # could not start for another reason (EACCES, ENOEXEC, ...)
    timeout: float | None = None
    errno: int | None = None   # the exec failure's errno (ENOENT, ENOEXEC, EACCES, ...)

    @property
    def ok(self) -> bool:
        """True when the command ran and exited 0."""
        return self.returncode == 0

    @property
    def last_line(self) -> str:
        """The command's last word: the last non-empty line of stderr, else of stdout, else describe()."""
        for text in (self.stderr, self.stdout):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-1]
        return self.describe()

    def explain(self) -> str:
        """describe(), followed by last_line when the command printed anything."""
        said = self.last_line
        return self.describe() if said == self.describe() else f"{self.describe()}: {said}"

    def describe(self) -> str:
        """One line for report details: what happened to this command."""
        cmd = " ".join(self.argv)
        if self.missing:
            return f"`{cmd}`: not installed"
        if self.timed_out:
            return f"`{cmd}`: timed out after {self.timeout:g}s"
        if self.refused:
            return f"`{cmd}`: not run (foreign --root)"
        if self.error:
            return f"`{cmd}`: could not start: {self.error}"
        return f"`{cmd}`: exit code {self.returncode}"


# For the short Go programs every run starts (`docker version`, the buildx plugin's metadata): one OS thread
# and no garbage collection until 256 MiB (Go 1.19+; older Go ignores the limit, and these programs allocate
# a few MiB). They print the same; a run spends about 10 ms less CPU, measured. What the user set wins.
QUICK_GO = {"GOMAXPROCS": "1", "GOGC": "off", "GOMEMLIMIT": "256MiB"}


def quick_go_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for a short-lived Go program: QUICK_GO added, unless the user set any of those knobs."""
    if any(name in env for name in QUICK_GO):
        return dict(env)
    return {**env, **QUICK_GO}


class CommandRunner(Protocol):
    """Runs argv with a mandatory timeout."""

    def __call__(self, argv: Sequence[str], *, timeout: float,
                 env: Mapping[str, str] | None = None) -> CommandResult: ...


class SubprocessRunner:
    """Runs real commands on this host, each in its own process group so a timeout kills it all."""

    def __call__(self, argv: Sequence[str], *, timeout: float,
                 env: Mapping[str, str] | None = None) -> CommandResult:
        argv = tuple(argv)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=dict(env) if env is not None else None,
                                    start_new_session=True)
        except FileNotFoundError as exc:
            return CommandResult(argv, missing=True, timeout=timeout, errno=exc.errno)
        except OSError as exc:
            return CommandResult(argv, error=exc.strerror or str(exc), timeout=timeout, errno=exc.errno)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            out, err = _kill_group(proc)  # keep what it printed before hanging (e.g. the client half)
            return CommandResult(argv, None, _text(out), _text(err), timed_out=True, timeout=timeout)
        return CommandResult(argv, proc.returncode, _text(out), _text(err), timeout=timeout)


def _kill_group(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    out, err = proc.communicate()
    return out or b"", err or b""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class RefusingRunner:
    """Stands in for the real runner when --root is a foreign tree (distro's 'no false information')."""

    def __call__(self, argv: Sequence[str], *, timeout: float,
                 env: Mapping[str, str] | None = None) -> CommandResult:
        return CommandResult(tuple(argv), refused=True, timeout=timeout)
