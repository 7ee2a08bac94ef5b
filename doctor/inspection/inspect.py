"""`inspect`: what platform an ELF file, a directory tree or a local image is for, and whether it runs here.

Every input becomes one item; bad input is an item of kind "unreadable", never an exception.
"""

from __future__ import annotations

import os
import stat
import struct
from typing import TYPE_CHECKING, Iterable

from mab_doctor.emulation.binfmt import find_handling, listing
from mab_doctor.host import platforms
from mab_doctor.host.hostinfo import is_native
from mab_doctor.inspection.elffiles import (HEAD_LIMIT, MAX_FILE, classify, read_file, scan_tree,
                                            unreadable_reason, walk_files)
from mab_doctor.inspection.images import inspect_image

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

SCHEMA = "mab-doctor/inspect/v1"


def _runs_here(ctx: "Context", oci: str | None) -> tuple[str, str | None]:
    if oci is None:
        return "no", None
    target = platforms.parse_platform(oci)
    if is_native(ctx, target):
        return "native", None
    winner = find_handling(listing(ctx), target.platform).winner
    return ("emulated", winner.name) if winner else ("no", None)


def inspect_elf(ctx: "Context", path: str) -> dict:
    """One file as an inspect item: kind "elf", or "unreadable" with a one-line error."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a device or FIFO would never end or never answer
            return {"input": path, "kind": "unreadable", "error": "not a regular file"}
        facts = classify(read_file(path, HEAD_LIMIT), st.st_size, lambda: read_file(path, MAX_FILE))
    except (OSError, ValueError, struct.error) as exc:  # ElfError is a ValueError
        return {"input": path, "kind": "unreadable", "error": unreadable_reason(exc)}
    runs, handler = _runs_here(ctx, facts["oci_platform"])
    item = {"input": path, "kind": "elf", **facts, "runs_here": runs}
    if handler:
        item["handler"] = handler
    return item


def inspect_dir(ctx: "Context", path: str) -> dict:
    """A directory tree as an inspect item of kind "dir"."""
    errors: list[dict] = []
    return {"input": path, "kind": "dir", **scan_tree(walk_files(path, errors), errors)}


def inspect_input(ctx: "Context", text: str, deep: bool = False) -> dict:
    """Any argument: an existing path is a file or a tree, anything else a local image."""
    if os.path.isdir(text):
        return inspect_dir(ctx, text)
    if os.path.lexists(text):
        return inspect_elf(ctx, text)
    return inspect_image(ctx, text, deep)


def item_platforms(item: dict) -> list[str]:
    """Every platform an item stands for (its own and its tree's)."""
    found = [item["oci_platform"]] if item.get("oci_platform") else []
    if item.get("kind") == "elf" and not item.get("oci_platform"):
        found.append(f"unknown ({item.get('machine')})")
    found += [p for p in item.get("platforms", {}) if p not in found]
    return found


def not_requested(item: dict, targets: Iterable) -> list[str]:
    """The item's platforms that are none of the requested targets (same vocabulary row)."""
    wanted = {t.platform.oci for t in targets}
    return [p for p in item_platforms(item) if p not in wanted]


def inspect_all(ctx: "Context", inputs: list[str], deep: bool, targets=None) -> tuple[dict, int]:
    """The inspect document and the exit code: 1 when nothing was readable, or when ``targets``
    (an explicit --platform) is given and an item holds any other platform; else 0."""
    items = [inspect_input(ctx, text, deep) for text in inputs]
    code = 0 if any(i["kind"] != "unreadable" for i in items) else 1
    doc: dict = {"schema": SCHEMA, "items": items}
    if targets is not None:
        doc["requested_platforms"] = [str(t) for t in targets]
        for item in items:
            if item["kind"] != "unreadable":
                item["not_requested"] = not_requested(item, targets)
                code = 1 if item["not_requested"] else code
    return doc, code
