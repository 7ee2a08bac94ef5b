"""Podman's tagged local images read from its containers-storage files (rootful), without starting Podman."""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import field
from typing import TYPE_CHECKING, Any

from mab_doctor.core.record import record

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

# containers/storage 1.43 (Podman 4.3), types/options.go and types/utils.go: CONTAINERS_STORAGE_CONF alone
# when set; else $XDG_CONFIG_HOME/containers/storage.conf when it exists (even for root); else the first of
# these two that exists; else the built-in defaults. One file, never merged.
SYSTEM_CONFS = ("/etc/containers/storage.conf", "/usr/share/containers/storage.conf")
DEFAULT_GRAPHROOT = "/var/lib/containers/storage"
DRIVERS = frozenset({"overlay", "btrfs", "zfs", "vfs", "devmapper", "aufs"})
LIST_LIMIT = 32 << 20  # images.json: beyond this the CLI answers
BLOB_LIMIT = 4 << 20  # one manifest or config
IMAGE_ID = re.compile(r"[0-9a-f]{64}")
IMAGE_TYPES = frozenset({"application/vnd.docker.distribution.manifest.v2+json",
                         "application/vnd.oci.image.manifest.v1+json"})
LIST_TYPES = frozenset({"application/vnd.docker.distribution.manifest.list.v2+json",
                        "application/vnd.oci.image.index.v1+json"})
CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                          "application/vnd.docker.container.image.v1+json"})
STORE_KEYS = ("additionalimagestores", "imagestore")  # images elsewhere: the CLI answers


@record
class StoreImages:
    """What the storage files say: (name, id) pairs and each id's {Id, Os, Architecture} as `podman image
    inspect` reports them (it reports no Variant); ``images`` False with ``why`` when only Podman can tell."""

    images: bool
    why: str = ""
    named: tuple[tuple[str, str], ...] = ()
    docs: dict[str, dict] = field(default_factory=dict)
    images_dir: str = ""


class Unsure(Exception):
    """Something the files do not settle: Podman itself must be asked."""


def big_data_name(key: str) -> str:
    """The file name containers/storage gives an image's big-data item (store.go makeBigDataBaseName): the key
    itself while its characters are [.0-9a-z]; "=" + standard base64 once another character is read with
    more after it (a key whose only other character is its last stays as it is, as there)."""
    for pos, ch in enumerate(key):
        if ch != "." and not ("0" <= ch <= "9") and not ("a" <= ch <= "z"):
            if pos + 1 < len(key):
                return "=" + binascii.b2a_base64(key.encode("utf-8"), newline=False).decode("ascii")
            break
    return key


def _conf_path(ctx: "Context") -> str | None:
    """The storage.conf that rootful containers/storage reads, None for none (built-in defaults)."""
    env = ctx.env
    if "CONTAINERS_STORAGE_CONF" in env:
        path = env["CONTAINERS_STORAGE_CONF"]
        if not path.startswith("/"):
            raise Unsure(f"CONTAINERS_STORAGE_CONF={path!r} is not an absolute path")
        return _existing(ctx, path)
    candidates = list(SYSTEM_CONFS)
    if "XDG_CONFIG_HOME" in env:
        home = env["XDG_CONFIG_HOME"]
        if not home.startswith("/"):
            raise Unsure(f"XDG_CONFIG_HOME={home!r} is not an absolute path")
        candidates.insert(0, home.rstrip("/") + "/containers/storage.conf")
    for path in candidates:
        if _existing(ctx, path):
            return path
    return None


def _existing(ctx: "Context", path: str) -> str | None:
    kind = ctx.lookup(path).kind
    if kind == "missing":
        return None
    if kind != "file":
        raise Unsure(f"{path}: {kind}, not a file")
    return path


def _conf(ctx: "Context", path: str) -> dict:
    text, why = ctx.try_read(path, 1 << 20, strict=True)
    if text is None:
        raise Unsure(why or f"{path}: not read")
    import tomllib  # only when a storage.conf exists

    try:
        storage = tomllib.loads(text).get("storage", {})
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise Unsure(f"{path}: not TOML: {exc}") from None
    if not isinstance(storage, dict):
        raise Unsure(f"{path}: [storage] is not a table")
    return storage


def _mentions_stores(table: Any) -> bool:
    """Whether any (nested) option names further image stores."""
    if not isinstance(table, dict):
        return False
    return any((key in STORE_KEYS and value) or _mentions_stores(value) for key, value in table.items())


def _driver_dir(ctx: "Context", graphroot: str, driver: str | None) -> str:
    """<graphroot>/<driver>-images, the one images store Podman can be reading there."""
    names, why = ctx.try_listdir(graphroot)
    if why is not None:
        if ctx.lookup(graphroot).kind == "missing":
            raise Unsure(f"{graphroot} does not exist yet")  # Podman may be pointed elsewhere (flags, its database)
        raise Unsure(why)
    stores = [n[: -len("-images")] for n in names if n.endswith("-images")]
    # Podman's database keeps the driver it was first set up with and prefers it to storage.conf: a second
    # store beside the configured one leaves which one it reads open.
    if len(stores) > 1 or (driver and stores and stores != [driver]):
        raise Unsure(f"{graphroot}: image stores of several drivers ({', '.join(sorted({*stores, driver or stores[0]}))})")
    if driver is None:
        if not stores:
            return f"{graphroot}/overlay-images"  # no images store at all: nothing listed whichever driver
        if stores[0] not in DRIVERS or stores[0] == "vfs":  # drivers.New never picks vfs from prior state
            raise Unsure(f"{graphroot}: no driver configured and only a {stores[0]} store")
        driver = stores[0]
    return f"{graphroot}/{driver}-images"


def _remote_conf(ctx: "Context") -> str | None:
    """A containers.conf (system, admin, the user's, or a drop-in of either) that sets `remote`, or None."""
    home = ctx.env.get("XDG_CONFIG_HOME") or f"{ctx.env.get('HOME', '/root')}/.config"
    files = ["/usr/share/containers/containers.conf", "/etc/containers/containers.conf",
             f"{home}/containers/containers.conf"]
    for folder in ("/etc/containers/containers.conf.d", f"{home}/containers/containers.conf.d"):
        files += [f"{folder}/{name}" for name in ctx.listdir(folder)]
    for path in files:
        text = ctx.read_text(path, 1 << 20)
        if text and re.search(r"(?m)^\s*remote\s*=", text):
            return path
    return None


def _location(ctx: "Context") -> str:
    """The images directory rootful Podman 4.3 reads (with no --root/--storage-driver flags)."""
    env = ctx.env
    if not ctx.is_root:
        raise Unsure("rootless Podman: its storage path depends on its user namespace setup")
    # CONTAINER_HOST / CONTAINER_CONNECTION (or `remote = true` in a containers.conf) make `podman` a client
    # of another machine's service: its images are that machine's, not these files'.
    for name in ("_CONTAINERS_ROOTLESS_UID", "STORAGE_OPTS", "CONTAINER_HOST", "CONTAINER_CONNECTION",
                 "CONTAINERS_CONF"):
        if name in env:
            raise Unsure(f"{name} is set")
    remote = _remote_conf(ctx)
    if remote:
        raise Unsure(f"{remote}: a `remote` setting (podman may be a client of another service)")
    path = _conf_path(ctx)
    storage = _conf(ctx, path) if path else {}
    if _mentions_stores(storage):
        raise Unsure(f"{path}: further image stores configured")
    graphroot = storage.get("graphroot", DEFAULT_GRAPHROOT if path is None else None)
    # A storage.conf without graphroot leaves it empty in 1.43's defaultStoreOptionsIsolated (not the default).
    if not isinstance(graphroot, str) or not graphroot.startswith("/") or "$" in graphroot:
        raise Unsure(f"{path}: graphroot {graphroot!r} is not a plain absolute path")
    driver = env.get("STORAGE_DRIVER") or storage.get("driver") or None
    driver = "overlay" if driver == "overlay2" else driver
    if driver is not None and driver not in DRIVERS:
        raise Unsure(f"storage driver {driver!r} unknown")
    return _driver_dir(ctx, graphroot.rstrip("/") or "/", driver)


def _json(ctx: "Context", path: str, limit: int, *, empty: Any = None) -> Any:
    """The JSON value of a file (``empty`` for an empty file when given); anything else is Unsure."""
    got = ctx.read_file(path, limit, whole=True)
    if got.data is None:
        raise Unsure(got.reason or f"{path}: not read")
    if empty is not None and not got.data.strip():
        return empty
    try:
        return json.loads(got.data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unsure(f"{path}: not JSON: {exc}") from None


def _platform(ctx: "Context", images_dir: str, id_: str) -> dict:
    """{Id, Os, Architecture} from the image's manifest and config, as libimage's inspect takes them."""
    folder = f"{images_dir}/{id_}"
    manifest = _json(ctx, f"{folder}/manifest", BLOB_LIMIT)  # the "manifest" key: libimage asks by ID
    if not isinstance(manifest, dict):
        raise Unsure(f"{folder}/manifest: not an object")
    config = manifest.get("config")
    kind = manifest.get("mediaType")
    if kind in LIST_TYPES or "manifests" in manifest:
        raise Unsure(f"image {id_[:12]} is a manifest list (inspect resolves it to an instance)")
    if kind not in IMAGE_TYPES and not (manifest.get("schemaVersion") == 2 and isinstance(config, dict)
                                        and config.get("mediaType") in CONFIG_TYPES):
        raise Unsure(f"image {id_[:12]}: manifest type {kind!r} not read here")
    digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise Unsure(f"image {id_[:12]}: no config digest in its manifest")
    blob = _json(ctx, f"{folder}/{big_data_name(digest)}", BLOB_LIMIT)
    if not isinstance(blob, dict):
        raise Unsure(f"image {id_[:12]}: config is not an object")
    os_, arch = blob.get("os", ""), blob.get("architecture", "")
    if not isinstance(os_, str) or not isinstance(arch, str):
        raise Unsure(f"image {id_[:12]}: os/architecture are not strings")
    return {"Id": id_, "Os": os_, "Architecture": arch}


def _listing(ctx: "Context", images_dir: str) -> StoreImages:
    path = f"{images_dir}/images.json"
    if ctx.lookup(path).kind == "missing":
        return StoreImages(True, images_dir=images_dir)  # images.go Load: no file yet is an empty store
    rows = _json(ctx, path, LIST_LIMIT, empty=[])  # images.go Load: an empty file is an empty store
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), str)
                                             and IMAGE_ID.fullmatch(r["id"]) for r in rows):
        raise Unsure(f"{path}: not a list of images with IDs")
    named: list[tuple[str, str]] = []
    docs: dict[str, dict] = {}
    seen: set[str] = set()
    for row in reversed(rows):  # appended as created: newest first, as `podman images` sorts
        names = row.get("names") or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Unsure(f"{path}: image {row['id'][:12]} has unreadable names")
        if seen.intersection(names):  # Load would move the name (and rewrite the file)
            raise Unsure(f"{path}: a name held by two images")
        seen.update(names)
        if "instances.json" in (row.get("big-data-names") or []):
            raise Unsure(f"image {row['id'][:12]} is a manifest list")
        shown = [n for n in names if "<none>" not in n]  # dangling/intermediate images have no names
        if shown:
            docs[row["id"]] = _platform(ctx, images_dir, row["id"])
            named += [(n, row["id"]) for n in shown]
    return StoreImages(True, named=tuple(named), docs=docs, images_dir=images_dir)


def read_podman_store(ctx: "Context") -> StoreImages:
    """Podman's tagged images from its files, read-only and without its locks (it replaces them by rename);
    ``images`` False, with the reason, whenever the files leave anything open."""
    if not ctx.is_live:
        return StoreImages(False, "a foreign --root: Podman's storage is not read")
    try:
        return _listing(ctx, _location(ctx))
    except Unsure as why:
        return StoreImages(False, str(why))
