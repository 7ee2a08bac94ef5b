"""Check the buildx CLI plugin: found where the Docker CLI looks, runnable here, answering the metadata protocol."""

from __future__ import annotations

from dataclasses import dataclass

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.buildx import find_candidates, is_executable, plugin_dirs, plugin_metadata, validate_metadata
from mab_doctor.engines.docker import docker_facts
from mab_doctor.host.elf import ElfError, parse_header
from mab_doctor.host.hostinfo import host_facts
from mab_doctor.host.matrix import parse_version, requirement, version_lt
from mab_doctor.host.platforms import from_elf

INSTALL = ("Install the buildx plugin: copy the release binary for this architecture from "
           "https://github.com/docker/buildx/releases to ~/.docker/cli-plugins/docker-buildx and `chmod +x` it, "
           "or install Docker's `docker-buildx-plugin` (Debian 12 packages no buildx; later Debian and Ubuntu "
           "have `docker-buildx`).")


@dataclass
class Copy:
    """One docker-buildx file in the search path and what was learned about it."""

    index: int
    path: str
    problem: str | None = None
    version: str | None = None
    fix: str | None = None


def _inspect(ctx: Context, index: int, path: str) -> Copy:
    copy = Copy(index, path)
    host = host_facts(ctx).platform
    head = ctx.read_bytes(path, 4096) or b""
    if not is_executable(ctx, path):
        copy.problem, copy.fix = "is not executable", f"`chmod +x {path}`"
    elif not head.startswith(b"#!"):
        try:
            elf = parse_header(head)
        except ElfError as exc:
            copy.problem, copy.fix = f"is not a program ({exc})", "Replace it with the buildx release binary."
        else:
            plat = from_elf(elf.machine, elf.elf_class, elf.endian)
            if host is not None and (elf.machine, elf.elf_class, elf.endian) != (
                    host.elf_machine, host.elf_class, host.endian):
                what = plat.oci if plat else f"e_machine {elf.machine}"
                copy.problem = f"is an ELF for {what}, not for this host ({host.oci}): \"exec format error\""
                copy.fix = f"Replace {path} with the buildx release binary for {host.oci}."
    if copy.problem or not ctx.is_live:
        return copy
    res = plugin_metadata(ctx, path)
    if res.refused:
        return copy
    if not res.ok:
        copy.problem = f"fails the metadata protocol: {res.explain()}"
    else:
        meta, problem = validate_metadata(res.stdout)
        copy.problem = problem and f"answers `docker-cli-plugin-metadata` wrongly: {problem}"
        copy.version = (meta or {}).get("Version") if not problem else None
    copy.fix = copy.fix or (copy.problem and "Reinstall the plugin (the CLI ignores it as invalid).")
    return copy


def _newer(a: str | None, b: str | None) -> bool:
    return bool(parse_version(a) and parse_version(b) and version_lt(b, a))


@check(name="buildx", title="docker buildx", category="docker", requires=("docker-cli",))
def buildx(ctx: Context) -> Result:
    """What it checks: finds `docker-buildx` exactly where the Docker CLI looks, in its order:
    `cliPluginsExtraDirs` from config.json (searched first), `<config dir>/cli-plugins` (moves with
    DOCKER_CONFIG), then /usr/local/lib, /usr/local/libexec, /usr/lib and /usr/libexec
    `docker/cli-plugins`; broken symlinks are skipped and the first hit wins. Each copy must be
    executable, built for this host, and answer `docker-buildx docker-cli-plugin-metadata` with valid
    JSON (SchemaVersion major < 2, a Vendor, a Version). Later copies are listed as shadowed.

    Why it matters: without a working plugin `docker buildx` is "not a docker command", and a stale
    copy earlier in the search order silently hides the newer one you installed.

    How to fix: copy the buildx release binary to ~/.docker/cli-plugins/docker-buildx and
    `chmod +x` it, or install Docker's `docker-buildx-plugin`; remove stale shadowing copies.
    """
    discovery = requirement("buildx-plugin-discovery")
    dirs, notes = plugin_dirs(ctx)
    found, skipped = find_candidates(ctx, dirs)
    standalone = list(dict.fromkeys(p for p in (ctx.which("docker-buildx"), ctx.which("buildx")) if p))
    details = [f"search order: {', '.join(dirs)}", *notes, *skipped]
    details += [f"standalone binary on PATH (not a plugin): {p}" for p in standalone]
    data = {"plugin": None, "version": None, "search_order": dirs, "shadowed": [], "standalone": standalone}
    if not found:
        if standalone:
            return Result.warn(f"no docker-buildx plugin; only a standalone binary ({standalone[0]})", details=details,
                               data=data, remediation=f"`docker buildx` needs the plugin: copy {standalone[0]} to "
                                                      f"~/.docker/cli-plugins/docker-buildx (chmod +x). {INSTALL}")
        if ctx.which("podman"):
            # Multi-platform builds still work here, through Podman/Buildah (see the podman check).
            return Result.warn("no docker-buildx plugin: Docker cannot build multi-platform images here; Podman "
                               "can (see podman)", details=details, data=data, remediation=INSTALL)
        return Result.fail("no docker-buildx plugin in any CLI plugin directory", details=details, data=data,
                           remediation=INSTALL)
    copies = [_inspect(ctx, index, path) for index, path in found]
    winner, shadowed = copies[0], copies[1:]
    data.update(plugin=winner.path, version=winner.version,
                shadowed=[{"path": c.path, "version": c.version} for c in shadowed])
    details.append(f"plugin: {winner.path} (directory {winner.index + 1} of {len(dirs)}), "
                   f"version {winner.version or 'unknown'}")
    details += [f"shadowed: {c.path} (version {c.version or 'unknown'}{'; ' + c.problem if c.problem else ''})"
                for c in shadowed]
    if winner.problem:
        return Result.fail(f"{winner.path} {winner.problem}", details=details, data=data,
                           remediation=f"{winner.fix} {discovery.remediation}")
    cli = docker_facts(ctx).client.get("Version")
    plugins = requirement("docker-cli-plugins")
    if cli and parse_version(cli) and version_lt(cli, plugins.minimum):
        return Result.fail(f"docker {cli} is older than {plugins.minimum}: it cannot run CLI plugins such as buildx",
                           details=details, data=data, remediation=plugins.remediation)
    newer = next((c for c in shadowed if _newer(c.version, winner.version)), None)
    if newer is not None:
        return Result.warn(f"an old plugin earlier in the search order hides a newer one: {winner.path} "
                           f"({winner.version}) shadows {newer.path} ({newer.version})", details=details, data=data,
                           remediation=f"Remove or update the stale {winner.path}, so that {newer.path} is used "
                                       f"(or list the directories in the intended order). {discovery.remediation}")
    if winner.version is None:
        return Result.ok(f"{winner.path} (version not checked on a foreign --root)", details=details, data=data)
    return Result.ok(f"buildx {winner.version} ({winner.path})", details=details, data=data)
