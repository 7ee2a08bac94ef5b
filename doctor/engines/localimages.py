"""Tagged local images and what each was stored as: Docker over its API, Podman from its storage files (else each CLI)."""

from __future__ import annotations

import re
from dataclasses import field
from typing import TYPE_CHECKING, Callable

from mab_doctor.core.facts import Fact
from mab_doctor.core.jsonout import json_documents
from mab_doctor.core.record import record
from mab_doctor.engines.docker import api_socket, docker_facts, docker_run
from mab_doctor.engines.podmanstore import read_podman_store

if TYPE_CHECKING:
    from mab_doctor.core.context import CommandResult, Context

NONE = "<none>"
IMAGE_ID = re.compile(r"(sha256:)?([0-9a-f]{12,64})")


@record
class Listed:
    """One engine's tagged images: (name:tag, id without `sha256:`) pairs, each id's inspect document
    (Os, Architecture, Variant; None when the engine said nothing of it), and what went wrong."""

    named: tuple[tuple[str, str], ...] = ()
    docs: dict[str, dict | None] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def _matched(engine: str, ids: list[str], res: "CommandResult") -> tuple[dict[str, dict | None], list[str]]:
    """One inspect command's answers matched to ``ids`` by Id prefix, else by position (podman resolves
    a manifest list to its native instance, whose Id differs)."""
    docs = [d for d in json_documents(res.stdout) or [] if isinstance(d, dict)]
    problems = []
    if not res.ok or len(docs) < len(ids):
        problems.append(f"{engine}: inspect answered for {len(docs)} of {len(ids)} images ({res.explain()})")
    by_id: dict[str, dict | None] = {}
    for pos, id_ in enumerate(ids):
        doc = next((d for d in docs if str(d.get("Id", "")).removeprefix("sha256:").startswith(id_)), None)
        by_id[id_] = doc if doc is not None or len(docs) != len(ids) else docs[pos]
    return by_id, problems


def _from_commands(engine: str, ls: "CommandResult", named: list[tuple[str, str]],
                   inspect: Callable[..., "CommandResult"]) -> Listed:
    problems = [] if ls.ok and json_documents(ls.stdout) is not None else [
        f"{engine}: could not list images ({ls.explain()})"]
    ids = list(dict.fromkeys(i for _, i in named))
    docs, more = _matched(engine, ids, inspect(*ids)) if ids else ({}, [])
    return Listed(tuple(named), docs, tuple(problems + more))


def _docker_api(ctx: "Context", sock: str) -> Listed | None:
    """The same listing over the daemon's socket: one request to list, one per image, side by side."""
    listing = ctx.request(sock, "GET", "/images/json")
    rows = listing.json() if listing.ok else None
    if not isinstance(rows, list):
        return None
    named = []
    for row in rows:
        found = IMAGE_ID.fullmatch(str(row.get("Id", ""))) if isinstance(row, dict) else None
        tags = row.get("RepoTags") if found and isinstance(row.get("RepoTags"), list) else []
        named += [(tag, found.group(2)) for tag in tags if isinstance(tag, str) and NONE not in tag]
    ids = list(dict.fromkeys(i for _, i in named))
    answers = ctx.map(lambda id_: ctx.request(sock, "GET", f"/images/sha256:{id_}/json"), ids)
    bodies = [a.json() if a.ok else None for a in answers]  # each body parsed once
    docs = {id_: body if isinstance(body, dict) else None for id_, body in zip(ids, bodies)}
    failed = [a for a, body in zip(answers, bodies) if not isinstance(body, dict)]
    problems = [f"docker: inspect answered for {len(ids) - len(failed)} of {len(ids)} images "
                f"({failed[0].describe()})"] if failed else []
    return Listed(tuple(named), docs, tuple(problems))


def docker_images(ctx: "Context") -> Listed | None:
    """Docker's tagged images (None when the daemon is not up: docker-daemon says why)."""
    if not docker_facts(ctx).up:
        return None
    sock = api_socket(ctx)
    listed = _docker_api(ctx, sock) if sock else None
    if listed is not None:
        return listed
    ls = docker_run(ctx, "image", "ls", "--format", "{{json .}}")
    if ls is None:
        return None
    named = [(f"{r['Repository']}:{r['Tag']}", str(r["ID"])) for r in (json_documents(ls.stdout) or [])
             if isinstance(r, dict) and r.get("ID") and r.get("Repository") not in (None, "", NONE)
             and r.get("Tag") not in (None, "", NONE)]
    return _from_commands("docker", ls, named,
                          lambda *ids: docker_run(ctx, "image", "inspect", "--format", "{{json .}}", *ids))


def _podman_images(ctx: "Context", binary: str) -> Listed | None:
    # Podman's own files first (no 25 ms Go start); the CLI whenever they leave anything open.
    stored = read_podman_store(ctx)
    if stored.images:
        return Listed(stored.named, dict(stored.docs))
    ls = ctx.run(binary, "images", "--format", "json")
    if ls.refused:
        return None
    # Podman 4.3 prints an image once per name, each row with all its Names: each pair is kept once.
    named = list(dict.fromkeys((n, str(r["Id"])) for r in json_documents(ls.stdout) or [] if isinstance(r, dict)
                               and r.get("Id") and not r.get("Dangling")
                               for n in r.get("Names") or [] if isinstance(n, str) and NONE not in n))
    return _from_commands("podman", ls, named, lambda *ids: ctx.run(binary, "image", "inspect", *ids))


PODMAN_IMAGES: Fact[Listed | None] = Fact("podman images", _podman_images)


def podman_images(ctx: "Context", binary: str) -> Listed | None:
    """Podman's tagged images (None when it is not run: a foreign --root). Once per run: a full run starts
    it early (a Podman start that reads its storage)."""
    return ctx.fact(PODMAN_IMAGES, binary)
