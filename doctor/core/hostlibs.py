"""Third-party readers (distro, psutil) fed only with host files that came through the door.

Both libraries open files themselves, following any symlink and waiting on any FIFO. They are
therefore never pointed at the inspected host: they get a private directory laid out like a root
(or like /proc) holding copies of the few files they read, each read through ``HostFS``."""

from __future__ import annotations

import re
import shlex
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mab_doctor.core.hostfs import HostFS
from mab_doctor.core.record import record

RELEASE_FILE_LIMIT = 64 << 10
# distro's own pattern for distribution release files in /etc (redhat-release, debian_version, ...)
_RELEASE_NAME = re.compile(r"(\w+)[-_](release|version)$")
_MAX_RELEASE_FILES = 32
# What psutil reads for memory, CPU and load figures; process tables are never copied.
PROC_FILES = ("meminfo", "cpuinfo", "stat", "uptime", "loadavg", "vmstat", "swaps")
# distro 1.9's NORMALIZED_OS_ID: the os-release IDs distro.id() renames (a test holds it to the library's).
OS_ID_RENAMES = {"ol": "oracle", "opensuse-leap": "opensuse"}


@record
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


def _usable(fs: HostFS, path: str, *, encoding: str = "utf-8",
            limit: int = RELEASE_FILE_LIMIT) -> tuple[bytes | None, str | None]:
    """(a host file's bytes, None) when they are usable text; else (None, the reason; None: absent)."""
    got = fs.read(path, limit, whole=True)
    if got.data is None:
        return None, None if got.reason and got.reason.endswith(": not found") else f"{got.reason}"
    try:
        got.data.decode(encoding)
    except UnicodeDecodeError as exc:
        return None, (f"{path}: not {encoding.upper()} text (byte 0x{got.data[exc.start]:02x} at offset "
                      f"{exc.start}): not read")
    if b"\0" in got.data:
        return None, f"{path}: binary data (a NUL byte): not read"
    return got.data, None


def _copy(fs: HostFS, path: str, private: Path, *, limit: int = RELEASE_FILE_LIMIT) -> str | None:
    """Copy one host file into ``private`` when it is usable text; else the reason (None: absent)."""
    data, why = _usable(fs, path, limit=limit)
    if data is not None:
        _place(private, path, data)
    return why


def _place(private: Path, path: str, data: bytes) -> None:
    target = private / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def read_distro(fs: HostFS, *, library: bool = False) -> DistroInfo:
    """The distribution of the inspected host (never raises: unusable files become notes); ``library``:
    always ask `distro` itself (tests hold the quick reading of os-release to it)."""
    notes: list[str] = []
    usable: dict[str, bytes] = {}
    for path in _release_paths(fs):
        # distro reads debian_version as ASCII and everything else as UTF-8
        data, why = _usable(fs, path, encoding="ascii" if path.endswith("/debian_version") else "utf-8")
        if why:
            notes.append(why)
        elif data is not None:
            usable[path] = data
    return (None if library else _from_os_release(usable, notes)) or _from_distro(usable, notes)


def _from_os_release(usable: dict[str, bytes], notes: list[str]) -> DistroInfo | None:
    """`distro`'s answers without `distro`, when os-release alone gives them: its ID, VERSION_ID, NAME
    and PRETTY_NAME, when all set, and a codename there outrank every other source `distro` reads
    (lsb_release and uname are off). None otherwise: then `distro` itself reads the copies."""
    etc, lib = "/etc/os-release", "/usr/lib/os-release"
    data = usable.get(etc if etc in usable or lib not in usable else lib)  # distro's choice of the two
    if data is None:
        return None
    # distro's own parse: a text-mode open (universal newlines), POSIX shell words, NAME=value words only
    lexer = shlex.shlex(data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), posix=True)
    lexer.whitespace_split = True
    try:
        props = {key.lower(): value for key, value in (w.split("=", 1) for w in lexer if "=" in w)}
    except ValueError:  # an unbalanced quote: distro raises it too, and its path words the note
        return None
    if "version_codename" in props or "ubuntu_codename" in props:
        codename = props.get("version_codename", props.get("ubuntu_codename"))
    else:  # VERSION="12 (bookworm)" or "7, Wheezy": else the codename would come from a release file
        named = re.search(r"\((\D+)\)|,\s*(\D+)", props.get("version", ""))
        if named is None:
            return None
        codename = named.group(1) or named.group(2)
    distro_id, version, name, pretty = (props.get(k, "") for k in ("id", "version_id", "name", "pretty_name"))
    if not (distro_id and version and name and pretty):
        return None
    distro_id = distro_id.lower().replace(" ", "_")
    return DistroInfo(OS_ID_RENAMES.get(distro_id, distro_id), version, name, pretty, props.get("id_like", ""),
                      codename, tuple(notes))


def _from_distro(usable: dict[str, bytes], notes: list[str]) -> DistroInfo:
    """The `distro` library's reading of private copies of the usable release files."""
    import tempfile  # here, not at the top: only this fallback and private_procfs need a folder

    import distro  # imported lazily: most hosts are answered by their os-release alone

    with tempfile.TemporaryDirectory(prefix="mab-doctor-distro-") as tmp:
        private = Path(tmp)
        for path, data in usable.items():
            _place(private, path, data)
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
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mab-doctor-proc-") as tmp:
        (Path(tmp) / "proc").mkdir()
        notes = [why for name in PROC_FILES if (why := _copy(fs, f"/proc/{name}", Path(tmp), limit=16 << 20))]
        yield str(Path(tmp) / "proc"), notes
