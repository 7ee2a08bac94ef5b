"""Check Podman and Buildah: versions for multi-platform builds, rootless mode, architecture."""

from __future__ import annotations

import os
import re

from mab_doctor.api import CommandResult, Context, Result, check
from mab_doctor.core.jsonout import json_documents
from mab_doctor.host.hostinfo import host_facts
from mab_doctor.host.matrix import requirement, version_lt
from mab_doctor.host.packages import version_from

EMULATION = ("Podman and Buildah have no built-in emulators: foreign RUN steps need the same host "
             "binfmt_misc handlers with static QEMU as Docker (see binfmt-handlers)")


def _json(res: CommandResult) -> dict | None:
    """The one JSON object a command printed (a list, a number or several documents are not answers)."""
    docs = json_documents(res.stdout) if res.ok else None
    return docs[0] if docs and len(docs) == 1 and isinstance(docs[0], dict) else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _word(value) -> str | None:
    """A version or name field as text; other JSON types (lists, objects, null) are no answer."""
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "" \
        else None


def _version(ctx: Context, binary: str, json_argv: tuple[str, ...], pick) -> tuple[str | None, str]:
    """(version, evidence): the JSON form first, `--version` when that fails or says nothing."""
    res = ctx.run(binary, *json_argv)
    if res.refused:
        return None, res.describe()
    data = _json(res)
    version = _word(pick(data)) if data else None
    if version:
        return str(version), f"`{' '.join(res.argv)}`: {version}"
    plain = ctx.run(binary, "--version")
    m = re.search(r"version\s+v?(\d[^\s,]*)", plain.stdout)
    return (m.group(1), f"`{binary} --version`: {plain.stdout.strip()}") if m else (None, plain.describe())


def _too_old(version: str | None, minimum: str) -> bool:
    try:
        return bool(version) and version_lt(version, minimum)
    except ValueError:
        return False


@check(name="podman", title="Podman and Buildah", category="podman")
def podman(ctx: Context) -> Result:
    """What it checks: whether Podman and Buildah are installed and their versions (the dpkg database when
    the file on PATH is unchanged since its package installed it, else `podman version --format json`,
    `buildah version --json`, `--version` as fallback); the Buildah that Podman builds with (`podman
    info`, run with -v or when this check is named: it initialises the storage, 0.2-0.4 s) and the
    Buildah CLI against the matrix minimum for multi-value `--platform` with `--manifest` (Buildah
    1.23); the Podman minimum (3.4, not confirmed from a release: the matrix marks it unverified);
    rootless mode and Podman's architecture (`podman info`, else the user running it and the package's
    architecture or `podman version`'s OsArch) against the host platform.

    Why it matters: older Buildah cannot build a multi-platform manifest in one command; a Podman
    built for another architecture pulls and builds that architecture by default; a broken
    `podman info` (storage configuration) means no build works. Podman has no emulators of its own:
    the same binfmt_misc handlers as Docker are needed (see binfmt-handlers).

    How to fix: upgrade Buildah/Podman (distribution packages); build each platform separately and
    join them with `buildah manifest add` on old versions; fix what `podman info` reports. Podman
    is optional: without it this check is skipped.
    """
    podman_bin, buildah_bin = ctx.which("podman"), ctx.which("buildah")
    if not podman_bin and not buildah_bin:
        return Result.skip("Podman not installed (optional)", data={"versions": {}, "rootless": None, "arch": None})
    versions: dict[str, str | None] = {}
    details: list[str] = []
    # `podman info` initialises the storage (0.2-0.4 s): only when details are asked for (-v, or this check named);
    # the version answer gives the architecture, and rootless is who runs Podman. That answer is dpkg's record when
    # it vouches for the file on PATH (two Go processes, ~40 ms of CPU, spared), else the commands'.
    client: dict = {}  # `podman version`'s Client object: Version, and OsArch ("linux/amd64")
    asks = [lambda: version_from(ctx, podman_bin, "podman", lambda: _version(
                ctx, podman_bin, ("version", "--format", "json"),
                lambda d: client.update(_dict(d.get("Client"))) or client.get("Version")), arch=True)
            if podman_bin else None,
            lambda: ctx.run(podman_bin, "info", "--format", "json") if podman_bin and ctx.thorough else None,
            lambda: version_from(ctx, buildah_bin, "buildah", lambda: _version(
                ctx, buildah_bin, ("version", "--json"), lambda d: d.get("version"))) if buildah_bin else None]
    podman_said, res, buildah_said = ctx.map(lambda ask: ask(), asks)
    if podman_said:
        versions["podman"], said, pkg = podman_said
        details += said
        if pkg:  # as `podman version` would say: its OsArch is Go's GOOS/GOARCH
            client.update(Version=pkg.upstream, OsArch=f"linux/{pkg.goarch}")
    info, info_error = _json(res) if res is not None else None, None
    if res is not None and info is None and not res.refused:
        info_error = res.explain() if res.stderr.strip() else f"{res.describe()}, no JSON"
    if buildah_said:
        versions["buildah"], said, _ = buildah_said
        details += said
    host = _dict(_dict(info).get("host"))
    versions["podman_buildah"] = _word(host.get("buildahVersion"))
    rootless = _dict(host.get("security")).get("rootless")
    rootless = rootless if isinstance(rootless, bool) else None
    arch = _word(host.get("arch"))
    if res is None and client.get("Version"):  # not asked, but Podman is known: it runs here, as this user
        os_arch = _word(client.get("OsArch")) or ""
        here = ctx.is_live or not podman_said[2]  # a package read under a foreign --root: who runs it is unknown
        arch, rootless = os_arch.partition("/")[2] or None, os.geteuid() != 0 if here else None
        details.append("`podman info` not run (it initialises the storage): `mab-doctor podman` or -v runs it")
    data = {"versions": versions, "rootless": rootless, "arch": arch}
    if not any(versions.values()) and not info:
        return Result.skip("Podman/Buildah found but not run (foreign --root, or they did not answer)",
                           details=details, data=data)
    if info:
        details.append(f"podman info: {host.get('os')}/{arch}, rootless {rootless}, buildah library "
                       f"{versions['podman_buildah']}, storage {_dict(info.get('store')).get('graphRoot')}")
    if rootless:
        details.append("rootless: binfmt_misc handlers are host-wide; registering them needs root")
    details.append(EMULATION)
    say = {"details": details, "data": data}
    if info_error:
        return Result.warn(f"`podman info` failed: {info_error}", **say,
                           remediation="Run `podman info` and fix what it names (usually storage.conf: "
                                       "/etc/containers/storage.conf or ~/.config/containers/storage.conf); "
                                       "`podman build` cannot work until it succeeds.")
    b_req, p_req = requirement("buildah-multiplatform"), requirement("podman-multiplatform")
    labels = (("buildah", "buildah"), ("podman_buildah", "Podman's buildah"))
    old = [f"{label} {versions[name]}" for name, label in labels if _too_old(versions.get(name), b_req.minimum)]
    if old:
        return Result.warn(f"{' and '.join(old)} older than {b_req.minimum}: no multi-value --platform with --manifest",
                           **say, remediation=b_req.remediation + f" ({b_req.source})")
    platform = host_facts(ctx).platform
    if arch and platform and arch != platform.goarch:
        return Result.warn(f"Podman is a linux/{arch} build on a {platform.oci} host: it pulls and builds "
                           f"linux/{arch} by default", **say,
                           remediation=f"Pass --platform {platform.oci} explicitly, or install the distribution's "
                                       f"native Podman.")
    if _too_old(versions.get("podman"), p_req.minimum) and not versions["podman_buildah"]:
        return Result.warn(f"podman {versions['podman']} is older than {p_req.minimum}, the release expected "
                           f"to take a --platform list (unverified in the matrix)", **say,
                           remediation=p_req.remediation)
    if versions.get("podman") and not p_req.verified:
        details.append(f"podman minimum {p_req.minimum} for multi-platform builds is unverified "
                       f"({p_req.source}); the Buildah version decides")
    mode = "" if rootless is None else (", rootless" if rootless else ", rootful")
    found = ", ".join(f"{k} {v}" for k, v in versions.items() if v and k != "podman_buildah")
    return Result.ok(f"{found or 'podman answers'}{mode}" + (f", linux/{arch}" if arch else ""), **say)
