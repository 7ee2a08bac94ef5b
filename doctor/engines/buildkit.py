"""The Docker daemon's embedded BuildKit asked directly (Control.ListWorkers, Control.Info), as buildx's docker driver asks it."""

from __future__ import annotations

import posixpath
import re
import time
from typing import TYPE_CHECKING

from mab_doctor.core.record import record

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

LIST_WORKERS = "/moby.buildkit.v1.Control/ListWorkers"
INFO = "/moby.buildkit.v1.Control/Info"
UNIMPLEMENTED = 12  # gRPC's code for a method the server lacks: BuildKit before v0.11 has no Info


class ProtoError(ValueError):
    """Bytes that are not the message they should be."""


@record
class Worker:
    """One BuildKit worker: its ID, labels and platforms (architecture, os, variant) in the daemon's order."""

    id: str
    labels: tuple[tuple[str, str], ...] = ()
    platforms: tuple[tuple[str, str, str], ...] = ()


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        if at >= len(data):
            raise ProtoError("truncated varint")
        value, at = value | (data[at] & 0x7F) << shift, at + 1
        if not data[at - 1] & 0x80:
            return value, at
    raise ProtoError("varint longer than 10 bytes")


def fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of every field of one protobuf message, in order; lengths are
    bounded by the data itself. Groups (wire types 3, 4) and bad bytes are a ProtoError."""
    out, at = [], 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == 0:
            value, at = _varint(data, at)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, at = data[at:at + size], at + size
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        else:
            raise ProtoError(f"wire type {wire} (groups are not used here)")
        if at > len(data):
            raise ProtoError("truncated field")
        out.append((number, wire, value))
    return out


def _text(value: int | bytes, wire: int) -> str:
    if wire != 2 or not isinstance(value, bytes):
        raise ProtoError("a string field is not length-delimited")
    try:
        return value.decode("utf-8")  # Go's protobuf refuses invalid UTF-8 in strings, and so does buildx
    except UnicodeDecodeError:
        raise ProtoError("a string field is not UTF-8") from None


def _strings(data: bytes, wanted: tuple[int, ...]) -> tuple[str, ...]:
    # The last occurrence of a scalar field wins (protobuf's merge rule); absent fields are "".
    found = {n: "" for n in wanted}
    for number, wire, value in fields(data):
        if number in found:
            found[number] = _text(value, wire)
    return tuple(found[n] for n in wanted)


def _worker(data: bytes) -> Worker:
    wid, labels, platforms = "", {}, []
    for number, wire, value in fields(data):
        if number == 1:
            wid = _text(value, wire)
        elif number == 2:
            key, val = _strings(_message(value, wire), (1, 2))
            labels[key] = val
        elif number == 3:
            arch, os_, variant = _strings(_message(value, wire), (1, 2, 3))
            platforms.append((arch, os_, variant))
        # 4 GCPolicy, 5 BuildkitVersion, 6 CDIDevices: nothing buildx ls shows for a node
    return Worker(wid, tuple(labels.items()), tuple(platforms))


def _message(value: int | bytes, wire: int) -> bytes:
    if wire != 2 or not isinstance(value, bytes):
        raise ProtoError("an embedded message is not length-delimited")
    return value


def parse_workers(data: bytes) -> list[Worker]:
    """ListWorkersResponse {repeated WorkerRecord record = 1} as workers; ProtoError on bad bytes."""
    return [_worker(_message(v, w)) for n, w, v in fields(data) if n == 1]


def parse_info_version(data: bytes) -> str:
    """InfoResponse {BuildkitVersion buildkitVersion = 1}: its version (field 2); ProtoError on bad bytes."""
    version = ""
    for number, wire, value in fields(data):
        if number == 1:
            version = _strings(_message(value, wire), (2,))[0]
    return version


def _normal(arch: str, os_: str, variant: str) -> tuple[str, str, str]:
    # containerd's Normalize as vendored by buildx v0.13 (an empty OS is the client's own: linux).
    os_ = {"macos": "darwin"}.get(os_.lower(), os_.lower()) or "linux"
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        arch, variant = "386", ""
    elif arch in ("x86_64", "x86-64", "amd64"):
        arch, variant = "amd64", "" if variant == "v1" else variant
    elif arch in ("aarch64", "arm64"):
        arch, variant = "arm64", "" if variant in ("8", "v8") else variant
    elif arch in ("armhf", "armel"):
        arch, variant = "arm", "v7" if arch == "armhf" else "v6"
    elif arch == "arm" and variant in ("", "7", "5", "6", "8"):
        variant = "v" + (variant or "7")
    return arch, os_, variant


def platform_list(workers: list[Worker]) -> list[str]:
    """Every worker's platforms in order, normalised, formatted (os/arch/variant) and de-duplicated, as
    buildx lists a node's platforms (platformutil.Dedupe, then containerd's Format)."""
    seen: dict[str, None] = {}
    for worker in workers:
        for arch, os_, variant in worker.platforms:
            arch, os_, variant = _normal(arch, os_, variant)
            # Go's path.Join cleans what it joins; _normal leaves no OS empty
            seen.setdefault(posixpath.normpath(format_platform(os_, arch, variant)), None)
    return list(seen)


def format_platform(os_: str, arch: str, variant: str) -> str:
    """containerd's Format without its path cleaning: "unknown" without an OS, else the non-empty parts joined."""
    return "/".join(p for p in (os_, arch, variant) if p) if os_ else "unknown"


# buildx's docker driver, for daemons whose BuildKit has no Info: the daemon's version mapped to the BuildKit
# it embeds (driver/docker/version.go, first match wins), here as the release ranges [low, high) each
# constraint matches once earlier ones have taken theirs.
MOBY_BUILDKIT = (
    ((18, 6, 0), (18, 6, 1), "v0.0.0+9acf51e"), ((18, 6, 1), (18, 9, 0), "v0.0.0+98f1604"),
    ((18, 9, 0), (18, 9, 1), "v0.0.0+c7bb575"), ((18, 9, 1), (18, 10, 0), "v0.3.3"),
    ((18, 10, 0), (19, 3, 0), "v0.4.0+05766c5"), ((0, 0, 0), (19, 3, 0), "v0.4.0+b302896"),
    ((19, 3, 0), (19, 3, 2), "v0.5.1+1f89ec1"), ((19, 3, 2), (19, 3, 3), "v0.6.1+588c73e"),
    ((19, 3, 3), (19, 3, 5), "v0.6.2"), ((19, 3, 5), (19, 3, 6), "v0.6.3+928f3b4"),
    ((19, 3, 6), (19, 3, 7), "v0.6.3+57e8ad5"), ((19, 3, 7), (19, 3, 9), "v0.6.4"),
    ((19, 3, 9), (19, 3, 13), "v0.6.4+a7d7b7f"), ((19, 3, 13), (19, 3, 15), "v0.6.4+df89d4d"),
    ((19, 3, 15), (20, 10, 0), "v0.6.4+396bfe2"), ((20, 10, 0), (20, 10, 2), "v0.8.1"),
    ((20, 10, 3), (20, 10, 4), "v0.8.1+68bb095"), ((20, 10, 4), (20, 10, 7), "v0.8.2"),
    ((20, 10, 7), (20, 10, 10), "v0.8.2+244e8cde"), ((20, 10, 11), (20, 10, 18), "v0.8.2+bc07b2b8"),
    ((20, 10, 19), (20, 10, 20), "v0.8.2+3a1eeca5"), ((20, 10, 20), (20, 10, 21), "v0.8.2+c0149372"),
    ((20, 10, 21), (20, 10, 24), "v0.8.2+eeb7b65"), ((20, 10, 0), (20, 11, 0), "v0.8+unknown"),
    ((22, 6, 0), (22, 7, 0), "v0.10.3"), ((23, 0, 0), (23, 0, 1), "v0.10.6"),
    ((23, 0, 1), (23, 0, 2), "v0.10.6+4f0ee09"), ((23, 0, 2), (23, 0, 4), "v0.10.6+70f2ad5"),
    ((23, 0, 4), (23, 0, 7), "v0.10.6+d52b2d5"), ((23, 0, 0), (24, 0, 0), "v0.10+unknown"),
)
SEMVER = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


def moby_buildkit(daemon_version: str) -> str | None:
    """The BuildKit version buildx names for a daemon without Info; None when this table cannot be sure
    (a pre-release daemon: the constraints' pre-release rules are not reproduced here)."""
    m = SEMVER.fullmatch(daemon_version)
    if m is None:  # not semver: buildx keeps the daemon's own version
        return daemon_version.removesuffix("-moby")
    if m.group(4):
        return None
    release = tuple(int(g or 0) for g in m.groups()[:3])
    found = next((bk for low, high, bk in MOBY_BUILDKIT if low <= release < high), None)
    return found or daemon_version.removesuffix("-moby")


@record
class DaemonBuildkit:
    """The daemon's BuildKit as buildx's docker driver sees it: workers and version, or why not."""

    workers: tuple[Worker, ...] = ()
    version: str = ""
    error: str | None = None
    hung: bool = False  # the daemon took the whole timeout: `buildx ls` would wait on it just the same


def ask_daemon(ctx: "Context", sock: str) -> DaemonBuildkit:
    """ListWorkers, then Info (the version; for daemons without it, GET /version and buildx's table),
    over dockerd's /grpc upgrade on ``sock``, all within one run timeout. Any doubt is an error value:
    the caller asks buildx instead."""
    deadline = time.monotonic() + ctx.timeout
    left = lambda: max(0.001, deadline - time.monotonic())  # noqa: E731
    listed = ctx.grpc(sock, "/grpc", LIST_WORKERS, b"", timeout=left())
    if not listed.ok:
        return DaemonBuildkit(error=listed.describe(), hung=listed.timed_out)
    try:
        workers = parse_workers(listed.message or b"")
    except ProtoError as exc:
        return DaemonBuildkit(error=f"ListWorkers answer not understood: {exc}")
    info = ctx.grpc(sock, "/grpc", INFO, b"", timeout=left())
    if info.ok:
        try:
            return DaemonBuildkit(tuple(workers), parse_info_version(info.message or b""))
        except ProtoError as exc:
            return DaemonBuildkit(error=f"Info answer not understood: {exc}")
    if info.status != UNIMPLEMENTED:  # buildx would print no version at all: rare enough to ask it
        return DaemonBuildkit(error=info.describe(), hung=info.timed_out)
    answer = ctx.request(sock, "GET", "/version", timeout=left())
    data = answer.json() if answer.ok else None
    daemon = data.get("Version") if isinstance(data, dict) else None
    version = moby_buildkit(daemon) if isinstance(daemon, str) else None
    if version is None:
        return DaemonBuildkit(error=f"no BuildKit version for daemon version {daemon!r} ({answer.describe()})",
                              hung=answer.timed_out)
    return DaemonBuildkit(tuple(workers), version)
