"""`inspect` of a local container image (Docker first, then Podman); never contacts a registry.

With deep=True the image's filesystem is read too: Docker via `docker create` + `docker export`
(the tar is read in place, nothing is extracted), Podman via `podman image mount` (needs root).
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from typing import TYPE_CHECKING, Iterator

from mab_doctor.core.jsonout import json_documents
from mab_doctor.host import platforms
from mab_doctor.inspection.elffiles import TreeFile, one_line, scan_tree, walk_files

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

NOT_FOUND = "no such file, directory or local image"
DEEP_TIMEOUT = 300.0  # exporting a large image takes longer than one --timeout


def declared_platform(os_name: str | None, arch: str | None, variant: str | None) -> str | None:
    """The platform an image's config declares, in Docker's spelling (None: no architecture recorded)."""
    raw = "/".join(x for x in (os_name or "linux", arch, variant) if x)
    if not arch:
        return None
    try:
        return str(platforms.parse_platform(raw))
    except platforms.PlatformError:
        return raw  # e.g. a windows image: shown as the image says


def _why(res) -> str:
    return res.last_line


def docker_lookup(ctx: "Context", ref: str) -> dict | None:
    """`docker image inspect` of a local image, or None when the store does not hold it."""
    from mab_doctor.engines.docker import docker_run

    res = docker_run(ctx, "image", "inspect", "--format", "{{json .}}", ref)
    if res is None or not res.ok:
        return None
    docs = json_documents(res.stdout)
    return docs[0] if docs else None


def podman_lookup(ctx: "Context", ref: str) -> tuple[str, dict] | None:
    """(podman's path, `podman image inspect` of a local image), or None when absent or no podman."""
    binary = ctx.which("podman")
    if binary is None:
        return None
    res = ctx.run(binary, "image", "inspect", ref)
    if not res.ok:
        return None
    docs = json_documents(res.stdout)
    return (binary, docs[0]) if docs else None


def _tar_files(tar: tarfile.TarFile) -> Iterator[TreeFile]:
    # Regular files only: symlinks and hard links name files the tree holds anyway.
    for member in tar:
        if member.isreg():
            rel = os.path.normpath(member.name).lstrip("/")

            def read(limit, m=member):
                fh = tar.extractfile(m)
                return b"" if fh is None else (fh.read() if limit is None else fh.read(limit))
            yield rel, member.size, read


def _docker_tree(ctx: "Context", ref: str) -> dict:
    from mab_doctor.engines.docker import docker_facts

    binary = docker_facts(ctx).binary
    timeout = max(ctx.timeout, DEEP_TIMEOUT)
    # A dummy command: images without CMD (FROM scratch) cannot be created otherwise; it never runs.
    made = ctx.run(binary, "create", "--pull=never", ref, "/mab-doctor-inspect", timeout=timeout)
    if not made.ok:
        return {"deep_error": f"docker create: {_why(made)}"}
    container = made.stdout.strip().splitlines()[-1]
    try:
        with tempfile.TemporaryDirectory(prefix="mab-doctor-inspect-") as tmp:
            archive = os.path.join(tmp, "rootfs.tar")
            out = ctx.run(binary, "export", "-o", archive, container, timeout=timeout)
            if not out.ok:
                return {"deep_error": f"docker export: {_why(out)}"}
            try:
                with tarfile.open(archive) as tar:
                    return scan_tree(_tar_files(tar))
            except (tarfile.TarError, OSError) as exc:
                return {"deep_error": f"reading the exported filesystem: {one_line(exc)}"}
    finally:
        ctx.run(binary, "rm", "-f", container)


def _podman_tree(ctx: "Context", binary: str, ref: str) -> dict:
    mounted = ctx.run(binary, "image", "mount", ref, timeout=max(ctx.timeout, DEEP_TIMEOUT))
    if not mounted.ok or not mounted.stdout.strip():
        return {"deep_error": f"podman image mount (needs root): {_why(mounted)}"}
    try:
        errors: list[dict] = []
        return scan_tree(walk_files(mounted.stdout.strip().splitlines()[-1], errors), errors)
    finally:
        ctx.run(binary, "image", "unmount", ref)


def _out_of_place(declared: str | None, found: list[str]) -> list[str]:
    """Tree platforms other than the declared one (lower ARM levels in an arm/vN image are fine)."""
    want = platforms.BY_OCI.get(declared or "")
    odd = []
    for oci in found:
        row = platforms.BY_OCI.get(oci)
        if oci == declared:
            continue
        if want and row and want.arch == row.arch == "arm" and row.arm_level <= want.arm_level:
            continue
        odd.append(oci)
    return odd


def inspect_image(ctx: "Context", ref: str, deep: bool) -> dict:
    """A local image as an inspect item (kind "image"), or "unreadable" when no engine has it."""
    podman = None
    data = docker_lookup(ctx, ref)
    engine = "docker"
    if data is None:
        found = podman_lookup(ctx, ref)
        if found is None:
            return {"input": ref, "kind": "unreadable", "error": NOT_FOUND}
        podman, data = found
        engine = "podman"
    os_name, arch, variant = data.get("Os"), data.get("Architecture"), data.get("Variant") or None
    declared = declared_platform(os_name, arch, variant)
    row = platforms.BY_OCI.get(declared or "")
    item = {"input": ref, "kind": "image", "engine": engine, "id": data.get("Id"),
            "oci_platform": declared, "debian_arch": row.debian_arch if row else None,
            "declared": {"os": os_name, "architecture": arch, "variant": variant}}
    if deep:
        tree = _docker_tree(ctx, ref) if engine == "docker" else _podman_tree(ctx, podman, ref)
        item.update(tree)
        if "platforms" in tree:
            item["platform_mismatch"] = _out_of_place(declared, list(tree["platforms"]))
    return item

