"""Check the current buildx builder: which node builds each target (native or emulated), and its driver."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.buildx import (Builder, Node, find_candidates, parse_ls_json, parse_ls_table, platform_names,
                           plugin_dirs)
from mab_doctor.engines.docker import docker_facts
from mab_doctor.host.hostinfo import host_facts
from mab_doctor.host.matrix import requirement
from mab_doctor.host.platforms import PlatformError, Target, parse_platform, runs_natively

MISSING = ("Register QEMU handlers (`sudo mab-doctor --fix`), then use a builder created after that: "
           "`docker buildx create --use --driver docker-container --bootstrap`{again}; or add a node native to {t} "
           "with `docker buildx create --append --name <builder> <endpoint>` (docker-container builders).")
AGAIN = " (a builder keeps the platform list it saw at boot: `docker buildx rm {b}` and create it again; " \
        "`docker buildx inspect {b} --bootstrap` boots a stopped one)"


def list_builders(ctx: Context, docker: str) -> tuple[list[Builder], list[str], str | None]:
    """(builders, notes, problem): `buildx ls --format json` when supported (v0.13+), the table for the
    current-builder mark (JSON has none) or for everything on older buildx."""
    notes: list[str] = []
    js = ctx.run(docker, "buildx", "ls", "--format", "json")
    if js.timed_out:  # an unreachable node: a second `ls` would only wait as long again
        return [], notes, f"{js.describe()} (a builder node does not answer)"
    table = ctx.run(docker, "buildx", "ls")
    from_table: list[Builder] = []
    if table.ok:
        try:
            from_table = parse_ls_table(table.stdout)
        except ValueError as exc:
            notes.append(f"`docker buildx ls` table not understood: {exc}")
    if js.ok:
        try:
            builders = parse_ls_json(js.stdout)
        except ValueError as exc:
            notes.append(f"`docker buildx ls --format json` not understood ({exc}); using the table")
        else:
            marked = {b.name for b in from_table if b.current}
            for b in builders:
                b.current = b.current or b.name in marked
            return builders, notes + ["read `docker buildx ls --format json`"], None
    else:
        notes.append("`docker buildx ls --format json` is not supported by this buildx (before v0.13); using the table")
    if from_table:
        return from_table, notes, None
    return [], notes, table.last_line


def _targets(node: Node) -> list[Target]:
    out = []
    for name in platform_names(node):
        try:
            out.append(parse_platform(name))
        except PlatformError:
            continue  # darwin/windows nodes, or a spelling this vocabulary lacks
    return out


def _native(node: Node, host):
    listed = _targets(node)  # configured (`*`) platforms come first, then the worker's, native first
    return listed[0].platform if listed else host


@check(name="buildx-builder", title="buildx builder", category="docker", per_target=True, requires=("buildx",))
def buildx_builder(ctx: Context) -> list[Result]:
    """What it checks: `docker buildx ls` (JSON on buildx v0.13+, else the table): the current
    builder, its driver and nodes, and for every target which node lists it and whether that node
    runs it natively or through QEMU. Multi-node builders are counted. With the `docker` driver and
    the classic image store, a multi-platform build cannot be exported, which is reported.

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
    if not find_candidates(ctx, plugin_dirs(ctx)[0])[0]:  # buildx WARNs (Podman builds instead) but has none
        return [Result.skip("no docker-buildx plugin: no builder to check (see buildx)",
                            remediation="Install the buildx plugin (see buildx).")]
    builders, details, problem = list_builders(ctx, facts.binary)
    current = next((b for b in builders if b.current), None) or next((b for b in builders if b.name == "default"), None)
    if current is None:
        return [Result.fail(f"`docker buildx ls` gave no current builder{': ' + problem if problem else ''}",
                            details=details, remediation="Run `docker buildx ls`; select a builder with "
                                                         "`docker buildx use NAME`.")]
    host = host_facts(ctx).platform
    details.append(f"current builder {current.name} (driver {current.driver or 'unknown'})"
                   + (f": error {current.error}" if current.error else ""))
    details += [f"node {n.name} ({n.endpoint}, {n.status or 'status unknown'}): {', '.join(n.platforms) or '-'}"
                for n in current.nodes]
    natives = list(dict.fromkeys(p.oci for p in (_native(n, host) for n in current.nodes) if p))
    if len(natives) > 1:
        details.append(f"multi-node builder: {len(current.nodes)} nodes, native platforms {', '.join(natives)}")
    results = [_one(current, target, host, details) for target in ctx.targets]
    if current.driver == "docker" and len(ctx.targets) > 1 and not facts.containerd_store:
        results.append(Result.warn(
            f"builder {current.name} uses the docker driver with the classic image store: it cannot export a "
            f"multi-platform image ({', '.join(map(str, ctx.targets))})", details=details,
            data={"builder": current.name, "driver": current.driver},
            remediation=requirement("buildx-multiplatform-driver").remediation))
    return results


def _one(current: Builder, target: Target, host, details: list[str]) -> Result:
    name = str(target)
    hits = []
    for order, node in enumerate(current.nodes):
        if any(str(t) == name for t in _targets(node)):
            # The node's own platform decides, not this host's (hostinfo.is_native): a node may be remote.
            native = _native(node, host)
            how = "native" if native is not None and runs_natively(native, target) else "emulated"
            starred = any(p.rstrip().endswith("*") and p.rstrip("* ") == name for p in node.platforms)
            hits.append((how != "native", not starred, order, node, how))
    data = {"builder": current.name, "driver": current.driver, "node": None, "how": None}
    if not hits:
        idle = ", ".join(n.name for n in current.nodes if n.status and n.status != "running")
        extra = [f"nodes not running (they list only configured platforms until booted): {idle}"] if idle else []
        again = "" if current.driver == "docker" else AGAIN.format(b=current.name)
        return Result.fail(f"no node of builder {current.name} lists {name}", target=name, details=details + extra,
                           data=data, remediation=MISSING.format(t=name, again=again))
    *_, node, how = min(hits, key=lambda h: h[:3])
    data.update(node=node.name, how=how)
    return Result.ok(f"node {node.name} of {current.name} ({how})", target=name, details=details, data=data)
