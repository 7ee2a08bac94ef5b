"""Writing files: regular files replaced atomically, devices, FIFOs and descriptors written in place."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

_LINK_HOPS = 40  # as many symlinks as the kernel follows before it says ELOOP
_TEMP_TRIES = 100


def write_atomically(path: str | Path, text: str) -> None:
    """Write a hidden sibling, fsync it, keep the old file's mode, and rename it over ``path``:
    readers see the old content or the new, never half of it. A symlink at ``path`` is replaced."""
    _replace(Path(path), text.encode("utf-8"))


def write_output(path: str | Path, text: str) -> None:
    """Write a report where ``path`` leads, as a shell redirect would, without ever replacing what
    is not a regular file: a regular (or missing) file is replaced atomically, following a symlink
    at ``path`` to its target; a device, a FIFO or a descriptor (/dev/stdout, /proc/self/fd/N) is
    written in place. OSError (one-line strerror) when it cannot be written."""
    final, through_proc = _resolve(str(path))
    kind = _kind(final)
    data = text.encode("utf-8", "backslashreplace")
    if kind is None and not through_proc:
        _replace(Path(final), data)
    elif kind == "regular" and not through_proc:
        try:
            _replace(Path(final), data)
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            _write_in_place(final, data, truncate=True)  # a bind-mounted file cannot be renamed over
    else:
        _write_in_place(str(path), data, append=kind == "regular")


def append_output(path: str | Path, text: str) -> None:
    """Append to a regular file (created when missing) or write in place to a device or FIFO; a
    directory or a missing directory is an OSError."""
    _write_in_place(str(path), text.encode("utf-8", "backslashreplace"), append=True, create=True)


def _kind(path: str) -> str | None:
    # What the path leads to: None when nothing exists there yet.
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    if stat.S_ISSOCK(mode):
        raise OSError(errno.EOPNOTSUPP, "a socket, not a file")
    return "special"


def _resolve(path: str) -> tuple[str, bool]:
    """(where the last symlinks of ``path`` lead, whether the way went through /proc): paths in /proc
    such as /dev/stdout -> /proc/self/fd/1 are open descriptors, to be written in place."""
    current = os.path.abspath(path)
    for _ in range(_LINK_HOPS):
        parent = os.path.realpath(os.path.dirname(current))
        if parent == "/proc" or parent.startswith("/proc/"):
            return current, True
        candidate = os.path.join(parent, os.path.basename(current))
        if not os.path.islink(candidate):
            return candidate, False
        current = os.path.join(parent, os.readlink(candidate))
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))


def _replace(target: Path, data: bytes) -> None:
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    fd, tmp = _create_temporary(target)
    renamed = False
    try:
        try:
            _write_all(fd, data)
            if old is not None:
                if os.geteuid() == 0 and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                    os.fchown(fd, old.st_uid, old.st_gid)  # root rewriting a user's file leaves it theirs
                os.fchmod(fd, old.st_mode & 0o7777)  # config.json may hold credentials: 0600 stays
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        renamed = True
        _sync_directory(target.parent)
    finally:
        if not renamed:
            tmp.unlink(missing_ok=True)


def _create_temporary(target: Path) -> tuple[int, Path]:
    # O_EXCL | O_NOFOLLOW: a file or symlink planted at the name is never written through; then
    # another name is tried (random, as secrets.token_hex makes it, without importing secrets on every
    # run). New files get 0666 less the umask, as open() would give them.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    name = f".{target.name}.{os.getpid()}"
    for attempt in range(_TEMP_TRIES):
        tmp = target.with_name(f"{name}.tmp" if attempt == 0 else f"{name}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temporary name next to {target.name}")


def _sync_directory(folder: Path) -> None:
    # The rename is durable once the directory is on disk too; some file systems cannot sync one.
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_in_place(path: str, data: bytes, *, append: bool = False, truncate: bool = False,
                    create: bool = False) -> None:
    # O_NONBLOCK for the open only: a FIFO nobody reads fails at once with ENXIO instead of
    # waiting for ever; the write itself blocks as usual. O_NOCTTY: a terminal stays ours only.
    _kind(path)  # a directory or a socket is refused with a clear reason
    flags = (os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (os.O_APPEND if append else 0)
             | (os.O_TRUNC if truncate else 0) | (os.O_CREAT if create else 0))
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(errno.ENXIO, "nothing is reading from it (a FIFO without a reader?)") from None
        raise
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
