"""Check the Docker daemon answers, and what it is: version, platform, rootless, storage, where it runs."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.docker import docker_facts, endpoint
from mab_doctor.engines.elsewhere import context_host, daemon_elsewhere
from mab_doctor.host.hostinfo import host_facts
from mab_doctor.host.matrix import requirement, version_lt

ELSEWHERE_REMEDY = ("Register QEMU inside that VM or machine: `docker run --privileged --rm tonistiigi/binfmt "
                    "--install all` runs there, through the same daemon (Docker Desktop and OrbStack ship "
                    "their own emulation); judge the host checks' binfmt_misc findings on that machine.")


@check(name="docker-daemon", title="Docker daemon", category="docker", requires=("docker-cli",))
def docker_daemon(ctx: Context) -> Result:
    """What it checks: the daemon answers `docker version` within the timeout (a daemon that accepts
    the connection and never answers costs one timeout per run, not one per check); its version,
    OS/architecture against the host platform (a 32-bit daemon on a 64-bit kernel; an ARMv6 host
    with a Docker older than 20.10, which picks arm/v7 images), rootless mode, storage driver and
    whether the containerd image store (multi-platform images locally) is in use; and whether the
    daemon runs on this machine at all (Docker Desktop, OrbStack, Colima, Lima, Rancher Desktop, a
    Podman machine, `ssh://` or a remote `tcp://` endpoint, or a daemon whose kernel or host name is
    not this machine's).

    Why it matters: buildx's default builder and every `docker run` of a built image go through this
    daemon; "permission denied" on its socket and "not running" need different cures. A daemon in a VM
    or on another machine emulates foreign architectures with ITS kernel's binfmt_misc handlers, so
    what the binfmt checks find on this host says nothing about its builds.

    How to fix: start the daemon, or fix the socket permission (docker group, sudo, rootless Docker);
    for a daemon elsewhere, register QEMU where it runs.
    """
    facts = docker_facts(ctx)
    details = [f"endpoint: {endpoint(facts)}", f"`{facts.command}`: {facts.message or facts.state}"]
    data = {"state": facts.state}
    if facts.state == "refused":
        return Result.skip("the daemon is not contacted on a foreign --root", details=details, data=data)
    if not facts.up:
        return Result.fail(f"{facts.problem}: {facts.message}", details=details, data=data,
                           remediation=facts.remedy)
    server, info = facts.server or {}, facts.info or {}
    version, arch = server.get("Version", "?"), server.get("Arch", "?")
    rootless = any("rootless" in str(opt) for opt in info.get("SecurityOptions") or [])
    data.update({"version": version, "os": server.get("Os"), "arch": arch, "rootless": rootless,
                 "storage_driver": info.get("Driver"), "image_store": facts.image_store,
                 "experimental": server.get("Experimental"), "root_dir": info.get("DockerRootDir")})
    details = [f"server {version}, API {server.get('ApiVersion')}, {server.get('Os')}/{arch}, "
               f"storage {info.get('Driver')} ({facts.image_store}), rootless {rootless}"] + details
    summary = f"dockerd {version} ({server.get('Os')}/{arch}, {info.get('Driver')}, {facts.image_store}" + \
              (", rootless)" if rootless else ")")
    # Only a live host's own kernel can be compared; a foreign --root never gets here (skipped above).
    me = ctx.uname if ctx.is_live else None
    elsewhere = daemon_elsewhere(facts, me.release if me else "", me.nodename if me else "", ctx.env,
                                 context_host=context_host(ctx, facts))
    data["elsewhere"] = elsewhere
    if elsewhere:  # the host-platform comparisons below would judge the wrong machine
        details.insert(1, f"daemon: {info.get('Name')}, {info.get('OperatingSystem')}, kernel "
                          f"{info.get('KernelVersion')}; this machine: {me.nodename if me else '?'}, "
                          f"kernel {me.release if me else '?'}")
        return Result.warn(f"the Docker daemon does not run on this machine: {elsewhere}; this host's "
                           f"binfmt_misc handlers are not the ones its builds use", details=details, data=data,
                           remediation=ELSEWHERE_REMEDY)
    host = host_facts(ctx)
    if host.kernel_bits == 64 and arch in ("arm", "386"):
        return Result.warn(f"32-bit daemon ({arch}) on a 64-bit kernel: it pulls and runs 32-bit images by "
                           f"default", details=details, data=data,
                           remediation="Pass --platform explicitly, or install a 64-bit Docker and userland.")
    req = requirement("docker-armv6-variant")
    if host.platform and host.platform.oci == "linux/arm/v6" and version_lt(version, req.minimum):
        return Result.warn(f"Docker {version} on an ARMv6 host picks linux/arm/v7 images, which crash here",
                           details=details, data=data, remediation=req.remediation)
    return Result.ok(summary, details=details, data=data)
