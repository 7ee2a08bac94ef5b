"""QEMU user-mode facts: interpreters on disk, the distro's handler definitions, versions, packages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mab_doctor.core.facts import Fact
from mab_doctor.core.record import record
from mab_doctor.emulation.binfmt import Entry, EntryError, handles, parse_register_line
from mab_doctor.emulation.qemunames import cpu_from_name, parse_banner
from mab_doctor.emulation.upstream import upstream_line
from mab_doctor.host.elf import ElfError, machine_name, parse_header

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.host.platforms import Platform

# systemd-binfmt's search path, highest precedence first; a file name in an earlier directory
# masks the same name in later ones (binfmt.d(5)).
BINFMT_D = ("/etc/binfmt.d", "/run/binfmt.d", "/usr/local/lib/binfmt.d", "/usr/lib/binfmt.d", "/lib/binfmt.d")
BINFMT_SUPPORT_FORMATS = "/usr/share/binfmts"   # binfmt-support format files, shipped by packages
BINFMT_SUPPORT_ADMIN = "/var/lib/binfmts"       # binfmt-support's database of imported formats
INTERPRETER_HEAD = 64 * 1024  # holds the ELF and program headers and PT_INTERP of any real binary
ET_EXEC, ET_DYN = 2, 3        # e_type: fixed-address executable; shared object or PIE


@record
class Interpreter:
    """What an interpreter path really is, under the root."""

    path: str
    real: str | None           # symlinks resolved (host path), None when missing
    machine: str | None = None   # EM_* name, e.g. "EM_X86_64"
    elf_class: int | None = None
    endian: str | None = None
    dynamic_loader: str | None = None
    error: str | None = None
    e_type: int | None = None    # ET_EXEC (fixed addresses) or ET_DYN (PIE)
    segments: int = 0            # program headers: 0 for a bare header, which no kernel loads

    @property
    def exists(self) -> bool:
        """Whether the file exists."""
        return self.real is not None

    @property
    def static(self) -> bool:
        """An ELF with no PT_INTERP (what F needs to work inside containers)."""
        return self.exists and self.error is None and self.dynamic_loader is None

    @property
    def static_pie(self) -> bool | None:
        """For a static interpreter with program headers: True for a static PIE (ET_DYN), False for a
        fixed-address build (ET_EXEC); None when that is unknown (a bare header has no layout at all)."""
        if not self.static or not self.segments or self.e_type not in (ET_EXEC, ET_DYN):
            return None
        return self.e_type == ET_DYN


def inspect_interpreter(ctx: "Context", path: str) -> Interpreter:
    """Read an interpreter's ELF identity and PT_INTERP with the bounded reader (never raises; once
    per run: every emulation check and fix asks about the same few interpreters)."""
    return ctx.fact(INTERPRETER, path)


def _inspect_interpreter(ctx: "Context", path: str) -> Interpreter:
    real = ctx.resolve(path)
    if not real.exists():
        return Interpreter(path, None)
    # Report the fully resolved path (Debian's *-binfmt-P is a symlink to qemu-*-static).
    real = real.resolve() if ctx.is_live else real
    host_path = str(real) if ctx.is_live else "/" + str(real.relative_to(ctx.root)).lstrip("/")
    data = ctx.read_bytes(path, INTERPRETER_HEAD)
    if data is None:
        return Interpreter(path, host_path, error="not a readable ELF file: it cannot be opened")
    try:
        # Fewer bytes than asked for are the whole file: whatever lies past them is a truncation.
        header = parse_header(data, len(data) if len(data) < INTERPRETER_HEAD else None)
        if not header.interpreter_known:  # static or dynamic is then unknown: say so, do not guess
            raise ElfError(f"its program headers lie past the first {INTERPRETER_HEAD} bytes")
    except ElfError as exc:
        return Interpreter(path, host_path, error=f"not a readable ELF file: {exc}")
    return Interpreter(path, host_path, machine_name(header.machine), header.elf_class, header.endian,
                       header.interpreter, e_type=header.e_type, segments=header.phnum)


INTERPRETER: Fact[Interpreter] = Fact("interpreter", _inspect_interpreter)


def find_static_interpreter(ctx: "Context", platform: "Platform") -> Interpreter | None:
    """A static qemu-user binary for ``platform`` installed on the host, if any."""
    cpu = platform.qemu
    for path in (f"/usr/bin/qemu-{cpu}-static", f"/usr/local/bin/qemu-{cpu}-static", f"/usr/bin/qemu-{cpu}",
                 f"/usr/local/bin/qemu-{cpu}"):
        interp = inspect_interpreter(ctx, path)
        if interp.static:
            return interp
    return None


@record
class Stored:
    """A handler definition kept on disk for boot time, and who replays it."""

    origin: str        # file it came from
    entry: Entry
    replayer: str      # "systemd-binfmt" or "binfmt-support"
    line: str = ""     # the exact register line (binfmt.d), else rebuilt from the entry

    @property
    def register_line(self) -> str:
        """What writing this definition to `register` looks like."""
        return self.line or self.entry.register_string()


def stored_definitions(ctx: "Context") -> list[Stored]:
    """Every boot-time definition: binfmt.d lines (earlier directories mask the same file name),
    then binfmt-support's imported formats (/var/lib/binfmts) and package formats."""
    seen_files: set[str] = set()
    found: list[Stored] = []
    for folder in BINFMT_D:
        for fname in ctx.listdir(folder):
            if not fname.endswith(".conf") or fname in seen_files:
                continue
            seen_files.add(fname)
            for line in (ctx.read_text(f"{folder}/{fname}") or "").splitlines():
                if not line.strip() or line[0] in "#;":
                    continue
                try:
                    found.append(Stored(f"{folder}/{fname}", parse_register_line(line.strip()), "systemd-binfmt",
                                        line.strip()))
                except EntryError:
                    continue
    for folder in (BINFMT_SUPPORT_ADMIN, BINFMT_SUPPORT_FORMATS):
        for name in ctx.listdir(folder):
            entry = binfmt_support_definition(ctx, name, folder)
            if entry is not None:
                found.append(Stored(f"{folder}/{name}", entry, "binfmt-support"))
    return found


def stored_for(ctx: "Context", platform: "Platform") -> list[Stored]:
    """The stored definitions whose mask matches ``platform`` (matched once per platform and run)."""
    return list(ctx.fact(STORED_MATCHES, platform))


def _stored_matching(ctx: "Context", platform: "Platform") -> tuple[Stored, ...]:
    return tuple(s for s in ctx.fact(STORED_DEFINITIONS) if all(handles(s.entry, platform)))


STORED_DEFINITIONS: Fact[list[Stored]] = Fact("stored binfmt definitions", stored_definitions)
STORED_MATCHES: Fact[tuple[Stored, ...]] = Fact("stored binfmt definitions matching", _stored_matching)


def binfmt_support_definition(ctx: "Context", name: str, folder: str = BINFMT_SUPPORT_FORMATS) -> Entry | None:
    """A binfmt-support format file (`key value` lines) as an Entry with its flags, or None."""
    text = ctx.read_text(f"{folder}/{name}")
    if not text:
        return None
    if folder == BINFMT_SUPPORT_ADMIN:
        return _admin_entry(name, text)
    keys = dict((line.split(None, 1) + [""])[:2] for line in text.splitlines() if line.strip())
    if keys.get("type", "magic").strip() != "magic" and "magic" not in keys:
        return None
    flags = "".join(letter for key, letter in (("preserve", "P"), ("credentials", "C"), ("fix_binary", "F"))
                    if keys.get(key, "no").strip() == "yes")
    line = f":{name}:M:{keys.get('offset', '0').strip()}:{keys.get('magic', '').strip()}:" \
           f"{keys.get('mask', '').strip()}:{keys.get('interpreter', '').strip()}:{flags}"
    try:
        return parse_register_line(line)
    except EntryError:
        return None


def _admin_entry(name: str, text: str) -> Entry | None:
    # /var/lib/binfmts/<name>: package, type, offset, magic, mask, interpreter, detector, then
    # credentials, preserve, fix_binary: each newer option was appended (preserve-argv0 came before
    # fix-binary, 2.1.7, per binfmt-support's ChangeLog); older files lack the later fields.
    fields = text.split("\n")
    if len(fields) < 6 or fields[1] != "magic":
        return None
    extra = fields[7:10] + ["", "", ""]
    flags = ("C" if extra[0] == "yes" else "") + ("P" if extra[1] == "yes" else "") + \
            ("F" if extra[2] == "yes" else "")
    try:
        return parse_register_line(f":{name}:M:{fields[2]}:{fields[3]}:{fields[4]}:{fields[5]}:{flags}")
    except EntryError:
        return None


def best_definition(ctx: "Context", platform: "Platform") -> tuple[str, str] | None:
    """(register line with F, where it came from) for ``platform``: a stored distro definition
    that has F and a static interpreter, else upstream QEMU's magic/mask with a static qemu binary
    found on the host; None when no static interpreter exists yet."""
    for stored in stored_for(ctx, platform):
        entry = stored.entry
        interp = inspect_interpreter(ctx, entry.interpreter)
        # A definition whose emulator names another target would register the same mistake again.
        names = {cpu_from_name(entry.interpreter), cpu_from_name(interp.real or "")} - {None}
        if "F" in entry.flags and interp.static and names <= {platform.qemu}:
            return stored.register_line, stored.origin
    interp = find_static_interpreter(ctx, platform)
    if interp is None:
        return None
    return upstream_line(platform.qemu, interp.path), f"upstream QEMU magic/mask with {interp.path}"


def qemu_banner(ctx: "Context", interp: Interpreter) -> tuple[str | None, str | None]:
    """(target, version) from `<qemu> --version` of the resolved binary (memoised per run), e.g.
    ('aarch64', '7.2.22'): the target is compiled in, so a renamed copy still names it. (None, None)
    for a captured tree or an interpreter that is not a static ELF for this host."""
    if not interp.static or not ctx.is_live:
        return None, None
    return ctx.fact(QEMU_VERSION, interp.real or interp.path)


def qemu_version(ctx: "Context", interp: Interpreter) -> str | None:
    """The QEMU version `<qemu> --version` prints, e.g. '7.2.19'; None when unknown."""
    return qemu_banner(ctx, interp)[1]


def _ask_version(ctx: "Context", binary: str) -> tuple[str | None, str | None]:
    res = ctx.run(binary, "--version", timeout=min(ctx.timeout, 10))
    return parse_banner(res.stdout) if res.ok else (None, None)


QEMU_VERSION: Fact[tuple[str | None, str | None]] = Fact("qemu version", _ask_version)


def install_command(ctx: "Context", platform: "Platform") -> tuple[str, ...] | None:
    """The distro's command that installs a static qemu-user for ``platform`` (via `distro`)."""
    dist = ctx.distro()
    family = {dist.id(), *dist.like().split()}
    if family & {"debian", "ubuntu", "raspbian"}:
        return ("apt-get", "install", "-y", "qemu-user-static")
    if family & {"fedora", "rhel", "centos", "rocky", "almalinux"}:
        return ("dnf", "install", "-y", "qemu-user-static")
    if family & {"opensuse", "suse", "opensuse-leap", "opensuse-tumbleweed", "sles"}:
        return ("zypper", "--non-interactive", "install", "qemu-linux-user")
    if family & {"arch", "archlinux", "manjaro"}:
        return ("pacman", "-S", "--noconfirm", "qemu-user-static", "qemu-user-static-binfmt")
    if family & {"alpine"}:
        return ("apk", "add", f"qemu-{platform.qemu}")
    return None
