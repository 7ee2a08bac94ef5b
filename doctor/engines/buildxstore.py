"""buildx's own folder, read as buildx reads it: the current builder, and the platforms each node was created with."""

from __future__ import annotations

import json
import re
from dataclasses import field
from typing import TYPE_CHECKING, Any

from mab_doctor.core.record import record
from mab_doctor.engines.buildkit import format_platform
from mab_doctor.engines.docker import DEFAULT_SOCKET, config_dir, context_name

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

# buildx refuses other builder names; it stores a builder under its name in lower case.
NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9.\-_]*")  # whole name (fullmatch: Go's $ is not Python's)
DEFAULT_HOST = f"unix://{DEFAULT_SOCKET}"
LIMIT = 1 << 20  # an instance file holds a few node descriptions, never megabytes


class StoreUnreadable(Exception):
    """A file buildx needs is there but cannot be used: buildx itself would fail on it."""


@record
class BuildxStore:
    """The current builder's name and, per builder and node, the platforms given at `buildx create`."""

    current: str
    configured: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)


def store_dir(ctx: "Context") -> str:
    """$BUILDX_CONFIG, else buildx/ beside the CLI's config.json."""
    return (ctx.env.get("BUILDX_CONFIG") or f"{config_dir(ctx)}/buildx").rstrip("/") or "/"


def _json(ctx: "Context", path: str, seen: dict[str, Any]) -> Any:
    """The file's JSON, None when it does not exist; StoreUnreadable when buildx would choke on it.
    ``seen``: the files this reading of the store has parsed already (the current builder's is asked twice).

    Not docker.read_json: that reads an empty file as {} (Go's decoder, and so buildx, refuses one) and
    turns every non-object into an error; here the caller decides what a non-object means."""
    if path in seen:
        return seen[path]
    if ctx.lookup(path).kind == "missing":
        data = None
    else:
        text = ctx.read_text(path, LIMIT)
        if text is None:
            raise StoreUnreadable(f"{path} cannot be read")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise StoreUnreadable(f"{path} is not JSON") from None
    seen[path] = data
    return data


def _instance(ctx: "Context", root: str, name: Any, seen: dict[str, Any]) -> dict | None:
    """The saved builder called ``name``, or None when there is none (as buildx: names are validated, lower-cased)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        return None
    saved = _json(ctx, f"{root}/instances/{name.lower()}", seen)
    if saved is not None and not isinstance(saved, dict):
        raise StoreUnreadable(f"{root}/instances/{name.lower()} is not a builder")
    return saved


def _endpoint_key(ctx: "Context", context: str) -> str:
    # buildx keys its current-builder memory by the context's name, or for the default context by its
    # docker endpoint (so DOCKER_HOST=... and the default socket remember different builders).
    if context != "default":
        return context
    return ctx.env.get("DOCKER_HOST", "").strip() or DEFAULT_HOST


def _current(ctx: "Context", root: str, context: str, seen: dict[str, Any]) -> dict | None:
    """The saved builder buildx treats as current (its store's Current()), None for the context's own."""
    key = _endpoint_key(ctx, context)
    chosen = _json(ctx, f"{root}/current", seen)
    if isinstance(chosen, dict) and isinstance(chosen.get("Name"), str) and chosen["Name"]:
        if chosen.get("Global") is True and (saved := _instance(ctx, root, chosen["Name"], seen)) is not None:
            return saved
        if chosen.get("Key") == key:
            return _instance(ctx, root, chosen["Name"], seen)
    remembered, unread = ctx.try_listdir(f"{root}/defaults")
    if not remembered and (unread is None or ctx.lookup(f"{root}/defaults").kind == "missing"):
        return None  # nothing remembered (and no hashlib to load)
    import hashlib  # only here: loading OpenSSL's hashes costs a run 3 ms

    # The environment's own bytes, as Go hashes them (an odd byte in DOCKER_HOST is no reason to fail).
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    default = f"{root}/defaults/{digest}"
    if ctx.lookup(default).kind == "missing":
        return None
    name = ctx.read_text(default, 4096)
    if name is None:
        raise StoreUnreadable(f"{default} cannot be read")
    return _instance(ctx, root, name, seen)


def _platform(value: Any) -> str | None:
    # Newer buildx saves OCI platform objects, older ones plain strings.
    if isinstance(value, str):
        return value.strip() or None
    if not isinstance(value, dict):
        return None
    words = [value.get(k) if isinstance(value.get(k), str) else "" for k in ("os", "architecture", "variant")]
    return format_platform(*words)


def _configured(saved: dict) -> dict[str, tuple[str, ...]]:
    nodes = saved.get("Nodes") if isinstance(saved.get("Nodes"), list) else []
    found = {}
    for node in nodes:
        if isinstance(node, dict) and isinstance(node.get("Name"), str):
            listed = node.get("Platforms") if isinstance(node.get("Platforms"), list) else []
            found[node["Name"]] = tuple(p for p in map(_platform, listed) if p)
    return found


def read_store(ctx: "Context", builders: list[str]) -> BuildxStore:
    """The current builder as `buildx ls` marks it (buildx's own rule) and the created-with platforms of
    ``builders``; StoreUnreadable when a file buildx needs cannot be used."""
    root, context, seen = store_dir(ctx), context_name(ctx), {}
    # No saved builder chosen: the builder named after the current docker context (normally `default`).
    chosen = _current(ctx, root, context, seen) or _instance(ctx, root, context, seen)
    current = chosen.get("Name") if chosen is not None and isinstance(chosen.get("Name"), str) else context
    configured = {}
    for name in builders:
        saved = _instance(ctx, root, name, seen)
        if saved is not None:
            configured[name] = _configured(saved)
    return BuildxStore(current, configured)
