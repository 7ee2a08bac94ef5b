"""buildx facts: the CLI's plugin search (docker/cli manager.go order), plugin metadata, `buildx ls` parsing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mab_doctor.core.commands import quick_go_env
from mab_doctor.core.facts import Fact
from mab_doctor.engines.docker import cli_config, config_dir

if TYPE_CHECKING:
    from mab_doctor.core.context import CommandResult, Context

SYSTEM_PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                      "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
PLUGIN = "docker-buildx"
COLUMNS = ("NAME/NODE", "DRIVER/ENDPOINT", "LAST ACTIVITY", "STATUS", "BUILDKIT", "PLATFORMS")


def plugin_dirs(ctx: "Context") -> tuple[list[str], list[str]]:
    """(directories in the CLI's search order, notes): cliPluginsExtraDirs first, as the code does."""
    notes: list[str] = []
    conf = cli_config(ctx)
    extra = []
    if conf.error or conf.unreadable:
        notes.append(f"cliPluginsExtraDirs could not be read ({conf.error or conf.unreadable}); "
                     f"searching the other directories")
    elif isinstance(conf.data, dict) and "cliPluginsExtraDirs" in conf.data:
        raw = conf.data["cliPluginsExtraDirs"]
        if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
            notes.append(f"{conf.path}: cliPluginsExtraDirs is not a list of strings; ignored")
        else:
            extra = [d.rstrip("/") or "/" for d in raw]
    dirs = [*extra, f"{config_dir(ctx)}/cli-plugins", *SYSTEM_PLUGIN_DIRS]
    return list(dict.fromkeys(dirs)), notes


def find_candidates(ctx: "Context", dirs: list[str]) -> tuple[list[tuple[int, str]], list[str]]:
    """[(search index, path)] of every docker-buildx file or working symlink, and skip notes."""
    found, notes = [], []
    for index, folder in enumerate(dirs):
        path = f"{folder}/{PLUGIN}"
        where = ctx.lookup(path)
        if where.kind == "missing":
            continue
        if where.kind == "dangling symlink":
            notes.append(f"{path}: broken symlink, skipped (as the CLI does)")
        elif where.kind == "file":
            found.append((index, path))
        else:  # a directory, a FIFO, a symlink loop...: nothing the CLI could run
            notes.append(f"{where.reason or f'{path}: a {where.kind}'}, skipped")
    return found, notes


def _metadata(ctx: "Context", path: str) -> "CommandResult":
    return ctx.run(path, "docker-cli-plugin-metadata", env=quick_go_env(ctx.env))


METADATA: Fact["CommandResult"] = Fact("plugin metadata", _metadata)


def plugin_metadata(ctx: "Context", path: str) -> "CommandResult":
    """The plugin's answer to `docker-cli-plugin-metadata` (what the CLI asks before it runs a plugin), once per run."""
    return ctx.fact(METADATA, path)


def _candidates(ctx: "Context") -> tuple[tuple[int, str], ...]:
    return tuple(find_candidates(ctx, plugin_dirs(ctx)[0])[0])


CANDIDATES: Fact[tuple[tuple[int, str], ...]] = Fact("buildx plugin candidates", _candidates)


def plugin_candidates(ctx: "Context") -> tuple[tuple[int, str], ...]:
    """[(search index, path)] of every docker-buildx the CLI's search finds, once per run; the CLI runs the first."""
    return ctx.fact(CANDIDATES)


def has_plugin(ctx: "Context") -> bool:
    """Whether the CLI would find any docker-buildx plugin at all (the builder checks need one)."""
    return bool(plugin_candidates(ctx))


def validate_metadata(text: str) -> tuple[dict | None, str | None]:
    """(metadata, None) when the JSON passes docker/cli's checks, else (data or None, the exact problem)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"metadata is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except (ValueError, RecursionError):
        return None, "metadata is not JSON (nested too deeply, or not text)"
    if not isinstance(data, dict):
        return None, "metadata is not a JSON object"
    schema = data.get("SchemaVersion")
    if not isinstance(schema, str) or not schema:
        return data, "metadata has no SchemaVersion"
    major = schema.split(".", 1)[0]
    if not major.isdigit() or int(major) >= 2:
        return data, f"metadata SchemaVersion {schema!r} has an unsupported major version (the CLI needs < 2)"
    if not isinstance(data.get("Vendor"), str) or not data["Vendor"].strip():
        return data, "metadata does not name a Vendor"
    if not isinstance(data.get("Version"), str) or not data["Version"].strip():
        return data, "metadata has no Version string"
    return data, None


@dataclass
class Node:
    """One node of a builder as `buildx ls` lists it."""

    name: str
    endpoint: str = ""
    status: str = ""
    buildkit: str = ""
    platforms: list[str] = field(default_factory=list)  # as printed, `*` = set by the user


@dataclass
class Builder:
    """One builder instance: name, driver, nodes."""

    name: str
    driver: str = ""
    current: bool = False
    error: str = ""
    nodes: list[Node] = field(default_factory=list)


def _text(obj: dict, key: str) -> str:
    # A field of another JSON type (a newer or broken buildx) is left out, never passed on.
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def parse_ls_json(text: str) -> list[Builder]:
    """`buildx ls --format json` (v0.13+): JSON Lines, one object per builder (repeated per node before
    v0.21, without a current-builder field); raises ValueError on anything else."""
    builders: dict[str, Builder] = {}
    for line in filter(None, (l.strip() for l in text.splitlines())):
        try:
            obj = json.loads(line)
        except RecursionError:
            raise ValueError("a line nested too deeply to be a builder") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("Name"), str):
            raise ValueError("not a buildx builder object")
        listed = obj.get("Nodes") if isinstance(obj.get("Nodes"), list) else []
        nodes = [Node(_text(n, "Name"), _text(n, "Endpoint"), _text(n, "Status"), _text(n, "Version"),
                      [p for p in n.get("Platforms") or [] if isinstance(p, str)]
                      if isinstance(n.get("Platforms"), list) else [])
                 for n in listed if isinstance(n, dict)]
        current = bool(obj.get("Current") or obj.get("Selected"))
        builders.setdefault(obj["Name"], Builder(obj["Name"], _text(obj, "Driver"), current,
                                                 _text(obj, "Err"), nodes))
    if not builders:
        raise ValueError("no builders listed")
    return list(builders.values())


def parse_ls_table(text: str) -> list[Builder]:
    """The `buildx ls` table: classic (v0.12 and older: indented nodes, `name *`) or tree (v0.13+:
    ` \\_ node`, `name*`); columns are cut at the header's offsets (tabwriter aligns every row)."""
    lines = [l.rstrip() for l in text.splitlines() if l.strip()]
    head = next((i for i, l in enumerate(lines) if l.startswith("NAME/NODE")), None)
    if head is None:
        raise ValueError("no NAME/NODE header")
    found = sorted((lines[head].find(c), c) for c in COLUMNS if lines[head].find(c) >= 0)
    starts, names = [s for s, _ in found], [c for _, c in found]
    builders: list[Builder] = []
    for line in lines[head + 1:]:
        cells = {n: line[s:e].strip() for n, s, e in zip(names, starts, starts[1:] + [len(line) + 1])}
        name = cells.get("NAME/NODE", "")
        if line.startswith(" ") and builders:  # a node row
            strip = lambda v: re.sub(r"^\\_\s*", "", v)  # noqa: E731
            plats = [p.strip() for p in cells.get("PLATFORMS", "").split(",") if p.strip()]
            builders[-1].nodes.append(Node(strip(name), strip(cells.get("DRIVER/ENDPOINT", "")),
                                           cells.get("STATUS", ""), cells.get("BUILDKIT", ""), plats))
            continue
        current = name.endswith("*")
        builders.append(Builder(name.rstrip("*").strip(), cells.get("DRIVER/ENDPOINT", ""), current,
                                "error" if cells.get("STATUS") == "error" else ""))
    return builders


def platform_names(node: Node) -> list[str]:
    """The node's platforms without `*` marks; truncated groups ("linux/arm (+2)", "(5 more)") are dropped."""
    return [p.strip().rstrip("*") for p in node.platforms if p.strip() and "(" not in p]


def is_executable(ctx: "Context", path: str) -> bool:
    """Whether the file may be executed (a regular file with execute permission, on the host's view)."""
    return ctx.is_executable(path)
