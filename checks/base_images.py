"""For every FROM image of the project: what the local Docker and Podman stores hold for each target."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.docker import docker_facts
from mab_doctor.host.hostinfo import host_facts
from mab_doctor.host.platforms import PlatformError, parse_platform, runs_natively

ORDER = {"ok": 0, "absent": 1, "unsure": 2, "other": 3, "prefix": 3}


def _stored(doc: dict | None) -> str | None:
    from mab_doctor.inspection.images import declared_platform  # see base_images

    if not doc:
        return None
    return declared_platform(doc.get("Os"), doc.get("Architecture"), doc.get("Variant")) or "unknown platform"


def _wanted(ctx: Context) -> dict[str, tuple[set[str], str, str | None]]:
    """image -> (targets it is built for, where it is first named, arch-prefix platform)."""
    targets = [str(t) for t in ctx.targets]
    per_file: dict[str, set[str]] = {}
    for build in ctx.project.all_builds:
        if build.dockerfile:
            per_file.setdefault(build.dockerfile, set()).update(p.name for p in build.platforms if p.name in targets)
    wanted: dict[str, tuple[set[str], str, str | None]] = {}
    for dockerfile in ctx.project.dockerfiles:
        for stage in dockerfile.stages:
            if stage.from_stage or stage.image.lower() == "scratch" or "$" in stage.image:
                continue
            if stage.on_build_platform:  # runs on the builder's own platform, whatever the target
                continue
            pinned = stage.platform if stage.platform and "$" not in stage.platform else None
            chosen = {pinned} if pinned else (per_file.get(dockerfile.path) or set(targets))
            seen = wanted.setdefault(stage.image, (set(), str(stage.where), stage.arch_prefix))
            seen[0].update(chosen)
    return wanted


def _serves(stored: str, target: str) -> bool:
    """Whether an image stored for ``stored`` is what a build for ``target`` takes: the same platform, or a
    lower variant of the same architecture (containerd's matching: amd64/v3 takes amd64, arm/v7 arm/v6)."""
    if stored == target:
        return True
    try:
        have, want = parse_platform(stored), parse_platform(target)
    except PlatformError:
        return False
    return have.platform.arch == want.platform.arch and runs_natively(want.platform, have)


def _verdict(target: str, stores: dict[str, str | None], prefix: str | None, containerd: bool,
             host: str | None) -> tuple[str, str]:
    """(state, words) of one image for one target, from what each store holds (None: not held)."""
    if prefix and prefix != target:
        return "prefix", f"is the {prefix} image whatever the target (an arch-prefixed name)"
    held = {engine: p for engine, p in stores.items() if p}
    serving = [e for e, p in held.items() if _serves(p, target)]
    if serving:
        return "ok", "held for " + target + " (" + ", ".join(serving) + ")"
    if not held:
        return "absent", "is in no local store: the build will pull it from its registry"
    words = ", ".join(f"{e}: only {p}" for e, p in held.items())
    if containerd and held.get("docker") == host:
        # A containerd-store tag may hold several platforms, and `docker image inspect` (before Docker 28's
        # --platform) shows only the host's when it is there: whether the target is held too is unknown.
        return "unsure", (f"may lack {target}: the containerd store shows only {host} for it (this daemon's "
                          f"API lists one platform of a tag)")
    return "other", f"is stored only for another platform ({words})"


@check(name="base-images", title="Base images", category="docker", per_target=True)
def base_images(ctx: Context) -> list[Result]:
    """What it checks: every image the project's Dockerfiles start FROM (not scratch, not an
    earlier stage, not a stage pinned to $BUILDPLATFORM), looked up in the local Docker store (when
    the daemon answers) and Podman's (when installed), for each target the image is built for.
    Arch-prefixed names (arm64v8/..., arm32v7/...) are one platform whatever the target.

    Why it matters: the classic Docker store keeps one platform per tag. A base image pulled or
    built for another architecture is the trap of multi-platform builds: the build of this target
    either fails to find the right variant or silently starts from the wrong one. An image in no
    store means the build needs its registry.

    How to fix: `docker pull --platform <target> <image>` (or `podman pull --platform ...`), or
    build and tag the base for that target; for an arch-prefixed base, use the plain name with
    `FROM --platform=$TARGETPLATFORM`.
    """
    if ctx.project is None or not ctx.project.dockerfiles:
        return [Result.skip("no Dockerfile in the project: no base image to look up")]
    wanted = _wanted(ctx)
    if not wanted:
        return [Result.ok("the Dockerfiles start only FROM scratch, earlier stages or $BUILDPLATFORM stages")]
    facts, podman = docker_facts(ctx), ctx.which("podman")
    if not facts.up and podman is None:
        return [Result.skip(f"no image store to look in: {facts.problem}; Podman not installed")]
    images = list(wanted)
    # The image readers (and tarfile, for image exports) are imported only when there are images to look up.
    from mab_doctor.inspection.images import docker_lookup, podman_lookup

    def look(image: str) -> dict[str, str | None]:
        found = {}
        if facts.up:
            found["docker"] = _stored(docker_lookup(ctx, image))
        if podman is not None:
            got = podman_lookup(ctx, image)
            found["podman"] = _stored(got[1]) if got else None
        return found

    stores = dict(zip(images, ctx.map(look, images)))
    native = host_facts(ctx).platform
    host = native.oci if native is not None else None
    results = []
    for target in ctx.targets:
        name = str(target)
        judged = [(image, *_verdict(name, stores[image], wanted[image][2], facts.containerd_store, host))
                  for image in images if name in wanted[image][0]]
        if not judged:
            continue
        details = [f"{image} ({wanted[image][1]}): {words}" for image, _, words in judged]
        data = {"images": {image: state for image, state, _ in judged}}
        worst = max(judged, key=lambda j: ORDER[j[1]])
        image, state, words = worst
        if state in ("other", "prefix"):
            bad = [j for j in judged if j[1] in ("other", "prefix")]
            pulls = "; ".join(f"`{'podman' if stores[i].get('podman') and not stores[i].get('docker') else 'docker'} "
                              f"pull --platform {name} {i}`" for i, s, _ in bad if s == "other")
            prefixed = [i for i, s, _ in bad if s == "prefix"]
            fix = (f"Store the {name} variant: {pulls} (or build it for {name} and tag it)." if pulls else "")
            if prefixed:
                fix += (f" Replace the arch-prefixed base{'s' if len(prefixed) > 1 else ''} {', '.join(prefixed)} "
                        f"with the plain multi-platform name and `FROM --platform=$TARGETPLATFORM`.")
            results.append(Result.fail(f"{image} {words}" + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""),
                                       target=name, details=details, data=data, remediation=fix.strip()))
        elif state == "unsure":
            results.append(Result.warn(f"{image} {words}", target=name, details=details, data=data,
                                       remediation=f"If the build stops at \"no match for platform in manifest\", "
                                                   f"store the {name} variant: `docker pull --platform {name} {image}`, "
                                                   f"or build it for {name} and tag it."))
        elif state == "absent":
            results.append(Result.warn(f"{image} {words}", target=name, details=details, data=data,
                                       remediation=f"Pull it for {name} ahead (`docker pull --platform {name} "
                                                   f"{image}`) if the build host is offline; otherwise nothing."))
        else:
            results.append(Result.ok(f"{len(judged)} base image{'s' if len(judged) > 1 else ''} held for {name}",
                                     target=name, details=details, data=data))
    return results or [Result.ok("no base image is built for the selected targets")]
