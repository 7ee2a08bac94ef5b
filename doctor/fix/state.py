"""The fix state directory (journals and the lock): private to its user, never reached through a symbolic link."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mab_doctor.fix.kinds import FixError

DEFAULT_STATE_DIR = "/var/lib/mab-doctor"
JOURNALS = "journals"
LOCK = "lock"
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def state_dir() -> Path:
    """Where journals and the lock live: /var/lib/mab-doctor for root, the user's XDG state
    directory otherwise (a user's fix only edits the user's own files); MAB_DOCTOR_STATE_DIR wins."""
    if os.environ.get("MAB_DOCTOR_STATE_DIR"):
        return Path(os.environ["MAB_DOCTOR_STATE_DIR"])
    if os.geteuid() == 0:
        return Path(DEFAULT_STATE_DIR)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mab-doctor"


def _refuse(path: Path, why: str) -> FixError:
    return FixError(f"refusing to use {path}: {why}")


def _kind_of(path: Path, parent_fd: int | None) -> str:
    # Why an open with O_NOFOLLOW failed, in words (the kernel says ENOTDIR or ELOOP for a link).
    try:
        info = os.lstat(path.name if parent_fd is not None else path, dir_fd=parent_fd)
    except OSError:
        return "it cannot be opened"
    return "it is a symbolic link" if stat.S_ISLNK(info.st_mode) else "it is not a directory"


def _check_owned(fd: int, path: Path, *, directory: bool) -> None:
    """Close ``fd`` and refuse unless it is ours: the right type, owned by us (or root), writable by no one else."""
    info = os.fstat(fd)
    problem = None
    if not (stat.S_ISDIR if directory else stat.S_ISREG)(info.st_mode):
        problem = "it is not a directory" if directory else "it is not a regular file"
    elif info.st_uid not in (os.geteuid(), 0):  # root's own are as trusted as ours (root can do anything)
        problem = f"it belongs to uid {info.st_uid}, neither to uid {os.geteuid()} nor to root"
    elif info.st_mode & 0o022:
        problem = "others can write to it"
    if problem:
        os.close(fd)
        raise _refuse(path, problem)


def _open_dir(path: Path, parent_fd: int | None = None) -> int:
    """A descriptor of a private directory of ours, made (0700) if missing; FixError when it is a
    symbolic link, not a directory, someone else's or writable by others."""
    name = path.name if parent_fd is not None else path
    try:
        os.mkdir(name, PRIVATE_DIR, dir_fd=parent_fd)
    except FileExistsError:
        pass
    try:
        fd = os.open(name, _DIRECTORY, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise _refuse(path, _kind_of(path, parent_fd)) from None
        raise
    _check_owned(fd, path, directory=True)
    info = os.fstat(fd)
    if info.st_mode & 0o077 and info.st_uid == os.geteuid():
        os.fchmod(fd, PRIVATE_DIR)  # journals keep copies of config files that may hold credentials
    return fd


def _open_state(folder: Path) -> int:
    folder.parent.mkdir(parents=True, exist_ok=True)  # the parents are the system's or the user's own
    return _open_dir(folder)


@contextmanager
def journals_dir(folder: Path | None = None) -> Iterator[int]:
    """A verified descriptor of <state dir>/journals (both made private if missing), closed afterwards."""
    folder = folder or state_dir()
    top = _open_state(folder)
    try:
        fd = _open_dir(folder / JOURNALS, top)
    finally:
        os.close(top)
    try:
        yield fd
    finally:
        os.close(fd)


def journal_names(dir_fd: int) -> list[str]:
    """The journal files in the directory, newest first (their names start with the time)."""
    return sorted((n for n in os.listdir(dir_fd) if n.endswith(".json") and not n.startswith(".")), reverse=True)


def read_private(dir_fd: int, name: str) -> str:
    """A file of the directory, never through a symbolic link."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(fd, encoding="utf-8") as fh:
        return fh.read()


def write_private(dir_fd: int, name: str, text: str, shown: Path) -> None:
    """Replace ``name`` in the directory atomically with a 0600 file. The temporary file is created
    new (O_EXCL, O_NOFOLLOW) relative to the verified directory, so nothing planted at either name is
    followed; ``shown`` names the folder in errors."""
    tmp = f".{name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE,
                     dir_fd=dir_fd)
    except FileExistsError:
        raise _refuse(shown / tmp, "it exists already (left over or planted); remove it and run again") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)  # the rename itself survives a crash


@contextmanager
def fix_lock(timeout: float = 120.0) -> Iterator[None]:
    """Serialise --fix and undo runs on this host (flock on <state dir>/lock, opened without
    following a symbolic link and never truncated)."""
    folder = state_dir()
    top = _open_state(folder)
    try:
        fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, PRIVATE_FILE,
                     dir_fd=top)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(folder / LOCK, "it is a symbolic link") from None
        raise
    finally:
        os.close(top)
    _check_owned(fd, folder / LOCK, directory=False)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FixError(f"another mab-doctor --fix holds {folder / LOCK}") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock
