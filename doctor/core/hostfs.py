"""Host file access that cannot hang, overflow or escape: regular files only, bounded, confined to --root."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from mab_doctor.core.fsvalues import DiskSpace, FileRead, Found, kind_of, not_regular, size_words  # noqa: F401

DEFAULT_LIMIT = 4 << 20      # what one read takes at most unless the caller asks for more
MAX_SYMLINK_HOPS = 40        # the kernel's own limit for one path walk (MAXSYMLINKS)
TOO_MANY_LINKS = "too many levels of symbolic links"
NUL_IN_PATH = "not found (a path cannot contain a NUL byte)"
# O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; O_NOCTTY: a terminal
# device never becomes our controlling terminal. Both are no-ops for the regular files we accept.
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_WALK_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class HostFS:
    """Reads under ``root``. A foreign root is walked component by component here, never by the
    kernel: absolute links restart at the root, '..' stops at it, and the final open uses
    O_NOFOLLOW from directory descriptors, so a link swapped in meanwhile cannot lead outside.
    The live root '/' keeps the kernel's own resolution: that is the truth of this host."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.confined = os.path.realpath(self.root) != "/"

    def lookup(self, path: str) -> Found:
        """What ``path`` names (never raises)."""
        if "\0" in path:  # built from host data (a kernel release, a listing): no file has such a name
            return Found(path, "missing", reason=f"{path!r}: {NUL_IN_PATH}")
        if not self.confined:
            return self._lookup_live(path)
        parts, st, why = self._walk(path)
        if why is not None:
            kind = "missing" if why in ("not found", "not a directory") else "error"
            if kind == "missing" and self._is_dangling(path):
                kind = "dangling symlink"
            return Found(path, kind, None, None, reason=f"{path}: {why}")
        assert st is not None
        return Found(path, kind_of(st.st_mode), self.root.joinpath(*parts), "/" + "/".join(parts), st.st_mode,
                     st.st_size, st.st_dev, st.st_mtime, st.st_ctime)

    def where(self, path: str) -> Path:
        """Where ``path`` is, or would be, on this machine: symlinks resolved as far as they lead,
        never outside the root (for messages and for parsers given a path, not for reading)."""
        path = path.replace("\0", "")  # a path never holds a NUL (lookup reports such a path missing)
        return self.root.joinpath(*self._walk(path)[0]) if self.confined else self.root / path.lstrip("/")

    def _lookup_live(self, path: str, *, named: bool = True) -> Found:
        real = self.root / path.lstrip("/")
        try:
            st = os.stat(real)
        except OSError as exc:
            kind = "missing" if isinstance(exc, (FileNotFoundError, NotADirectoryError)) else "error"
            if kind == "missing" and os.path.islink(real):
                kind = "dangling symlink"
            return Found(path, kind, reason=describe(path, exc))
        return Found(path, kind_of(st.st_mode), real, os.path.realpath(real) if named else None, st.st_mode,
                     st.st_size, st.st_dev, st.st_mtime, st.st_ctime)

    def _walk(self, path: str) -> tuple[list[str], os.stat_result | None, str | None]:
        """(components inside the root, lstat of the last, None) or (..., None, why not)."""
        todo, done, hops = _parts(path), [], 0
        st: os.stat_result | None = None
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                st = None
                continue
            here = self.root.joinpath(*done, part)
            try:
                st = os.lstat(here)
            except OSError as exc:
                return done + [part] + todo, None, _words(exc)
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return done + [part], None, TOO_MANY_LINKS
                try:
                    target = os.readlink(here)
                except OSError as exc:
                    return done + [part], None, _words(exc)
                if target.startswith("/"):
                    done = []
                todo = _parts(target) + todo
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                return done + [part] + todo, None, "not a directory"
            done.append(part)
        if st is None:  # the walk ended on '..' (or at the root itself)
            try:
                st = os.lstat(self.root.joinpath(*done))
            except OSError as exc:
                return done, None, _words(exc)
        return done, st, None

    def _is_dangling(self, path: str) -> bool:
        parent, _, name = path.rstrip("/").rpartition("/")
        if not name or name in (".", ".."):
            return False
        parts, st, why = self._walk(parent or "/")
        return why is None and os.path.islink(self.root.joinpath(*parts, name))

    def open_fd(self, found: Found, flags: int) -> int:
        """A descriptor for a looked-up path; under a foreign root every directory on the way and
        the file itself are opened without following links (raises OSError)."""
        assert found.real is not None and (found.inside is not None or not self.confined)
        if not self.confined:
            return os.open(found.real, flags)
        parts = _parts(found.inside)
        fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in parts[:-1]:
                inner = os.open(name, _WALK_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = inner
            return os.open(parts[-1] if parts else ".", flags | os.O_NOFOLLOW, dir_fd=fd)
        finally:
            os.close(fd)

    def open_regular(self, path: str) -> tuple[BinaryIO | None, str | None]:
        """(binary file object, None) for a regular file, else (None, why); the caller closes it."""
        # No resolved name on the live root: opening needs none, and realpath costs an lstat per component.
        found = self.lookup(path) if self.confined or "\0" in path else self._lookup_live(path, named=False)
        if found.kind != "file":
            return None, found.reason or not_regular(path, found.kind)
        try:
            fd = self.open_fd(found, READ_FLAGS)
        except OSError as exc:
            return None, describe(path, exc)
        try:
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            return None, describe(path, exc)
        if not stat.S_ISREG(st.st_mode):  # replaced between the look and the open
            os.close(fd)
            return None, not_regular(path, kind_of(st.st_mode))
        return os.fdopen(fd, "rb"), None

    def read(self, path: str, limit: int = DEFAULT_LIMIT, *, whole: bool = False) -> FileRead:
        """At most ``limit`` bytes of a regular file. A longer file is refused when ``whole`` (a JSON or os-release
        cut in half would mislead), else its first ``limit`` bytes are returned, ``truncated`` and saying so."""
        fh, why = self.open_regular(path)
        if fh is None:
            return FileRead(path, None, why)
        try:
            # /proc files report size 0: read to learn the length, in pieces: fh.read(limit + 1) would first
            # allocate all of it (4 MiB by default), which costs more than reading a small file does.
            with fh:
                parts, part, left = [], b"", limit + 1
                while left > 0 and (part := fh.read(min(left, 1 << 16))):
                    parts.append(part)
                    left -= len(part)
            data = b"".join(parts) if parts else part  # None: a non-blocking read found nothing yet
        except BlockingIOError:
            data = None
        except OSError as exc:
            return FileRead(path, None, describe(path, exc))
        if data is None:
            return FileRead(path, None, f"{path}: would block (a file that waits for data): not read")
        if len(data) <= limit:
            return FileRead(path, data)
        if whole:
            return FileRead(path, None, f"{path}: larger than {size_words(limit)}: not read", truncated=True)
        return FileRead(path, data[:limit], f"{path}: larger than {size_words(limit)}: only the first "
                                            f"{size_words(limit)} read", truncated=True)

    def listdir(self, path: str) -> tuple[list[str], str | None]:
        """(entry names in directory order, None) or ([], why)."""
        found = self.lookup(path)
        if found.kind != "directory":
            return [], found.reason or f"{path}: {found.kind}, not a directory"
        try:
            fd = self.open_fd(found, os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            return [], describe(path, exc)
        try:
            return os.listdir(fd), None
        except OSError as exc:
            return [], describe(path, exc)
        finally:
            os.close(fd)

    def disk_space(self, path: str) -> tuple[DiskSpace | None, str | None]:
        """Free space of the filesystem holding ``path`` (resolved inside the root), or why not."""
        found = self.lookup(path)
        if found.real is None:
            return None, found.reason
        try:
            fd = self.open_fd(found, os.O_PATH | os.O_CLOEXEC)
            try:
                vfs = os.fstatvfs(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return None, describe(path, exc)
        return DiskSpace(vfs.f_blocks * vfs.f_frsize, vfs.f_bavail * vfs.f_frsize, found.inside or path,
                         _mount_point(found.real)), None


def _parts(path: str) -> list[str]:
    return [p for p in PurePosixPath(path).parts if p not in ("/", "", ".")]


def _words(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if exc.errno == errno.ELOOP:
        return TOO_MANY_LINKS
    return (exc.strerror or str(exc)).lower()


def describe(path: str, exc: OSError) -> str:
    """'<path>: not found' / '<path>: permission denied' for an OSError."""
    return f"{path}: {_words(exc)}"


def _mount_point(real: Path) -> str:
    """The mount point on this machine of the filesystem holding ``real`` (where st_dev changes)."""
    here = os.path.realpath(real)
    try:
        device = os.stat(here).st_dev
        while here != "/" and os.stat(os.path.dirname(here)).st_dev == device:
            here = os.path.dirname(here)
    except OSError:
        pass
    return here
