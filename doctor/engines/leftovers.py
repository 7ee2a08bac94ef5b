"""What a probe build leaves behind (build cache records, images) and its removal, touching nothing else."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import TYPE_CHECKING

from mab_doctor.core.record import record

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

_DU_ID = re.compile(r"^ID:\s+(\S+)\s*$", re.MULTILINE)
_PRUNED_ID = re.compile(r"^([a-z0-9]{25})\*?\s", re.MULTILINE)  # the rows `buildx prune` prints
_IMAGE_ID = re.compile(r"^[0-9a-f]{12,64}$")
PASSES = 8  # a record is removed only once nothing refers to it: one pass per level, in the worst case


@record
class Store:
    """Where a probe build leaves things: a builder's build cache, or Podman's/Buildah's images. Listed
    and cleaned through the daemon's API when ``socket`` names it (the docker driver's cache is the
    daemon's own), else through the commands."""

    kind: str                          # "cache" or "images"
    list_argv: tuple[str, ...]         # `docker buildx du --verbose`, `podman images -a -q --no-trunc`
    remove_argv: tuple[str, ...]       # `docker buildx prune --force`, `podman rmi --force`
    socket: str | None = None          # the Docker daemon's unix socket, for its own build cache

    def ids(self, ctx: "Context") -> tuple[frozenset[str], str | None]:
        """(what is there now, None) or (empty, why it could not be listed)."""
        if self.socket:
            answer = ctx.request(self.socket, "GET", "/system/df?type=build-cache")
            body = answer.json() if answer.ok else None
            records = body.get("BuildCache") if isinstance(body, dict) else None
            if isinstance(records, list):
                return frozenset(str(r.get("ID")) for r in records if isinstance(r, dict) and r.get("ID")), None
            if not answer.ok:
                return frozenset(), answer.describe()
            return frozenset(), f"{answer.describe()}: no build cache listing in the answer"
        res = ctx.run(*self.list_argv)
        if not res.ok:
            return frozenset(), res.explain()
        if self.kind == "cache":
            return frozenset(_DU_ID.findall(res.stdout)), None
        found = (line.strip().removeprefix("sha256:") for line in res.stdout.splitlines())
        return frozenset(i for i in found if _IMAGE_ID.match(i)), None

    def remove(self, ctx: "Context", ids: set[str]) -> tuple[set[str], str | None]:
        """One removal pass: (what went, the problem when the command or request failed)."""
        if self.kind == "images":
            res = ctx.run(*self.remove_argv, *sorted(ids))
            return (set(ids) if res.ok else set()), None if res.ok else res.explain()
        # The daemon matches an ID filter as a regular expression: one request or command names them all.
        pattern = f"^({'|'.join(re.escape(i) for i in sorted(ids))})$"
        if self.socket:
            filters = urllib.parse.quote(json.dumps({"id": {pattern: True}}))
            answer = ctx.request(self.socket, "POST", f"/build/prune?filters={filters}")
            body = answer.json() if answer.ok else None
            gone = body.get("CachesDeleted") if isinstance(body, dict) else None
            return set(gone if isinstance(gone, list) else ()) & ids, None if answer.ok else answer.describe()
        res = ctx.run(*self.remove_argv, "--filter", f"id={pattern}")
        return set(_PRUNED_ID.findall(res.stdout + "\n" + res.stderr)) & ids, None if res.ok else res.explain()


@record
class Snapshot:
    """What existed before the probe: it is never removed."""

    kind: str
    ids: frozenset[str]
    problem: str | None = None      # why it could not be listed: nothing is then removed afterwards


def snapshot(ctx: "Context", store: Store) -> Snapshot:
    """What ``store`` holds now."""
    ids, problem = store.ids(ctx)
    return Snapshot(store.kind, ids, problem)


def remove_new(ctx: "Context", store: Store, before: Snapshot) -> tuple[int, list[str]]:
    """Remove what ``store`` holds now and ``before`` did not: (how many were removed, problems).

    A build cache record goes only once no other refers to it, hence a few passes. Another build
    running at the same moment could add records between the two listings: they are only cache."""
    if before.problem:
        return 0, [f"not cleaned up: the {before.kind} could not be listed before the build ({before.problem})"]
    now, problem = store.ids(ctx)
    if problem:
        return 0, [f"not cleaned up: {problem}"]
    left = set(now - before.ids)
    total = len(left)
    for _ in range(PASSES if store.kind == "cache" else 1):
        if not left:
            break
        gone, problem = store.remove(ctx, left)
        left -= gone
        if problem or not gone:
            break
    if left:  # the answer may not have listed everything it removed: ask what is really still there
        still, unknown = store.ids(ctx)
        left = left if unknown else left & still
    what = "build cache record(s)" if store.kind == "cache" else "image(s)"
    return total - len(left), ([f"{len(left)} {what} left" + (f": {problem}" if problem else "")] if left else [])
