"""buildx's own folder, read as buildx reads it: the current builder, and the platforms each node was created with."""

from __future__ import annotations

import json
import re
from dataclasses import field
from typing import TYPE_CHECKING, Any

from mab_doctor.core.record import record
from mab_doctor.engines.docker import config_dir, context_name

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

# buildx refuses other builder names; it stores a builder under its name in lower case.
NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9.\-_]*")  # whole name (fullmatch: Go's $ is not Python's)
DEFAULT_HOST = "unix:///var/run/docker.sock"
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


def _json(ctx: "Context", path: str) -> Any:
    """The file's JSON, None when it does not exist; StoreUnreadable when buildx would choke on it."""
    if ctx.lookup(path).kind == "missing":
        return None
    text = ctx.read_text(path, LIMIT)
    if text is None:
        raise StoreUnreadable(f"{path} cannot be read")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise StoreUnreadable(f"{path} is not JSON") from None


def _instance(ctx: "Context", root: str, name: Any) -> dict | None:
    """The saved builder called ``name``, or None when there is none (as buildx: names are validated, lower-cased)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        return None
    saved = _json(ctx, f"{root}/instances/{name.lower()}")
    if saved is not None and not isinstance(saved, dict):
        raise StoreUnreadable(f"{root}/instances/{name.lower()} is not a builder")
    return saved


def _endpoint_key(ctx: "Context", context: str) -> str:
    # buildx keys its current-builder memory by the context's name, or for the default context by its
    # docker endpoint (so DOCKER_HOST=... and the default socket remember different builders).
    if context != "default":
        return context
    return ctx.env.get("DOCKER_HOST", "").strip() or DEFAULT_HOST


def _current(ctx: "Context", root: str, context: str) -> dict | None:
    """The saved builder buildx treats as current (its store's Current()), None for the context's own."""
    key = _endpoint_key(ctx, context)
    chosen = _json(ctx, f"{root}/current")
    if isinstance(chosen, dict) and isinstance(chosen.get("Name"), str) and chosen["Name"]:
        if chosen.get("Global") is True and (saved := _instance(ctx, root, chosen["Name"])) is not None:
            return saved
        if chosen.get("Key") == key:
            return _instance(ctx, root, chosen["Name"])
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
    return _instance(ctx, root, name)


def _platform(value: Any) -> str | None:
    # Newer buildx saves OCI platform objects, older ones plain strings.
    if isinstance(value, str):
        return value.strip() or None
    if not isinstance(value, dict):
        return None
    words = [value.get(k) if isinstance(value.get(k), str) else "" for k in ("os", "architecture", "variant")]
    # containerd's Format: "unknown" without an OS, else the non-empty parts joined.
    return "/".join(w for w in words if w) if words[0] else "unknown"


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
    root = store_dir(ctx)
    context = context_name(ctx)
    # No saved builder chosen: the builder named after the current docker context (normally `default`).
    chosen = _current(ctx, root, context) or _instance(ctx, root, context)
    current = chosen.get("Name") if chosen is not None and isinstance(chosen.get("Name"), str) else context
    configured = {}
    for name in builders:
        saved = _instance(ctx, root, name)
        if saved is not None:
            configured[name] = _configured(saved)
    return BuildxStore(current, configured)
