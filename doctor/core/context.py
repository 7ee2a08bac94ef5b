"""The only door to the host: files under a root path, bounded commands, the environment."""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Hashable, Iterable, Iterator, Mapping, TypeVar

# Re-exported: the command value types were born here and plugins import them from here.
from mab_doctor.core.commands import (CommandResult, CommandRunner, RefusingRunner,  # noqa: F401
                                      SubprocessRunner)
from mab_doctor.core.facts import Fact, FactStore
from mab_doctor.core.h2grpc import GrpcAnswer, GrpcCaller, h2c_call, refusing_grpc
from mab_doctor.core.hostfs import DEFAULT_LIMIT, DiskSpace, FileRead, Found, HostFS
from mab_doctor.core.hostlibs import DistroInfo, private_procfs, read_distro
from mab_doctor.core.record import record
from mab_doctor.core.tasks import TaskPool
from mab_doctor.core.unixhttp import HttpAnswer, Requester, refusing_request, unix_request

DEFAULT_TIMEOUT = 10.0
# psutil.PROCFS_PATH is one global of the process: every Context borrows it under this lock.
_PROCFS_LOCK = threading.RLock()
T = TypeVar("T")
R = TypeVar("R")


@record
class Uname:
    """The kernel's identity: release and machine (``uname -r`` / ``uname -m``)."""

    release: str
    machine: str
    sysname: str = "Linux"
    nodename: str = ""


@dataclass
class Context:
    """Host access for checks: paths under ``root``, commands via ``runner``, env, targets."""

    root: Path = Path("/")
    runner: CommandRunner | None = None
    requester: Requester | None = None  # API requests over unix sockets; real only on this machine's own "/"
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    targets: tuple[Any, ...] = ()  # mab_doctor.host.platforms.Target, normalised by the CLI
    target_sources: Mapping[str, str] = field(default_factory=dict)  # target -> "--platform", "compose.yaml:7"...
    project: Any = None  # mab_doctor.project.model.Intent read from the project directory; None: not read
    thorough: bool = False  # -v or checks named: slow evidence (`podman info`) is worth its time
    timeout: float = DEFAULT_TIMEOUT
    uname_override: Uname | None = None
    live: bool | None = None  # None: decided from the root; tests force True to "run" fake commands
    caller: GrpcCaller | None = None  # gRPC calls over upgraded unix sockets; real only on this machine's own "/"
    _facts: FactStore = field(default_factory=FactStore, init=False, repr=False, compare=False)
    _pool: TaskPool | None = field(default=None, init=False, repr=False, compare=False)
    _fs: HostFS = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._fs = HostFS(self.root)
        if self.live is None:
            self.live = self.root.resolve() == Path("/")
        if self.runner is None:
            self.runner = SubprocessRunner() if self.is_live else RefusingRunner()
        if self.requester is None:
            # Decided by the root, not by `live`: a test that lets fake commands "run" asks no real socket.
            self.requester = unix_request if self.root.resolve() == Path("/") else refusing_request
        if self.caller is None:
            self.caller = h2c_call if self.root.resolve() == Path("/") else refusing_grpc

    @property
    def is_live(self) -> bool:
        """True when the root is this machine's own '/' (commands allowed); decided once, at
        construction, so asking never waits on anything."""
        return bool(self.live)

    # ----- files: every read of host data goes through HostFS (see hostfs.py) -------------
    def path(self, absolute: str) -> Path:
        """The path of ``absolute`` under the root, unresolved: for tests and messages, never for
        reading (use the methods below, which resolve symlinks inside the root)."""
        return self.root / str(absolute).lstrip("/")

    def lookup(self, absolute: str) -> Found:
        """What ``absolute`` names on the inspected host: kind (file, directory, FIFO, missing,
        dangling symlink, error...), where it resolves, its mode and size. Never raises."""
        return self._fs.lookup(absolute)

    def resolve(self, absolute: str) -> Path:
        """Where ``absolute`` is (or would be) on this machine: symlinks resolved inside a foreign
        root, never outside it; the plain path on the live root. Read through the methods below."""
        return self._fs.where(absolute)

    def read_file(self, absolute: str, limit: int = DEFAULT_LIMIT, *, whole: bool = False) -> FileRead:
        """At most ``limit`` bytes of a regular file, with the reason when there are none or when
        only the first ``limit`` were taken (``whole=True`` refuses a longer file instead)."""
        return self._fs.read(absolute, limit, whole=whole)

    def try_read(self, absolute: str, limit: int | None = None, *,
                 strict: bool = False) -> tuple[str | None, str | None]:
        """(text, None) or (None, reason): missing, unreadable, non-regular and oversized files (more
        than ``limit``, 4 MiB by default) are values. ``strict``: undecodable UTF-8 is a reason too,
        instead of U+FFFD replacement characters."""
        got = self._fs.read(absolute, DEFAULT_LIMIT if limit is None else limit, whole=True)
        if got.data is None:
            return None, got.reason
        try:
            return got.data.decode("utf-8", errors="strict" if strict else "replace"), None
        except UnicodeDecodeError as exc:
            return None, f"{absolute}: not UTF-8 text (offset {exc.start}): not read"

    def read_text(self, absolute: str, limit: int | None = None) -> str | None:
        """File text, or None when missing, unreadable, not a regular file or over ``limit``."""
        return self.try_read(absolute, limit)[0]

    def try_read_bytes(self, absolute: str, limit: int = DEFAULT_LIMIT) -> tuple[bytes | None, str | None]:
        """(the first ``limit`` bytes, None) or (None, reason)."""
        got = self._fs.read(absolute, limit)
        return got.data, got.reason if got.data is None else None

    def read_bytes(self, absolute: str, limit: int = 4096) -> bytes | None:
        """The first ``limit`` bytes of a regular file (symlinks resolved under root), or None."""
        return self._fs.read(absolute, limit).data

    def open_regular(self, absolute: str) -> tuple[BinaryIO | None, str | None]:
        """(a binary file object, None) for a regular file, for parsers that seek (ELF files); else
        (None, reason). The caller closes it."""
        return self._fs.open_regular(absolute)

    def exists(self, absolute: str) -> bool:
        """Whether something is at the path (a dangling symlink counts, as with os.path.lexists)."""
        return self._fs.lookup(absolute).exists

    def try_listdir(self, absolute: str, *, raw_order: bool = False) -> tuple[list[str], str | None]:
        """(directory entries, sorted unless ``raw_order``, None) or ([], reason)."""
        names, why = self._fs.listdir(absolute)
        return (names if raw_order else sorted(names)), why

    def listdir(self, absolute: str, *, raw_order: bool = False) -> list[str]:
        """Directory entries (sorted unless ``raw_order``), empty when missing or unreadable."""
        return self.try_listdir(absolute, raw_order=raw_order)[0]

    def disk_space(self, absolute: str) -> tuple[DiskSpace | None, str | None]:
        """Free space of the filesystem holding ``absolute`` (resolved inside the root), or why not."""
        return self._fs.disk_space(absolute)

    def is_executable(self, absolute: str) -> bool:
        """A regular file this user may execute (live root) or with an execute bit (foreign root)."""
        return self._can_execute(self._fs.lookup(absolute))

    def _can_execute(self, found: Found) -> bool:
        if found.kind != "file" or found.real is None:
            return False
        return os.access(found.real, os.X_OK) if not self._fs.confined else found.executable

    def which_all(self, name: str) -> list[str]:
        """Every executable ``name`` on env PATH under the root, in PATH order, one per real file
        (on merged-/usr systems /bin/x and /usr/bin/x are the same file)."""
        found: dict[str, str] = {}
        for folder in self.env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":"):
            if not folder.startswith("/") or "/" in name:
                continue
            candidate = f"{folder.rstrip('/')}/{name}"
            where = self._fs.lookup(candidate)
            if where.inside is not None and self._can_execute(where):
                found.setdefault(where.inside, candidate)
        return list(found.values())

    def which(self, name: str) -> str | None:
        """Absolute host path of the executable found first on env PATH under the root."""
        return next(iter(self.which_all(name)), None)

    # ----- commands ----------------------------------------------------------------
    def run(self, *argv: str, timeout: float | None = None,
            env: Mapping[str, str] | None = None) -> CommandResult:
        """Run a command, always bounded by a timeout (the run's --timeout by default)."""
        assert self.runner is not None
        return self.runner(argv, timeout=self.timeout if timeout is None else timeout,
                           env=self.env if env is None else env)

    def request(self, sock: str, method: str, path: str, timeout: float | None = None) -> HttpAnswer:
        """One request to an API on a unix socket (an engine's), bounded like a command."""
        assert self.requester is not None
        return self.requester(sock, method, path, timeout=self.timeout if timeout is None else timeout)

    def grpc(self, sock: str, upgrade_path: str, method: str, message: bytes,
             timeout: float | None = None) -> GrpcAnswer:
        """One unary gRPC call over an HTTP/1.1 endpoint of a unix socket that upgrades to h2c (dockerd's
        /grpc), bounded like a command."""
        assert self.caller is not None
        return self.caller(sock, upgrade_path, method, message, timeout=self.timeout if timeout is None else timeout)

    # ----- shared facts and workers ------------------------------------------------
    def fact(self, fact: Fact[T], *key: Hashable) -> T:
        """The value of a declared fact (for ``key``), computed once per run: concurrent askers
        wait for the one computation; a failure is raised to every asker."""
        return self._facts.get(fact, self, key)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) for item in items]``, on the run's workers when a runner lends them
        (results in input order), else one after the other."""
        pool = self._pool
        return [fn(item) for item in items] if pool is None else pool.map(fn, items)

    def lend(self, pool: TaskPool) -> None:
        """Let ``map`` use ``pool`` from now on, for the rest of this context's run."""
        self._pool = pool

    @contextmanager
    def sharing(self, pool: TaskPool) -> Iterator[None]:
        """Let ``map`` use the runner's workers for the duration (the runner calls this)."""
        saved, self._pool = self._pool, pool
        try:
            yield
        finally:
            self._pool = saved

    @property
    def is_root(self) -> bool:
        """Whether we may change the live host (root on a live root; never for a foreign tree)."""
        return self.is_live and os.geteuid() == 0

    @contextmanager
    def scratch_dir(self) -> Iterator[Path]:
        """A private temporary directory on the live host where executables may run (not noexec)."""
        import shutil
        import tempfile

        if not self.is_live:
            raise RuntimeError("no scratch directory on a foreign --root")
        for base in (self.env.get("TMPDIR"), "/tmp", "/var/tmp", "/dev/shm"):
            if base and os.path.isdir(base) and not os.statvfs(base).f_flag & os.ST_NOEXEC:
                break
        else:
            base = None
        path = Path(tempfile.mkdtemp(prefix="mab-doctor-", dir=base))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @property
    def uname(self) -> Uname:
        """Kernel release and machine of the inspected host."""
        if self.uname_override is not None:
            return self.uname_override
        return self.fact(UNAME)

    def _read_uname(self) -> Uname:
        if self.is_live:
            u = os.uname()
            return Uname(u.release, u.machine, u.sysname, u.nodename)
        # A foreign root has no live kernel: use what its /proc snapshot says.
        # /proc/sys/kernel/arch exists since Linux 6.1; older captures fall back to cpuinfo hints.
        release = (self.read_text("/proc/sys/kernel/osrelease") or "").strip()
        machine = (self.read_text("/proc/sys/kernel/arch") or "").strip()
        host = (self.read_text("/proc/sys/kernel/hostname") or self.read_text("/etc/hostname") or "")
        return Uname(release or "unknown", machine or "unknown", "Linux", host.strip())

    def distro(self) -> DistroInfo:
        """The distribution, from os-release and release files read through the door (``id()``,
        ``version()``, ``name(pretty=True)``, ``like()``; ``notes`` on files that were unusable)."""
        return self.fact(DISTRO)

    @contextmanager
    def psutil_procfs(self) -> Iterator[Any]:
        """psutil for the duration: the live /proc on the live root; under a foreign root,
        PROCFS_PATH points at a private copy of the root's memory/CPU/load files (read through the
        door), so psutil never opens a path of the tree itself. Process tables are not copied."""
        import psutil

        # psutil warns (RuntimeWarning on stderr) when a captured /proc lacks a field it wants;
        # the checks report what they could not read themselves.
        with _PROCFS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            saved = psutil.PROCFS_PATH
            try:
                if not self._fs.confined:
                    psutil.PROCFS_PATH = "/proc"
                    yield psutil
                else:
                    with private_procfs(self._fs) as (procfs, _notes):
                        psutil.PROCFS_PATH = procfs
                        yield psutil
            finally:
                psutil.PROCFS_PATH = saved


UNAME: Fact[Uname] = Fact("uname", lambda ctx: ctx._read_uname())
DISTRO: Fact[DistroInfo] = Fact("distro", lambda ctx: read_distro(ctx._fs))
