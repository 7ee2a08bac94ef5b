"""Find local images whose platform differs from the host's (the one-tag-one-platform cache trap)."""

from __future__ import annotations

from typing import NamedTuple

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.docker import docker_facts
from mab_doctor.engines.localimages import Listed, docker_images, podman_images
from mab_doctor.host.hostinfo import host_facts
from mab_doctor.host.platforms import PlatformError, parse_platform

WHY = {"docker": "A plain `docker run` or legacy `docker build` of such a tag silently uses the foreign image "
                 "(Docker 20.10+ only prints \"The requested image's platform (...) does not match the detected "
                 "host platform\").",
       "containerd": "The containerd image store holds no {host} variant of these Docker tags.",
       "podman": "Podman 4.3 likewise uses the stored image, printing only \"WARNING: image platform (...) "
                 "does not match the expected platform\"."}


class Image(NamedTuple):
    """One local name:tag and the platform its engine recorded (None when inspect said nothing)."""

    engine: str
    image: str
    id: str
    platform: str | None
    foreign: bool = False


def _platform(doc: dict | None, host: str) -> tuple[str | None, bool]:
    """(normalised "os/arch[/variant]", differs from host) from inspect's Os/Architecture/Variant."""
    if not doc or not doc.get("Architecture"):
        return None, False
    raw = "/".join(str(p) for p in (doc.get("Os") or "linux", doc["Architecture"], doc.get("Variant")) if p)
    try:
        target = parse_platform(raw)
    except PlatformError:
        return raw, True  # windows/..., or an architecture no Linux host here can be
    unsure = " (no variant recorded)" if doc["Architecture"] == "arm" and not doc.get("Variant") else ""
    return str(target) + unsure, target.platform.oci != host


def _images(engine: str, listed: Listed, host: str) -> list[Image]:
    return [Image(engine, name, id_[:12], *_platform(listed.docs.get(id_), host)) for name, id_ in listed.named]


@check(name="image-cache", title="Local image cache", category="docker")
def image_cache(ctx: Context) -> Result:
    """What it checks: every local tagged image of Docker (when its daemon answers: over its Engine API,
    else its CLI) and of Podman (when `podman` is on PATH: read from its storage files when they settle
    it, else `podman images` and `podman image inspect`), for an OS/architecture/variant other than the
    host platform; `<none>` images are skipped. No `requires`: a Podman-only
    host has no Docker daemon, and depending on `docker-daemon` would skip the Podman half too; the
    Docker half reuses the run's docker facts (a hung daemon costs no further timeout).

    Why it matters: with Docker's classic image store one tag holds one platform. After `docker pull
    --platform linux/arm64 img`, a later plain `docker run img` or legacy `docker build` silently
    uses that foreign image; since 20.10 Docker only prints "The requested image's platform (...)
    does not match the detected host platform". The containerd image store keeps every platform of
    a tag, so there only a tag without a native platform stored counts.

    How to fix: re-pull the native image (`docker pull --platform <host> <image>`, `podman pull
    --platform <host> <image>`) or remove it (`docker image rm <image>`, `podman rmi <image>`; a
    Podman manifest list: `podman manifest rm`); pass `--platform` explicitly in scripts.
    """
    host_platform = host_facts(ctx).platform
    if host_platform is None:
        return Result.skip("host platform unknown: nothing to compare image platforms with")
    host, facts, podman_bin = host_platform.oci, docker_facts(ctx), ctx.which("podman")
    # The two engines' answers are awaited side by side.
    docker, podman = ctx.map(lambda ask: ask(), [lambda: docker_images(ctx),
                                                 lambda: podman_images(ctx, podman_bin) if podman_bin else None])
    images = _images("docker", docker, host) if docker else []
    found = _images("podman", podman, host) if podman else None
    problems = [*(docker.problems if docker else ()), *(podman.problems if podman else ())]
    details = [f"docker: {len(images)} tagged images" if facts.up else f"docker: {facts.message or facts.state}"]
    details.append(f"podman: {len(found)} tagged images" if found is not None else
                   "podman: not installed" if not podman_bin else "podman: not run on a foreign --root")
    if found is None and not facts.up:
        return Result.skip(f"no image store to inspect: {facts.problem}; "
                           f"Podman {'not installed' if not podman_bin else 'not run'}", details=details)
    images += found or []
    containerd = facts.containerd_store
    foreign = [i for i in images if i.foreign]
    details += [f"{i.engine} {i.image} ({i.id}): {i.platform}" for i in foreign] + problems
    data = {"foreign": [{"engine": i.engine, "image": i.image, "platform": i.platform, "id": i.id} for i in foreign],
            "checked": len(images)}
    if foreign:
        names = ", ".join(f"{i.image} ({i.platform})" for i in foreign[:2])
        more = f" and {len(foreign) - 2} more" if len(foreign) > 2 else ""
        engines = [e for e in ("docker", "podman") if any(i.engine == e for i in foreign)]
        why = " ".join(WHY["containerd" if e == "docker" and containerd else e] for e in engines)
        fixes = "; ".join(f"`{i.engine} pull --platform {host} {i.image}` or "
                          f"`{'docker image rm' if i.engine == 'docker' else 'podman rmi'} {i.image}`"
                          for i in foreign[:5]) + ("; ..." if len(foreign) > 5 else "")
        return Result.warn(f"{len(foreign)} of {len(images)} local images are not {host}: {names}{more}",
                           details=details, data=data, remediation=f"{why.format(host=host)} Re-pull or remove "
                                                                   f"each: {fixes}. Or pass --platform explicitly.")
    if problems:
        return Result.warn(f"could not inspect every local image ({len(images)} checked)", details=details,
                           data=data, remediation="Run the commands named above by hand and fix what they report.")
    if containerd and images:
        return Result.ok(f"{len(images)} local images; the containerd image store keeps every platform of a tag: "
                         f"the one-tag-one-platform trap does not apply", details=details, data=data)
    return Result.ok(f"{len(images)} local images, all {host}" if images else "no local tagged images",
                     details=details, data=data)
