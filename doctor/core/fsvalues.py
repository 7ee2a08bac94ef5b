"""The values host file access answers with: what a path names, a file's bytes, a filesystem's free space."""

from __future__ import annotations

import stat
from pathlib import Path

from mab_doctor.core.record import record

_KINDS = ((stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symlink"), (stat.S_ISFIFO, "FIFO"),
          (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))


def kind_of(mode: int) -> str:
    """'file', 'directory', 'FIFO', 'socket', 'character device', ... for an st_mode."""
    return next((name for test, name in _KINDS if test(mode)), "special file")


def size_words(n: int) -> str:
    """4194304 -> '4 MiB', 65536 -> '64 KiB' (limits in messages)."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def not_regular(path: str, kind: str) -> str:
    """The reason a non-regular file is not read."""
    return f"{path}: {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not a regular file: not read"


@record
class Found:
    """What a host path names, symlinks resolved: where it is here, and what kind of file it is."""

    path: str                 # the absolute path asked about, as the inspected host names it
    kind: str                 # file | directory | FIFO | socket | ... | missing | dangling symlink | error
    real: Path | None = None  # where it is on this machine (None when resolution failed)
    inside: str | None = None  # the resolved path as the inspected host names it
    mode: int = 0
    size: int = 0
    device: int = 0
    mtime: float = 0.0        # st_mtime: when its data last changed
    ctime: float = 0.0        # st_ctime: when its inode last changed (a copy over it, a chmod)
    reason: str | None = None  # why it is missing or unusable

    @property
    def exists(self) -> bool:
        """Something is there (a dangling symlink or a symlink loop counts, like os.path.lexists)."""
        return self.kind != "missing"

    @property
    def executable(self) -> bool:
        """A regular file with an execute bit."""
        return self.kind == "file" and bool(self.mode & 0o111)


@record
class FileRead:
    """The bytes of one host file, or why there are none; ``truncated`` when only the first
    ``limit`` bytes were taken (``reason`` then says so)."""

    path: str
    data: bytes | None
    reason: str | None = None
    truncated: bool = False


@record
class DiskSpace:
    """Free and total bytes of the filesystem holding a path, and which filesystem that was."""

    total: int
    free: int
    measured_at: str    # the path measured, as the inspected host names it
    mount_point: str    # where that filesystem is mounted on this machine
