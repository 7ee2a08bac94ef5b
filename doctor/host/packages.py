"""Which dpkg package installed a binary, and the version and architecture its database records."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Iterable

from mab_doctor.core.facts import Fact
from mab_doctor.core.record import record
from mab_doctor.host import platforms

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

DPKG = "/var/lib/dpkg"
DPKG_STATUS_LIMIT = 64 << 20  # a desktop with thousands of packages has a status file of several MiB
LIST_LIMIT = 16 << 20        # the biggest packages (fonts, kernels' modules) list tens of thousands of paths
DIVERSIONS_LIMIT = 4 << 20
# dpkg unpacks every file of a package, then writes its .list (a few ms later, measured): a binary whose
# inode changed after that was replaced or altered since (cp, chmod, a local build). The slack only
# absorbs clocks that stamp the two files differently (network filesystems); it is far below the
# time anyone takes to copy a file over a freshly installed one.
CTIME_SLACK = 1.0
INSTALLED = ("install ok installed", "hold ok installed")  # wanted kept, no error flag, fully installed
_REPACK = re.compile(r"[+~.](?:ds|dfsg|repack)\d*.*$")      # "+ds1", "+dfsg", "~repack2": the tarball, not the code
_PRERELEASE = re.compile(r"~(?=rc|alpha|beta|dev|pre)")  # Debian's "4.0.0~rc4" is upstream's "4.0.0-rc4"


@record
class Packaged:
    """A binary exactly as a Debian package installed it, and what dpkg's database says of that package."""

    package: str            # "podman" (arch-qualified names are not used here)
    version: str            # the Debian version: "4.3.1+ds1-8+deb12u1"
    upstream: str           # the upstream release: "4.3.1" (QEMU 7.2+dfsg-7+deb12u18 prints 7.2.22: patched)
    architecture: str       # the Debian architecture: "amd64", "armhf", "all"
    platform: str | None    # the OCI platform of that architecture: "linux/arm/v7" (None: "all", unknown)
    path: str               # the file the package installed, as the host names it: "/usr/bin/podman"

    @property
    def goarch(self) -> str | None:
        """The Go architecture of the platform ("arm" for linux/arm/v7), as Go programs print it."""
        row = platforms.BY_OCI.get(self.platform or "")
        return row.goarch if row else None

    def says(self, program: str) -> str:
        """One line of evidence: 'podman 4.3.1 from the Debian package podman 4.3.1+ds1-8 (...)'."""
        return (f"{program} {self.upstream} from the Debian package {self.package} {self.version} ({self.path} as "
                f"the package installed it; {self.architecture}: {self.platform or 'no OCI platform'})")


def upstream_version(debian: str) -> str:
    """The upstream part of a Debian version: '1:7.2+dfsg-7+deb12u18' -> '7.2', '4.0.0~rc4+ds1-1' -> '4.0.0-rc4'."""
    text = debian.strip()
    if re.match(r"\d+:", text):
        text = text.partition(":")[2]
    if "-" in text:  # the last hyphen starts the Debian revision; native packages have none
        text = text.rpartition("-")[0]
    text = _PRERELEASE.sub("-", _REPACK.sub("", text))
    return re.split(r"[+~]", text)[0]  # "+git20230101", "~bpo12": the packager's, not the program's


def oci_platform(debian_arch: str) -> str | None:
    """The OCI platform of a Debian architecture (armhf: linux/arm/v7), or None."""
    row = platforms.from_debian_arch(debian_arch)
    return row.oci if row else None


def _read_status(ctx: Context) -> tuple[bytes | None, str | None]:
    """(dpkg's status file, why it could not be read: None when there is none)."""
    got = ctx.read_file(f"{DPKG}/status", DPKG_STATUS_LIMIT, whole=True)
    missing = got.reason is None or got.reason.endswith(": not found")
    return got.data, None if got.data is not None or missing else got.reason


def _read_diversions(ctx: Context) -> bytes:
    return ctx.read_file(f"{DPKG}/diversions", DIVERSIONS_LIMIT, whole=True).data or b""


# Read once per run: the status file is several MB on a desktop, and the native architecture, podman and
# buildah all ask it.
DPKG_STATUS: Fact[tuple[bytes | None, str | None]] = Fact("dpkg status", _read_status)
DPKG_DIVERSIONS: Fact[bytes] = Fact("dpkg diversions", _read_diversions)


def paragraphs(status: bytes, package: str) -> list[dict[str, str]]:
    """Fields of every paragraph of ``package`` in a dpkg status file (one per architecture), found by
    searching the bytes: the thousands of other paragraphs are never split or decoded."""
    found, key, at = [], f"\nPackage: {package}\n".encode(), 0
    text = b"\n" + status
    while (hit := text.find(key, at)) >= 0:
        end = text.find(b"\n\n", hit + 1)
        end = len(text) if end < 0 else end
        at = end
        start = text.rfind(b"\n\n", 0, hit + 1) + 1
        fields: dict[str, str] = {}
        for line in text[start:end].decode("utf-8", "replace").split("\n"):
            name, sep, value = line.partition(":")
            if sep and name and not name[0].isspace():
                fields.setdefault(name.strip(), value.strip())
        found.append(fields)
    return found


def installed_fields(status: bytes, package: str) -> dict[str, str]:
    """The fields of ``package``'s paragraph whose Status says it is installed (the first; {} when none)."""
    return next((f for f in paragraphs(status, package) if f.get("Status") in INSTALLED), {})


def _diverted(diversions: bytes, paths: Iterable[str]) -> str | None:
    """Who diverted one of ``paths`` (dpkg-divert: 'local' or a package), or None. The file holds three lines per
    diversion: the original path, where the package's file went instead, and who diverted it."""
    lines, wanted = diversions.decode("utf-8", "replace").split("\n"), set(paths)
    return next((lines[i + 2] if i + 2 < len(lines) else "?" for i in range(0, len(lines) - 1, 3)
                 if lines[i] in wanted), None)


def _listed(ctx: Context, listing: bytes, resolved: str) -> str | None:
    """The path in a package's file list that is the file at ``resolved`` (symlinks resolved), or None. On merged-/usr
    systems a list's /bin/x is /usr/bin/x: a listed path counts when only its folder resolves elsewhere. A listed
    symlink to the file does not: a link replaced after the install would point anywhere."""
    text = b"\n" + listing + b"\n"
    if f"\n{resolved}\n".encode() in text:
        return resolved
    folder, _, base = resolved.rpartition("/")
    for m in re.finditer(rb"\n(/[^\n]*)/" + re.escape(base.encode()) + rb"(?=\n)", text):
        listed = m.group(1).decode("utf-8", "replace")
        if listed != folder and ctx.lookup(listed).inside == folder:
            return f"{listed}/{base}"
    return None


_Answer = tuple["Packaged | None", str, bool]  # (answer, why there is none, whether the package lists the file)


def _one(ctx: Context, name: str, fields: dict[str, str], asked: str, diversions: bytes) -> _Answer:
    """(answer, why there is none, whether the package lists the file) from one status paragraph of ``name``."""
    arch, version, status = fields.get("Architecture", ""), fields.get("Version", ""), fields.get("Status", "")
    if status not in INSTALLED or not version or not re.fullmatch(r"[a-z0-9-]+", arch):
        return None, f"the Debian package {name} is not installed as a whole ({status or 'no status'})", False
    lists = [f"{name}:{arch}.list", f"{name}.list"]
    if fields.get("Multi-Arch") != "same":  # dpkg adds the architecture to the name only for M-A: same packages
        lists.reverse()
    binary = ctx.lookup(asked)
    if binary.kind != "file" or binary.inside is None:
        return None, binary.reason or f"{asked}: a {binary.kind}, not a file", False
    for list_name in lists:
        listing = ctx.read_file(f"{DPKG}/info/{list_name}", LIST_LIMIT, whole=True)
        if listing.data is None:
            continue
        path = _listed(ctx, listing.data, binary.inside)
        if path is None:
            return None, f"{asked} is not a file of the Debian package {name}", False
        by = _diverted(diversions, (path, asked, binary.inside))
        if by is not None:
            return None, f"{path} is diverted by {by} (dpkg-divert): not the file the package {name} installed", True
        if binary.ctime > ctx.lookup(f"{DPKG}/info/{list_name}").mtime + CTIME_SLACK:
            return None, f"{binary.inside} was changed after the Debian package {name} {version} installed it", True
        return Packaged(name, version, upstream_version(version), arch, oci_platform(arch), path), "", True
    return None, f"the Debian package {name} has no readable file list", False


def package_answer(ctx: Context, path: str, candidates: Iterable[str]) -> tuple[Packaged | None, str | None]:
    """(the package that installed the binary at ``path``, None) or (None, why not); the reason is None when the
    host has no dpkg database (not a Debian-like host: nothing to say). Never raises."""
    names = tuple(candidates)
    try:
        status, unread = ctx.fact(DPKG_STATUS)
        if status is None:
            return None, unread
        answers: list[Packaged] = []
        owned, other = [], []  # why not: a package that lists the file (but it was changed) says the most
        for name in names:
            for fields in paragraphs(status, name):
                got, reason, owns = _one(ctx, name, fields, path, ctx.fact(DPKG_DIVERSIONS))
                if got:
                    answers.append(got)
                else:
                    (owned if owns else other).append(reason)
    except (OSError, ValueError) as exc:  # odd bytes in odd places: no answer, the caller asks the binary
        return None, f"dpkg database not understood: {exc}"
    if len({(a.architecture, a.version) for a in answers}) > 1:
        return None, f"{path} is listed by several installed packages: " + ", ".join(
            f"{a.package}:{a.architecture} {a.version}" for a in answers)
    return (answers[0], None) if answers else (None, (owned + other + [
        f"no Debian package named {' or '.join(names)} is installed"])[0])


def version_from(ctx: Context, binary: str, package: str, ask: Callable[[], tuple[str | None, str]], *,
                 arch: bool = False) -> tuple[str | None, list[str], Packaged | None]:
    """(version, evidence lines, package) of the program at ``binary``: the record of ``package`` when dpkg vouches
    for the very file (no process started), else what ``ask`` learns from the program, with why dpkg could not
    answer. ``arch``: a record without a Go architecture does not answer either."""
    pkg, why = package_answer(ctx, binary, (package,))
    if pkg and (pkg.goarch or not arch):
        return pkg.upstream, [pkg.says(package)], pkg
    if pkg:
        why = f"the Debian package {package} is for '{pkg.architecture}': not an architecture Go builds for"
    version, said = ask()
    return version, ([f"{why}: {package} asked instead"] if why else []) + [said], None
