"""An in-memory binfmt_misc that follows fs/binfmt_misc.c, and a FakeHost (a HostWriter) around it.

What it models, as the kernel does it: register strings (create_entry, in binfmt_parse.py), the entry
and status commands 1/0/-1 (parse_command), the entry file text (entry_status), EEXIST for a taken name,
ENOENT for a missing entry, for an F interpreter that does not exist and for any file while
binfmt_misc is not mounted. Errors are OSError with the kernel's errno.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Callable, Sequence

from fakes.binfmt_parse import KernelEntry, kernel_error, parse_command, parse_register
from mab_doctor.emulation.binfmt import MOUNT_POINT
from mab_doctor.fix.writer import RunResult

__all__ = ["FakeBinfmt", "FakeFile", "FakeHost", "HostState", "KernelEntry", "kernel_error", "parse_register"]


class FakeBinfmt:
    """The kernel side: one binfmt_misc instance that can be mounted and unmounted."""

    def __init__(self, *, mounted: bool = True, available: bool = True, entries_survive_umount: bool = False,
                 interpreter_exists: Callable[[str], bool] = lambda path: True):
        self.mounted, self.available, self.enabled = mounted, available, True
        # Some kernels free the entries with the mount (the kernel the host tests run on does);
        # others pin registered entries, which then stay active, unseen, until the next mount.
        self.entries_survive_umount = entries_survive_umount
        self.entries: dict[str, KernelEntry] = {}  # registration order, oldest first
        self.interpreter_exists = interpreter_exists

    def _need_mount(self, path: str) -> None:
        if not self.mounted:
            raise kernel_error(errno.ENOENT, path)

    def names(self) -> list[str]:
        """What a listing of the mount point shows: the two control files and the entries, newest first."""
        return ["register", "status", *reversed(self.entries)] if self.mounted else []

    def read(self, name: str) -> str:
        path = f"{MOUNT_POINT}/{name}"
        self._need_mount(path)
        if name == "status":
            return "enabled\n" if self.enabled else "disabled\n"
        if name == "register":
            raise kernel_error(errno.EINVAL, path)  # write-only: it has no read operation
        if name not in self.entries:
            raise kernel_error(errno.ENOENT, path)
        return self.entries[name].text()

    def write(self, name: str, data: str) -> None:
        path = f"{MOUNT_POINT}/{name}"
        self._need_mount(path)
        if name == "register":
            return self._register(data)
        if name != "status" and name not in self.entries:
            raise kernel_error(errno.ENOENT, path)
        command = parse_command(data, path)
        if name == "status":
            if command == "remove":
                self.entries.clear()
            elif command:
                self.enabled = command == "enable"
        elif command == "remove":
            del self.entries[name]
        elif command:
            self.entries[name].enabled = command == "enable"

    def _register(self, data: str) -> None:
        entry = parse_register(data)
        if "F" in entry.flags and not self.interpreter_exists(entry.interpreter):
            raise kernel_error(errno.ENOENT, entry.interpreter)  # open_exec() of the interpreter failed
        if entry.name in self.entries:
            raise kernel_error(errno.EEXIST, f"{MOUNT_POINT}/register")
        self.entries[entry.name] = entry

    def mount(self) -> None:
        self.mounted = True

    def umount(self) -> None:
        self.mounted = False
        if not self.entries_survive_umount:
            self.enabled, self.entries = True, {}  # the next mount starts afresh


@dataclass(frozen=True)
class FakeFile:
    """A regular file of the fake filesystem."""

    text: str
    mode: int = 0o644


@dataclass(frozen=True)
class HostState:
    """Everything a fix can change, for comparing before and after (entries by name, not by order;
    entries an unmounted kernel still keeps included)."""

    mounted: bool
    status: str
    entries: dict[str, str] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)


Program = Callable[[tuple[str, ...]], RunResult]


class FakeHost:
    """A HostWriter over FakeBinfmt, in-memory files and scripted programs (mount, umount, modprobe, ...)."""

    def __init__(self, *, mounted: bool = True, files: dict[str, str] | None = None, available: bool = True,
                 entries_survive_umount: bool = False):
        self.files = {path: FakeFile(text) for path, text in (files or {}).items()}
        self.links: dict[str, str] = {}  # symbolic links: path -> the path they point to
        self.kernel = FakeBinfmt(mounted=mounted, available=available, entries_survive_umount=entries_survive_umount,
                                 interpreter_exists=lambda path: path in self.files)
        self.ran: list[tuple[str, ...]] = []
        self.programs: dict[str, Program] = {"mount": self._mount, "umount": self._umount, "modprobe": self._modprobe}

    @staticmethod
    def _kernel_name(path: str) -> str | None:
        return path[len(MOUNT_POINT) + 1:] if path.startswith(MOUNT_POINT + "/") else None

    # --- HostWriter ---
    def read(self, path: str) -> str | None:
        name = self._kernel_name(path)
        if name is None:
            path = self.links.get(path, path)  # reading follows a link, as open() does
            return self.files[path].text if path in self.files else None
        try:
            return self.kernel.read(name)
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        name = self._kernel_name(path)
        if name is not None:
            return name in self.kernel.names()
        folder = path.rstrip("/") + "/"
        return path == MOUNT_POINT or path in self.files or path in self.links or any(p.startswith(folder)
                                                                                        for p in self.files)

    def listdir(self, path: str) -> list[str]:
        if path == MOUNT_POINT:
            return self.kernel.names()
        prefix = path.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)})

    def mode(self, path: str) -> int | None:
        return self.files[path].mode if path in self.files else None

    def is_link(self, path: str) -> bool:
        return path in self.links

    def write_control(self, path: str, text: str) -> None:
        name = self._kernel_name(path)
        if name is None:
            raise kernel_error(errno.EACCES, path)  # the engine writes kernel files only this way
        self.kernel.write(name, text)

    def replace_file(self, path: str, text: str, mode: int | None = None) -> None:
        if self._kernel_name(path) is not None:
            raise kernel_error(errno.EPERM, path)  # not a regular file
        if path in self.links:
            raise kernel_error(errno.ELOOP, path)  # the real writer never writes through a link
        kept = self.files[path].mode if path in self.files else 0o644
        self.files[path] = FakeFile(text, kept if mode is None else mode)

    def unlink(self, path: str) -> None:
        if self._kernel_name(path) is not None:
            raise kernel_error(errno.EPERM, path)
        self.files.pop(path, None)

    def run(self, argv: Sequence[str], timeout: float) -> RunResult:
        self.ran.append(tuple(argv))
        program = self.programs.get(argv[0])
        if program is None:
            return RunResult(127, f"{argv[0]}: command not found")
        return program(tuple(argv))

    # --- programs ---
    def _mount(self, argv: tuple[str, ...]) -> RunResult:
        if argv[1:] != ("-t", "binfmt_misc", "binfmt_misc", MOUNT_POINT):
            return RunResult(1, f"fake mount only mounts binfmt_misc at {MOUNT_POINT}")
        if not self.kernel.available:
            return RunResult(32, "mount: unknown filesystem type 'binfmt_misc'.")
        if self.kernel.mounted:
            return RunResult(32, f"mount: {MOUNT_POINT}: binfmt_misc already mounted on {MOUNT_POINT}.")
        self.kernel.mount()
        return RunResult(0)

    def _umount(self, argv: tuple[str, ...]) -> RunResult:
        if argv[1:] != (MOUNT_POINT,) or not self.kernel.mounted:
            return RunResult(32, f"umount: {' '.join(argv[1:])}: not mounted.")
        self.kernel.umount()
        return RunResult(0)

    def _modprobe(self, argv: tuple[str, ...]) -> RunResult:
        if argv[1:] == ("binfmt_misc",) and self.kernel.available:
            return RunResult(0)
        return RunResult(1, f"modprobe: FATAL: Module {argv[-1]} not found.")

    # --- for tests ---
    def register(self, line: str) -> None:
        """Register as `echo line > register` would (kernel errors raised)."""
        self.kernel.write("register", line + "\n")

    def snapshot(self) -> HostState:
        """The whole state: mount, status, each entry's exact text, each file with its mode."""
        kernel = self.kernel
        return HostState(kernel.mounted, "enabled" if kernel.enabled else "disabled",
                         {n: e.text() for n, e in kernel.entries.items()}, dict(self.files))
