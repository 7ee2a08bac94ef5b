"""The only door to the host: files under a root path, bounded commands, the environment."""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, TypeVar

# Re-exported: the command value types were born here and plugins import them from here.
from mab_doctor.core.commands import (CommandResult, CommandRunner, RefusingRunner,  # noqa: F401
                                      SubprocessRunner)
from mab_doctor.core.facts import Fact, FactStore
from mab_doctor.core.tasks import TaskPool

DEFAULT_TIMEOUT = 10.0
_MAX_SYMLINKS = 40  # the kernel's own limit for one path walk (MAXSYMLINKS)
# psutil.PROCFS_PATH is one global of the process: every Context borrows it under this lock.
_PROCFS_LOCK = threading.RLock()
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
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
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    targets: tuple[Any, ...] = ()  # mab_doctor.host.platforms.Target, normalised by the CLI
    timeout: float = DEFAULT_TIMEOUT
    uname_override: Uname | None = None
    live: bool | None = None  # None: decided from the root; tests force True to "run" fake commands
    _facts: FactStore = field(default_factory=FactStore, init=False, repr=False, compare=False)
    _pool: TaskPool | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if self.live is None:
            self.live = self.root.resolve() == Path("/")
        if self.runner is None:
            self.runner = SubprocessRunner() if self.is_live else RefusingRunner()

    @property
    def is_live(self) -> bool:
        """True when the root is this machine's own '/' (commands allowed); decided once, at
        construction, so asking never waits on anything."""
        return bool(self.live)

    # ----- files -----------------------------------------------------------------
    def path(self, absolute: str) -> Path:
        """The path of ``absolute`` under the root (no symlink resolution)."""
        return self.root / str(absolute).lstrip("/")

    def resolve(self, absolute: str) -> Path:
        """Resolve symlinks as the host would see them, never escaping the root."""
        parts = [p for p in PurePosixPath(absolute).parts if p != "/"]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = self.root.joinpath(*done, part)
            if candidate.is_symlink() and hops < _MAX_SYMLINKS:
                hops += 1
                target = PurePosixPath(os.readlink(candidate))
                if target.is_absolute():
                    done = []
                parts = [p for p in target.parts if p != "/"] + parts
                continue
            done.append(part)
        return self.root.joinpath(*done)

    def real_path(self, absolute: str) -> Path:
        """Where to open ``absolute``: the live path, or its resolution inside a foreign root."""
        return self.path(absolute) if self.is_live else self.resolve(absolute)

    def try_read(self, absolute: str, limit: int | None = None) -> tuple[str | None, str | None]:
        """(text, None) or (None, reason): missing and unreadable files are values."""
        try:
            with open(self.real_path(absolute), "rb") as fh:
                raw = fh.read() if limit is None else fh.read(limit)
        except FileNotFoundError:
            return None, f"{absolute}: not found"
        except OSError as exc:
            return None, f"{absolute}: {exc.strerror or exc}"
        return raw.decode("utf-8", errors="replace"), None

    def read_text(self, absolute: str) -> str | None:
        """File text, or None when missing or unreadable."""
        return self.try_read(absolute)[0]

    def read_bytes(self, absolute: str, limit: int = 4096) -> bytes | None:
        """The first ``limit`` bytes of a file (symlinks resolved under root), or None."""
        try:
            with open(self.real_path(absolute), "rb") as fh:
                return fh.read(limit)
        except OSError:
            return None

    def exists(self, absolute: str) -> bool:
        """Whether the path exists under the root."""
        return os.path.lexists(self.path(absolute))

    def listdir(self, absolute: str, *, raw_order: bool = False) -> list[str]:
        """Directory entries (sorted unless ``raw_order``), empty when missing or unreadable."""
        try:
            names = os.listdir(self.real_path(absolute))
        except OSError:
            return []
        return names if raw_order else sorted(names)

    def which_all(self, name: str) -> list[str]:
        """Every executable ``name`` on env PATH under the root, in PATH order, one per real file
        (on merged-/usr systems /bin/x and /usr/bin/x are the same file)."""
        found: dict[str, str] = {}
        for folder in self.env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":"):
            if not folder.startswith("/"):
                continue
            candidate = f"{folder.rstrip('/')}/{name}"
            try:
                real = self.real_path(candidate)
                if real.is_file() and os.access(real, os.X_OK):
                    found.setdefault(str(real.resolve()) if self.is_live else str(real), candidate)
            except OSError:
                continue  # a PATH directory this user may not read (e.g. /root/.cargo/bin)
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

    def distro(self) -> Any:
        """A ``distro.LinuxDistribution`` reading os-release under the root only."""
        return self.fact(DISTRO)

    @contextmanager
    def psutil_procfs(self) -> Iterator[Any]:
        """psutil with PROCFS_PATH pointed at the root's /proc for the duration."""
        import psutil

        # psutil warns (RuntimeWarning on stderr) when a captured /proc lacks a field it wants;
        # the checks report what they could not read themselves.
        with _PROCFS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            saved = psutil.PROCFS_PATH
            psutil.PROCFS_PATH = str(self.path("/proc"))
            try:
                yield psutil
            finally:
                psutil.PROCFS_PATH = saved


def _distro(ctx: Context) -> Any:
    import distro  # imported lazily: `mab-doctor list` must stay fast

    return distro.LinuxDistribution(root_dir=str(ctx.root), include_lsb=False, include_uname=False,
                                    include_oslevel=False)


UNAME: Fact[Uname] = Fact("uname", lambda ctx: ctx._read_uname())
DISTRO: Fact[Any] = Fact("distro", _distro)
