"""Which binfmt_misc instance this process sees and its builds use: user namespaces (Linux >= 6.7), WSL 2."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mab_doctor.core.facts import Fact
from mab_doctor.core.record import record
from mab_doctor.emulation.binfmt import MOUNT_POINT

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

UID_MAP = "/proc/self/uid_map"
PROC_VERSION = "/proc/version"
SMALL_FILE = 64 << 10  # a uid_map holds at most 340 lines (Linux >= 4.15), /proc/version one
# The initial user namespace maps every id to itself; no other namespace starts that way.
IDENTITY_MAP = ((0, 0, 4294967295),)
# Linux 6.7 ("binfmt_misc: enable sandboxed mounts"): a user namespace may mount its own, initially empty
# binfmt_misc, keyed by the namespace. exec uses the instance of the nearest namespace, itself first, then
# its ancestors, that ever mounted one; the initial namespace's table when none did. The namespace keeps
# its instance after an unmount, and the handlers go with the last mount, so it stays empty from then on.
PER_USERNS_SINCE = (6, 7)

INITIAL = "initial"            # the initial user namespace's table (the host's)
OWN = "own"                    # this user namespace's own instance
INHERITED = "inherited"        # the initial namespace's, reached from another namespace
UNDETERMINED = "undetermined"  # another namespace on >= 6.7 with one mount that could be either
UNKNOWN = "unknown"            # the namespace or the kernel version could not be read

_FIELD = re.compile(r"\S+")
_NUMBER = re.compile(r"[0-9]{1,10}")
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")
_WSL2_RELEASE = re.compile(r"microsoft-standard", re.IGNORECASE)  # 4.19.x-microsoft-standard, 5.15.x-...-WSL2
_WSL1_RELEASE = re.compile(r"-Microsoft$")  # WSL 1 (4.4.0-19041-Microsoft): no Linux kernel, another story
INTEROP_PREFIX = "WSLInterop"  # WSL's own entries, WSLInterop and WSLInterop-late: Windows programs via /init


@record
class Mount:
    """One /proc/self/mountinfo line at a mount point."""

    mount_id: str
    parent_id: str
    device: str              # major:minor of the superblock: each binfmt_misc instance has its own
    options: str
    tags: tuple[str, ...]    # propagation: shared:N, master:N, propagate_from:N, unbindable
    fstype: str


def mounts_at(mountinfo: str, point: str = MOUNT_POINT) -> tuple[Mount, ...]:
    """The mounts at ``point``, in mountinfo order (a mount stacked on another comes after it)."""
    found = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if sep and len(fields) >= 5 and fields[4] == point and right.split():
            found.append(Mount(fields[0], fields[1], fields[2], fields[5] if len(fields) > 5 else "",
                               tuple(fields[6:]), right.split()[0]))
    return tuple(found)


@record
class UserNamespace:
    """What /proc/self/uid_map says about this process's user namespace."""

    initial: bool | None                       # None: could not tell
    ranges: tuple[tuple[int, int, int], ...]   # (inside, outside, count) per line
    problem: str | None = None                 # why not: "file:line:column: message", or the read failure


def read_uid_map(text: str | None, why: str | None = None, path: str = UID_MAP) -> UserNamespace:
    """Parse a uid_map ("inside outside count" per line); a bad line is a problem, never an exception."""
    if text is None:
        return UserNamespace(None, (), why or f"{path}: not read")
    ranges = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = list(_FIELD.finditer(line))
        if not fields:
            continue
        bad = next((f for f in fields if not _NUMBER.fullmatch(f.group()) or int(f.group()) > 4294967295), None)
        if bad is None and len(fields) != 3:
            bad = fields[3] if len(fields) > 3 else None
            column = bad.start() + 1 if bad else len(line) + 1
            return UserNamespace(None, (), f"{path}:{number}:{column}: {len(fields)} fields, not "
                                           f"'inside outside count'")
        if bad is not None:
            shown = bad.group() if len(bad.group()) <= 20 else bad.group()[:20] + "..."
            return UserNamespace(None, (), f"{path}:{number}:{bad.start() + 1}: {shown!r} is not an id or a count")
        inside, outside, count = (int(f.group()) for f in fields)
        ranges.append((inside, outside, count))
    # An empty map is a namespace whose map was never written: not the initial one either.
    return UserNamespace(tuple(ranges) == IDENTITY_MAP, tuple(ranges))


def kernel_version(release: str) -> tuple[int, int] | None:
    """(major, minor) from a kernel release such as 6.8.0-45-generic; None when it does not start so."""
    found = _VERSION.match(release.strip())
    return (int(found[1]), int(found[2])) if found else None


def wsl2_evidence(release: str, proc_version: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """Why this looks like WSL 2 (empty: it does not): its kernel release, or WSL's interop entries in
    binfmt_misc together with a /proc/version that names Microsoft (a WSL 2 VM with a custom kernel)."""
    if _WSL1_RELEASE.search(release.strip()):
        return ()
    interop = [n for n in names if n.startswith(INTEROP_PREFIX)]
    microsoft = "microsoft" in proc_version.lower()
    if not _WSL2_RELEASE.search(release) and not (interop and microsoft):
        return ()
    evidence = [f"kernel {release}"] if _WSL2_RELEASE.search(release) else []
    if interop:
        evidence.append(f"WSL's entries {', '.join(interop)}")
    if microsoft:
        evidence.append(f"{PROC_VERSION} names Microsoft")
    return tuple(evidence)


@record
class Instance:
    """Which binfmt_misc instance this process sees and uses, why, and what WSL 2 changes about it."""

    kind: str                       # INITIAL, OWN, INHERITED, UNDETERMINED or UNKNOWN
    sees: str                       # that, in one sentence with its reason
    userns: UserNamespace
    kernel_release: str
    per_userns: bool | None         # the kernel mounts binfmt_misc per user namespace (>= 6.7); None: unknown
    mounts: tuple[Mount, ...]       # binfmt_misc mounts at the mount point, the visible one last
    rootless: str                   # what a rootless Podman or Buildah build uses
    wsl2: tuple[str, ...] = ()      # why this is WSL 2 (empty: it is not)
    interop: tuple[str, ...] = ()   # WSL's own entries: never a problem, never touched by --fix

    def to_data(self) -> dict[str, Any]:
        """The JSON form kept in the binfmt-mount result's data."""
        return {"kind": self.kind, "sees": self.sees, "initial_user_namespace": self.userns.initial,
                "uid_map": [list(r) for r in self.userns.ranges], "uid_map_problem": self.userns.problem,
                "kernel_release": self.kernel_release, "per_user_namespace": self.per_userns,
                "mount_devices": [m.device for m in self.mounts], "rootless_podman": self.rootless,
                "wsl2": bool(self.wsl2), "wsl2_evidence": list(self.wsl2), "wsl_interop_entries": list(self.interop)}


def classify(userns: UserNamespace, release: str, mounts: tuple[Mount, ...], visible: bool) -> tuple[str, str]:
    """(kind, sentence): the instance a process in ``userns`` sees, with ``mounts`` (binfmt_misc only)
    at the mount point and a status file there or not (``visible``)."""
    if userns.initial:
        return INITIAL, ("the initial user namespace's: this process is in the initial user namespace "
                         "(its uid_map is the identity map), so it sees and uses the host's table")
    if userns.initial is None:
        return UNKNOWN, f"not known: {userns.problem}"
    version = kernel_version(release)
    where = f"this process is in a user namespace other than the initial one, on kernel {release}"
    if version is None:
        return UNKNOWN, f"not known: {where}, a release that does not say whether it is Linux 6.7 or newer"
    if version < PER_USERNS_SINCE:
        return INHERITED, (f"inherited from the initial namespace: {where}, older than 6.7, which has one "
                           f"binfmt_misc table for the whole system")
    if len(mounts) >= 2 and mounts[-1].device != mounts[-2].device:
        return OWN, (f"this user namespace's own instance: {where} (>= 6.7), and a second binfmt_misc "
                     f"(device {mounts[-1].device}) is mounted over the one beneath it (device {mounts[-2].device})")
    if not visible:  # a mount listed under a /proc mounted later is hidden: nothing is mounted for us
        return INHERITED, (f"inherited from the initial namespace: {where} (>= 6.7) with no binfmt_misc mounted "
                           f"here, so exec uses the nearest ancestor namespace's instance (normally the initial "
                           f"one, which cannot be listed from here) unless this namespace mounted its own before")
    if mounts and any(t.startswith("master:") for t in mounts[-1].tags):
        return INHERITED, (f"inherited from the initial namespace: {where} (>= 6.7), and the binfmt_misc mount "
                           f"here is a copy that follows an ancestor's mount (mountinfo tag master:)")
    return UNDETERMINED, (f"undetermined: {where} (>= 6.7); one binfmt_misc mount is visible, and "
                          f"/proc/self/mountinfo cannot tell this namespace's own instance from a copy of an "
                          f"ancestor's mount (the execution probe, binfmt-exec, shows what exec really uses)")


def rootless_builds(release: str) -> str:
    """Which table a rootless Podman or Buildah build uses on this kernel, in one sentence."""
    version = kernel_version(release)
    if version is None:
        return f"not known: kernel release {release} does not say whether it is Linux 6.7 or newer"
    if version < PER_USERNS_SINCE:
        return ("the host's handlers: rootless Podman and Buildah build in a user namespace of the invoking user, "
                "and before Linux 6.7 binfmt_misc is one table for the whole system")
    return ("the host's handlers, unless binfmt_misc was ever mounted in the user namespace they build in (a "
            "rootless `podman run --privileged` of a binfmt installer does that): then that namespace's own "
            "instance, empty once the installer's container is gone; `mab-doctor --build` shows which")


def _compute(ctx: "Context") -> Instance:
    text, why = ctx.try_read(UID_MAP, SMALL_FILE)
    userns = read_uid_map(text, why)
    release = ctx.uname.release
    mounts = tuple(m for m in mounts_at(ctx.read_text("/proc/self/mountinfo") or "") if m.fstype == "binfmt_misc")
    kind, sees = classify(userns, release, mounts, ctx.exists(f"{MOUNT_POINT}/status"))
    names = tuple(ctx.listdir(MOUNT_POINT))
    evidence = wsl2_evidence(release, ctx.read_text(PROC_VERSION, SMALL_FILE) or "", names)
    version = kernel_version(release)
    return Instance(kind, sees, userns, release, None if version is None else version >= PER_USERNS_SINCE,
                    mounts, rootless_builds(release), evidence,
                    tuple(n for n in names if n.startswith(INTEROP_PREFIX)))


INSTANCE: Fact[Instance] = Fact("binfmt_misc instance", _compute)


def binfmt_instance(ctx: "Context") -> Instance:
    """The binfmt_misc instance this process sees and uses (computed once per run)."""
    return ctx.fact(INSTANCE)
