"""Third-party readers (distro, psutil) fed only with host files that came through the door.

Both libraries open files themselves, following any symlink and waiting on any FIFO. They are
therefore never pointed at the inspected host: they get a private directory laid out like a root
(or like /proc) holding copies of the few files they read, each read through ``HostFS``."""

from __future__ import annotations

import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mab_doctor.core.hostfs import HostFS

RELEASE_FILE_LIMIT = 64 << 10
# distro's own pattern for distribution release files in /etc (redhat-release, debian_version, ...)
_RELEASE_NAME = re.compile(r"(\w+)[-_](release|version)$")
_MAX_RELEASE_FILES = 32
# What psutil reads for memory, CPU and load figures; process tables are never copied.
PROC_FILES = ("meminfo", "cpuinfo", "stat", "uptime", "loadavg", "vmstat", "swaps")


@dataclass(frozen=True)
class DistroInfo:
    """The distribution as `distro` reads it, with the same accessors (``id()``, ``version()``,
    ``name(pretty=True)``, ``like()``, ``codename()``) and notes on files that could not be used."""

    distro_id: str = ""
    version_text: str = ""
    plain_name: str = ""
    pretty_name: str = ""
    like_text: str = ""
    codename_text: str = ""
    notes: tuple[str, ...] = ()

    def id(self) -> str:
        """Machine-readable distro id ('debian', 'ubuntu'), '' when unknown."""
        return self.distro_id

    def version(self, pretty: bool = False, best: bool = False) -> str:
        """Version ('12', '22.04'), '' when unknown (arguments kept for `distro` compatibility)."""
        return self.version_text

    def name(self, pretty: bool = False) -> str:
        """Distro name; the pretty one ('Debian GNU/Linux 12 (bookworm)') when asked."""
        return self.pretty_name if pretty else self.plain_name

    def like(self) -> str:
        """Space-separated ids of related distros (ID_LIKE)."""
        return self.like_text

    def codename(self) -> str:
        """Release codename ('bookworm'), '' when unknown."""
        return self.codename_text


def _release_paths(fs: HostFS) -> list[str]:
    names, _ = fs.listdir("/etc")
    found = sorted(n for n in names if _RELEASE_NAME.match(n))[:_MAX_RELEASE_FILES]
    return list(dict.fromkeys(["/etc/os-release", "/usr/lib/os-release",
                               *(f"/etc/{n}" for n in found)]))


def _copy(fs: HostFS, path: str, private: Path, *, encoding: str = "utf-8",
          limit: int = RELEASE_FILE_LIMIT) -> str | None:
    """Copy one host file into ``private`` when it is usable text; else the reason (None: absent)."""
    got = fs.read(path, limit, whole=True)
    if got.data is None:
        return None if got.reason and got.reason.endswith(": not found") else f"{got.reason}"
    try:
        got.data.decode(encoding)
    except UnicodeDecodeError as exc:
        return f"{path}: not {encoding.upper()} text (byte 0x{got.data[exc.start]:02x} at offset {exc.start}): not read"
    if b"\0" in got.data:
        return f"{path}: binary data (a NUL byte): not read"
    target = private / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(got.data)
    return None


def read_distro(fs: HostFS) -> DistroInfo:
    """The distribution of the inspected host (never raises: unusable files become notes)."""
    import distro  # imported lazily: `mab-doctor list` must stay fast

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mab-doctor-distro-") as tmp:
        private = Path(tmp)
        for path in _release_paths(fs):
            # distro reads debian_version as ASCII and everything else as UTF-8
            why = _copy(fs, path, private, encoding="ascii" if path.endswith("/debian_version") else "utf-8")
            if why:
                notes.append(why)
        (private / "etc").mkdir(exist_ok=True)
        try:
            dist = distro.LinuxDistribution(root_dir=str(private), include_lsb=False, include_uname=False,
                                            include_oslevel=False)
            # distro reads lazily: ask for everything while the private copies still exist
            return DistroInfo(dist.id(), dist.version(), dist.name(), dist.name(pretty=True), dist.like(),
                              dist.codename(), tuple(notes))
        except (ValueError, OSError, UnicodeError) as exc:  # e.g. an unbalanced quote in os-release
            notes.append(f"os-release could not be parsed ({exc}): distribution unknown")
            return DistroInfo(notes=tuple(notes))


@contextmanager
def private_procfs(fs: HostFS) -> Iterator[tuple[str, list[str]]]:
    """(a private directory holding copies of the root's /proc files psutil reads, notes)."""
    with tempfile.TemporaryDirectory(prefix="mab-doctor-proc-") as tmp:
        (Path(tmp) / "proc").mkdir()
        notes = [why for name in PROC_FILES if (why := _copy(fs, f"/proc/{name}", Path(tmp), limit=16 << 20))]
        yield str(Path(tmp) / "proc"), notes
