"""The host-writer seam: every change `--fix` and `undo` make to the host goes through a HostWriter."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Protocol, Sequence

from mab_doctor.core.commands import SubprocessRunner
from mab_doctor.core.files import write_atomically
from mab_doctor.core.record import record


@record
class RunResult:
    """How a command ended: its exit code and the last line it printed (for a one-line error)."""

    returncode: int
    last_line: str = ""


class HostWriter(Protocol):
    """What applying and undoing fixes may do to the host; tests pass a fake kernel and filesystem."""

    def read(self, path: str) -> str | None:
        """The file's text, or None when it is missing or unreadable."""

    def exists(self, path: str) -> bool:
        """Whether the path exists."""

    def listdir(self, path: str) -> list[str]:
        """Names in a directory ([] when it is missing)."""

    def mode(self, path: str) -> int | None:
        """Permission bits of a regular file, None when it is missing."""

    def is_link(self, path: str) -> bool:
        """Whether the path is a symbolic link (a file kind never writes through one)."""

    def write_control(self, path: str, text: str) -> None:
        """One write() to an existing kernel control file (never creates it); raises OSError as the kernel does."""

    def replace_file(self, path: str, text: str, mode: int | None = None) -> None:
        """Replace a regular file atomically (parents made; mode kept, or ``mode`` when given); OSError
        (ELOOP) for a symbolic link, never followed."""

    def unlink(self, path: str) -> None:
        """Remove a regular file if it exists."""

    def run(self, argv: Sequence[str], timeout: float) -> RunResult:
        """Run a command without a terminal and wait at most ``timeout`` seconds."""


class RealHostWriter:
    """The live host."""

    def read(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read()
        except (OSError, UnicodeDecodeError):
            return None

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(path)
        except OSError:
            return []

    def mode(self, path: str) -> int | None:
        try:
            return os.stat(path).st_mode & 0o7777
        except OSError:
            return None

    def is_link(self, path: str) -> bool:
        return os.path.islink(path)

    def write_control(self, path: str, text: str) -> None:
        # No O_CREAT: a missing entry or an unmounted binfmt_misc must fail (ENOENT), not create a
        # file; and one write(), because the kernel parses each write on its own.
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def replace_file(self, path: str, text: str, mode: int | None = None) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            raise OSError(errno.ELOOP, "a symbolic link: not written through", path)
        if mode is not None:
            # write_atomically keeps the mode of the file it replaces: set it first, so a copy of a
            # 0600 file (it may hold credentials) is never readable by others, not even briefly.
            # O_NOFOLLOW: a link planted since the check above fails (ELOOP) instead of being followed.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
            try:
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
        write_atomically(target, text)

    def unlink(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)

    def run(self, argv: Sequence[str], timeout: float) -> RunResult:
        # The same runner the checks use: its own process group, killed whole on a timeout
        # (a package manager leaves children behind otherwise).
        res = SubprocessRunner()(argv, timeout=timeout)
        if res.timed_out:
            return RunResult(124, f"timed out after {timeout:g} s")
        if res.returncode is None:
            return RunResult(127, res.error or ("not installed" if res.missing else res.describe()))
        return RunResult(res.returncode, res.last_line)
