"""Check the current buildx builder: which node builds each target (native or emulated), and its driver."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.builders import current_builder, list_builders, native_platform, node_how, route
from mab_doctor.engines.buildx import Builder, has_plugin
from mab_doctor.engines.docker import docker_facts
from mab_doctor.host.hostinfo import host_facts
from mab_doctor.host.platforms import Target

MISSING = ("Register QEMU handlers (`sudo mab-doctor --fix`), then use a builder created after that: "
           "`docker buildx create --use --driver docker-container --bootstrap`{again}; or add a node native to {t} "
           "with `docker buildx create --append --name <builder> <endpoint>` (docker-container builders).")
AGAIN = " (a builder keeps the platform list it saw at boot: `docker buildx rm {b}` and create it again; " \
        "`docker buildx inspect {b} --bootstrap` boots a stopped one)"


@check(name="buildx-builder", title="buildx builder", category="docker", per_target=True, requires=("buildx",))
def buildx_builder(ctx: Context) -> list[Result]:
    """What it checks: the builders `docker buildx ls` lists (when only the default docker-driver builder
    can exist, its node read from the daemon's BuildKit as buildx asks it, without starting buildx; else
    `buildx ls`, JSON on v0.13+, else the table; the current builder and each node's created-with
    platforms read from buildx's own folder as buildx reads them): the current builder, its driver and nodes, and for every target which node lists it and whether that node
    runs it natively or through QEMU, on the node buildx itself picks (the first node whose configured
    `*` platforms hold every target, else the first node listing each). Whether the builder can build
    the targets in one invocation is build-path's question.

    Why it matters: a target that no node of the current builder lists fails at build time with
    "no match for platform"; a builder created before QEMU was registered keeps its old list.

    How to fix: register QEMU handlers (`sudo mab-doctor --fix`) and re-create or bootstrap the
    builder; use `docker buildx create --use --driver docker-container` for multi-platform output, or
    add a native node with `docker buildx create --append`.
    """
    facts = docker_facts(ctx)
    if not facts.up or not facts.binary:
        return [Result.skip(f"{facts.problem}: builders cannot be listed",
                            details=[facts.message] if facts.message else [],
                            remediation=f"{facts.remedy} Then run this check again.")]
    if not has_plugin(ctx):  # buildx WARNs (Podman builds instead) but has none
        return [Result.skip("no docker-buildx plugin: no builder to check (see buildx)",
                            remediation="Install the buildx plugin (see buildx).")]
    builders, notes, problem = list_builders(ctx, facts.binary)
    details = list(notes)  # the listing is shared with build-path: never grow it in place
    current = current_builder(builders)
    if current is None:
        return [Result.fail(f"`docker buildx ls` gave no current builder{': ' + problem if problem else ''}",
                            details=details, remediation="Run `docker buildx ls`; select a builder with "
                                                         "`docker buildx use NAME`.")]
    host = host_facts(ctx).platform
    details.append(f"current builder {current.name} (driver {current.driver or 'unknown'})"
                   + (f": error {current.error}" if current.error else ""))
    details += [f"node {n.name} ({n.endpoint}, {n.status or 'status unknown'}): {', '.join(n.platforms) or '-'}"
                for n in current.nodes]
    natives = list(dict.fromkeys(p.oci for p in (native_platform(n, host) for n in current.nodes) if p))
    if len(natives) > 1:
        details.append(f"multi-node builder: {len(current.nodes)} nodes, native platforms {', '.join(natives)}")
    routes = route(current, [str(t) for t in ctx.targets])
    return [_one(current, target, routes[str(target)], host, details) for target in ctx.targets]


def _one(current: Builder, target: Target, index: int | None, host, details: list[str]) -> Result:
    name = str(target)
    data = {"builder": current.name, "driver": current.driver, "node": None, "how": None}
    if index is None:
        idle = ", ".join(n.name for n in current.nodes if n.status and n.status != "running")
        extra = [f"nodes not running (they list only configured platforms until booted): {idle}"] if idle else []
        again = "" if current.driver == "docker" else AGAIN.format(b=current.name)
        return Result.fail(f"no node of builder {current.name} lists {name}", target=name, details=details + extra,
                           data=data, remediation=MISSING.format(t=name, again=again))
    node = current.nodes[index]
    how = node_how(node, target, host)
    data.update(node=node.name, how=how)
    return Result.ok(f"node {node.name} of {current.name} ({how})", target=name, details=details, data=data)
