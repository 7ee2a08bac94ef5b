"""Judge the builder path of each build: can the current buildx builder build its platforms in one invocation?"""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.builders import (DOCKER_DRIVER_REFUSAL, OLD_DOCKER_DRIVER_REFUSAL, current_builder,
                                         list_builders, node_how, refusal, route)
from mab_doctor.engines.buildx import Builder, has_plugin, platform_names
from mab_doctor.engines.docker import docker_facts
from mab_doctor.host.hostinfo import host_facts
from mab_doctor.host.platforms import parse_platform
from mab_doctor.project.invocations import Invocation, invocations

CONTAINERD = ("turn on the containerd image store (Docker 24 or newer: `{\"features\": {\"containerd-snapshotter\": "
              "true}}` in /etc/docker/daemon.json, then restart dockerd; images stored before are not migrated)")
NEW_BUILDER = ("use a builder of the docker-container driver (`docker buildx create --use --driver docker-container "
               "--bootstrap`; it pulls moby/buildkit from a registry once)")


def _remedy(refused: str, inv: Invocation) -> str:
    one_each = f"or build one platform per invocation ({', '.join(f'--platform {p}' for p in inv.platforms)})"
    if refused == DOCKER_DRIVER_REFUSAL:
        return f"Either {NEW_BUILDER}, or {CONTAINERD}, {one_each}."
    return (f"Push instead of loading (`--push`, or `--output type=registry`), export an OCI archive "
            f"(`--output type=oci,dest=image.tar`), or {CONTAINERD}, {one_each}.")


def _judge(inv: Invocation, builder: Builder, containerd: bool, details: list[str]) -> Result:
    where = f"{inv.where}: " if inv.where else ""
    what = f"{inv.label} ({', '.join(inv.platforms)})"
    refused = refusal(builder.driver, containerd, len(inv.platforms), inv.load)
    store = "containerd image store" if containerd else "classic image store"
    data = {"build": inv.label, "where": inv.where, "platforms": list(inv.platforms), "builder": builder.name,
            "driver": builder.driver, "image_store": store, "load": inv.load}
    if refused:
        words = refused.replace("\n", " ")
        older = [f"buildx 0.11 and older say: {OLD_DOCKER_DRIVER_REFUSAL}"] if refused == DOCKER_DRIVER_REFUSAL else []
        return Result.fail(f"{where}{what} through builder {builder.name} ({builder.driver} driver, {store}): "
                           f"buildx refuses it: \"{words}\"", details=details + older, data=data | {"error": refused},
                           remediation=_remedy(refused, inv))
    return Result.ok(f"{where}{what}: builder {builder.name} ({builder.driver or 'unknown'} driver, {store})"
                     + (", loaded into the image store" if inv.load else ""), details=details, data=data)


def _podman_path(inv: Invocation, binary: str | None) -> Result:
    """Podman and Buildah build the platforms one after the other; only `--manifest` keeps them all."""
    where = f"{inv.where}: " if inv.where else ""
    data = {"build": inv.label, "engine": inv.engine, "platforms": list(inv.platforms), "manifest": inv.manifest}
    if binary is None:
        return Result.fail(f"{where}{inv.label} builds with {inv.engine}, which is not installed", data=data,
                           remediation=f"Install {inv.engine} (`apt-get install {inv.engine}`).")
    if len(inv.platforms) > 1 and inv.manifest is None:
        # Seen with Podman 4.3: both platforms build, then the tag names only the last one built.
        return Result.warn(f"{where}{inv.label} builds {', '.join(inv.platforms)} with {inv.engine} without "
                           f"--manifest: the tag keeps only the last platform built ({inv.platforms[-1]})",
                           data=data, remediation=f"Add `--manifest NAME` so {inv.engine} collects every platform "
                                                  f"in one manifest list, then push that list.")
    return Result.ok(f"{where}{inv.label} builds {', '.join(inv.platforms)} with {inv.engine}, one platform after "
                     f"the other" + (f" into manifest list {inv.manifest}" if inv.manifest else "")
                     + " (its handlers: see binfmt-handlers)", data=data)


def _routing(builder: Builder, targets: list[str], host, details: list[str]) -> list[Result]:
    """A WARN per target buildx would emulate on one node while another node of the builder runs it natively."""
    out = []
    routes = route(builder, targets)
    for name, index in routes.items():
        if index is None or len(builder.nodes) < 2:
            continue
        target = parse_platform(name)
        chosen = builder.nodes[index]
        if node_how(chosen, target, host) != "emulated":
            continue
        native = [n.name for n in builder.nodes if name in platform_names(n) and node_how(n, target, host) == "native"]
        if native:
            out.append(Result.warn(
                f"buildx sends {name} to node {chosen.name} of {builder.name}, which emulates it, although node "
                f"{native[0]} runs it natively", target=name, details=details,
                data={"builder": builder.name, "node": chosen.name, "native_node": native[0]},
                remediation=f"Make {native[0]}'s platform a configured one so buildx prefers it: `docker buildx "
                            f"create --append --name {builder.name} --node {native[0]} --platform {name} <endpoint>`; "
                            f"buildx takes configured (`*`) platforms first when they cover every target."))
    return out


@check(name="build-path", title="Build path", category="docker", requires=("buildx",))
def build_path(ctx: Context) -> list[Result]:
    """What it checks: each build this run stands for — the project's own bake targets and compose
    services (and CI builds when run inside that CI), or one `docker buildx build --platform` of every
    target when the targets came from --platform, MAB_PLATFORMS or the defaults — against the current
    buildx builder: its driver, the daemon's image store, whether the build loads its result into the
    image store, and which node buildx sends each target to.

    Why it matters: buildx refuses, before building anything, a multi-platform build through the
    `docker` driver with the classic image store ("Multi-platform build is not supported for the
    docker driver"), and a multi-platform `--load` (`docker compose build` loads too) into a
    classic image store ("docker exporter does not currently support exporting manifest lists").
    A multi-node builder sends a target to the first node listing it, even an emulating one.

    How to fix: create a docker-container builder (`docker buildx create --use --driver
    docker-container`), or turn on the containerd image store (Docker 24+), or build one platform
    per invocation; push or export OCI instead of loading several platforms; mark a native node's
    platform as configured (`docker buildx create --append --platform ...`).
    """
    facts = docker_facts(ctx)
    if not facts.up or not facts.binary:
        return [Result.skip(f"{facts.problem}: no builder to judge", remediation=f"{facts.remedy} Then run again.")]
    if not has_plugin(ctx):
        return [Result.skip("no docker-buildx plugin: no builder to judge (see buildx)",
                            remediation="Install the buildx plugin (see buildx).")]
    builders, notes, problem = list_builders(ctx, facts.binary)
    current = current_builder(builders)
    if current is None:
        return [Result.skip(f"no current buildx builder{': ' + problem if problem else ''} (see buildx-builder)",
                            remediation="Select a builder with `docker buildx use NAME`.")]
    targets = [str(t) for t in ctx.targets]
    runs = invocations(ctx.project, targets, ctx.target_sources, ctx.env)
    details = [f"current builder {current.name}, driver {current.driver or 'unknown'}, daemon's {facts.image_store}"]
    results = []
    for inv in runs:
        if inv.engine != "buildx":
            results.append(_podman_path(inv, ctx.which(inv.engine)))
            continue
        named = next((b for b in builders if b.name == inv.builder), None) if inv.builder else None
        if inv.builder and named is None:
            results.append(Result.warn(f"{inv.where}: {inv.label} names builder {inv.builder}, which "
                                       f"`docker buildx ls` does not list", details=details,
                                       remediation=f"Create it (`docker buildx create --name {inv.builder} ...`) or "
                                                   f"remove the builder setting."))
            continue
        results.append(_judge(inv, named or current, facts.containerd_store, details))
    results += _routing(current, targets, host_facts(ctx).platform, details)
    return results or [Result.skip("no targets to build")]
