"""buildx builders: listed once per run, the node buildx sends each platform to, and what a driver refuses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mab_doctor.core.facts import Fact
from mab_doctor.engines.buildkit import ask_daemon, platform_list
from mab_doctor.engines.buildx import Builder, Node, parse_ls_json, parse_ls_table, platform_names, plugin_candidates
from mab_doctor.engines.buildxstore import BuildxStore, StoreUnreadable, read_store, store_dir
from mab_doctor.engines.docker import PLUGIN_PARENT, api_socket, config_dir
from mab_doctor.host.hostinfo import host_facts, is_native
from mab_doctor.host.platforms import PlatformError, Target, parse_platform, runs_natively

if TYPE_CHECKING:
    from mab_doctor.core.context import CommandResult, Context

# buildx v0.12+ (the words users paste into issues); v0.11 and older said the second.
DOCKER_DRIVER_REFUSAL = ("Multi-platform build is not supported for the docker driver.\n"
                         "Switch to a different driver, or turn on the containerd image store, and try again.")
OLD_DOCKER_DRIVER_REFUSAL = ("multiple platforms feature is currently not supported for docker driver. "
                             "Please switch to a different driver (eg. \"docker buildx create --use\")")
# The docker exporter (`--load`, `type=docker`) of a classic-store daemon takes one image, not an index.
LOAD_REFUSAL = "docker exporter does not currently support exporting manifest lists"


def _ls(ctx: "Context", docker: str, *args: str) -> "CommandResult":
    """`docker buildx ls ARGS` as the CLI runs it: the plugin the CLI picks, as `<plugin> buildx ls ARGS` with
    the CLI's path in DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND. Asked through the CLI, every call would first
    make the CLI start the plugin for its metadata (more than the listing itself costs); the buildx check
    makes that round trip, once."""
    found = plugin_candidates(ctx)
    if not found:
        return ctx.run(docker, "buildx", "ls", *args)
    return ctx.run(found[0][1], "buildx", "ls", *args, env={**ctx.env, PLUGIN_PARENT: docker})


def _empty(ctx: "Context", folder: str) -> bool:
    # Missing is empty (buildx and the CLI create these folders); an unreadable one is not known to be.
    if ctx.lookup(folder).kind == "missing":
        return True
    names, why = ctx.try_listdir(folder)
    return why is None and not names


def _from_daemon(ctx: "Context") -> tuple[list[Builder], list[str], str | None] | None:
    """The builders `buildx ls` would list, without running it, when they can only be the daemon's own:
    no created builder, no docker context but the default one, a daemon on a unix socket. buildx then
    lists one docker-driver builder, `default`, whose node's platforms are the daemon's BuildKit workers';
    asking those directly spares a Go process start. None: not that case, or an answer left a doubt."""
    # A socket only for DOCKER_HOST or the default context: both mean the default context.
    sock = api_socket(ctx)
    if (sock is None or not _empty(ctx, f"{store_dir(ctx)}/instances")
            or not _empty(ctx, f"{config_dir(ctx)}/contexts/meta")):
        return None
    daemon = ask_daemon(ctx, sock)
    if daemon.hung:  # one timeout per run: `buildx ls` would wait on the same daemon
        return [], [], f"{daemon.error} (the default builder's node does not answer)"
    if daemon.error is not None:
        return None
    try:
        store = read_store(ctx, ["default"])
    except StoreUnreadable:  # `buildx ls` decides what such a folder means
        return None
    node = Node("default", "default", "running", daemon.version, platform_list(list(daemon.workers)))
    builders = [Builder("default", "docker", nodes=[node])]
    _marks_from_store(builders, store)
    return builders, ["read the daemon's BuildKit workers (as `docker buildx ls` asks them) and buildx's own "
                      "folder: only the default docker-driver builder exists"], None


def _list(ctx: "Context", docker: str) -> tuple[list[Builder], list[str], str | None]:
    notes: list[str] = []
    if plugin_candidates(ctx) and (fast := _from_daemon(ctx)) is not None:
        return fast
    js = _ls(ctx, docker, "--format", "json")
    if js.timed_out:  # an unreachable node
        return [], notes, (f"`{docker} buildx ls --format json`: timed out after {js.timeout:g}s "
                           f"(a builder node does not answer)")
    builders: list[Builder] | None = None
    if js.ok:
        try:
            builders = parse_ls_json(js.stdout)
        except ValueError as exc:
            notes.append(f"`docker buildx ls --format json` not understood ({exc}); using the table")
    else:
        notes.append("`docker buildx ls --format json` is not supported by this buildx (before v0.13); using the table")
    store = None
    if builders is not None:
        try:
            store = read_store(ctx, [b.name for b in builders])
        except StoreUnreadable as exc:  # buildx's folder says nothing reliable: ask for the table
            notes.append(f"{exc}; the current builder is read from the `docker buildx ls` table")
    if store is None:  # no JSON, or no folder to read its marks from
        table, from_table = _table(ctx, docker, notes)
        if builders is None:
            return from_table, notes, None if from_table else table.last_line
        _marks_from_table(builders, from_table)
    else:
        _marks_from_store(builders, store)
    read = "read `docker buildx ls --format json`" + (" and buildx's own folder" if store is not None else "")
    return builders, notes + [read], None


def _table(ctx: "Context", docker: str, notes: list[str]) -> tuple["CommandResult", list[Builder]]:
    table = _ls(ctx, docker)
    if table.ok:
        try:
            return table, parse_ls_table(table.stdout)
        except ValueError as exc:
            notes.append(f"`docker buildx ls` table not understood: {exc}")
    return table, []


def _mark(node: Node, configured: set[str]) -> None:
    # `*` marks the platforms given at `buildx create --platform`: buildx tries those first.
    node.platforms = [p + "*" if p.strip() in configured and not p.endswith("*") else p for p in node.platforms]


def _marks_from_store(builders: list[Builder], store: BuildxStore) -> None:
    # JSON (v0.13+) marks neither the current builder nor the platforms configured with `--platform`
    # at `buildx create`; buildx's folder holds both, and both decide where a build goes.
    for builder in builders:
        builder.current = builder.current or builder.name == store.current
        for node in builder.nodes:
            _mark(node, set(store.configured.get(builder.name, {}).get(node.name, ())))


def _marks_from_table(builders: list[Builder], table: list[Builder]) -> None:
    # The same two marks from the table, which prints them (`name*`, `linux/arm64*`).
    by_name = {b.name: b for b in table}
    for builder in builders:
        seen = by_name.get(builder.name)
        if seen is None:
            continue
        builder.current = builder.current or seen.current
        starred = {n.name: set(_configured(n)) for n in seen.nodes}
        for node in builder.nodes:
            _mark(node, starred.get(node.name, set()))


BUILDERS: Fact[tuple[list[Builder], list[str], str | None]] = Fact("buildx builders", _list)


def list_builders(ctx: "Context", docker: str) -> tuple[list[Builder], list[str], str | None]:
    """(builders, notes, problem): when only the default docker-driver builder can exist, read from the
    daemon's BuildKit (what `buildx ls` would ask it); else `buildx ls --format json` when supported
    (v0.13+), the table for the current-builder mark (JSON has none) or for everything on older buildx.
    Once per run."""
    return ctx.fact(BUILDERS, docker)


def current_builder(builders: list[Builder]) -> Builder | None:
    """The builder a plain `docker buildx build` uses: the one marked current, else `default`."""
    return next((b for b in builders if b.current), None) or next((b for b in builders if b.name == "default"), None)


def _configured(node: Node) -> list[str]:
    return [p.strip().rstrip("*").strip() for p in node.platforms if p.strip().endswith("*")]


def route(builder: Builder, targets: list[str]) -> dict[str, int | None]:
    """Which node (index) buildx builds each target on, as its node resolver does: when every target is
    among some node's configured (`*`) platforms, the first such node for each; otherwise, for each
    target, the first node listing it at all, in the builder's order. None: no node lists it."""
    nodes = builder.nodes
    strict = {t: next((i for i, n in enumerate(nodes) if t in _configured(n)), None) for t in targets}
    if targets and all(i is not None for i in strict.values()):
        return strict
    return {t: next((i for i, n in enumerate(nodes) if t in platform_names(n)), None) for t in targets}


def native_platform(node: Node, host):
    """The node's own platform: the first it lists (configured `*` ones come first, then the worker's,
    native first); ``host`` when it lists none this vocabulary knows."""
    for name in platform_names(node):
        try:
            return parse_platform(name).platform
        except PlatformError:
            continue  # darwin/windows nodes, or a spelling this vocabulary lacks
    return host


def node_how(node: Node, target: Target, host) -> str:
    """"native" or "emulated": the node's own platform decides, not this host's (a node may be remote)."""
    native = native_platform(node, host)
    return "native" if native is not None and runs_natively(native, target) else "emulated"


def refusal(driver: str, containerd_store: bool, platforms: int, load: bool) -> str | None:
    """buildx's own error for one invocation of ``platforms`` platforms through ``driver``, or None.
    Only the daemon's containerd image store holds an image index; the classic store holds one image."""
    if platforms < 2 or containerd_store:
        return None
    if driver == "docker":
        return DOCKER_DRIVER_REFUSAL
    if load:
        return LOAD_REFUSAL
    return None


def where_built(ctx: "Context", engine: str, builder: str | None, platforms: tuple[str, ...],
                binary: str) -> tuple[dict[str, str], list[str], Builder | None]:
    """Where a build of ``platforms`` through ``engine`` runs: (platform -> native|emulated, words naming
    the builder, driver and node of each, the buildx builder when known)."""
    host = host_facts(ctx).platform
    if engine != "buildx":
        how = {p: "native" if is_native(ctx, parse_platform(p)) else "emulated" for p in platforms}
        return how, [f"engine {engine} (its own builder, on this machine's kernel)"], None
    builders, _, _ = list_builders(ctx, binary)
    chosen = next((b for b in builders if b.name == builder), None) or current_builder(builders)
    if chosen is None:
        return {p: "emulated" for p in platforms}, ["the current buildx builder"], None
    nodes = route(chosen, list(platforms))
    how, words = {}, []
    for p in platforms:
        node = chosen.nodes[nodes[p]] if nodes.get(p) is not None else None
        how[p] = node_how(node, parse_platform(p), host) if node else "emulated"
        words.append(f"{p}: builder {chosen.name} ({chosen.driver or 'unknown'} driver), node "
                     f"{node.name if node else 'unknown'}, {how[p]}")
    return how, words, chosen
