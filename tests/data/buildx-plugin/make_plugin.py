"""Write a fake `docker-buildx` CLI plugin that speaks the real protocol (metadata, `buildx ls`, `buildx version`).

Behaviour follows the buildx version it pretends to be:
- v0.13.0 and later: the tree table (` \\_ node`, `name*`, docker/cli formatter: min width 10, padding 3)
  and `--format json` (JSON Lines, one object per builder, repeated once per node before v0.21.0 as in
  docker/buildx#2969, and without any current-builder field, docker/buildx#3175);
- older: the classic table (indented nodes, `name *`, tabwriter padding 1; no BUILDKIT column before v0.10)
  and `ERROR: unknown flag: --format` with exit code 1.
The current builder is $MAB_FAKE_BUILDX_CURRENT, else the contents of `.fake-buildx-current` next to the
plugin (not named `docker-*`: the CLI would list it as a broken plugin candidate), else "default".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_BUILDERS = [
    {"name": "default", "driver": "docker", "nodes": [
        {"name": "default", "endpoint": "default", "status": "running", "buildkit": "v0.8.2",
         "platforms": ["linux/amd64", "linux/386"]}]},
    {"name": "multi", "driver": "docker-container", "nodes": [
        {"name": "multi0", "endpoint": "unix:///var/run/docker.sock", "status": "running", "buildkit": "v0.12.5",
         "platforms": ["linux/amd64*", "linux/amd64/v2", "linux/amd64/v3", "linux/386", "linux/arm64",
                       "linux/arm/v7", "linux/arm/v6"]},
        {"name": "multi1", "endpoint": "ssh://builder@arm64-box", "status": "running", "buildkit": "v0.12.5",
         "platforms": ["linux/arm64*", "linux/arm/v7", "linux/arm/v6"]}]},
]

SCRIPT = r'''#!{python}
# Fake docker-buildx {version} written by tests/data/buildx-plugin/make_plugin.py (not the real buildx).
import json, os, sys

VERSION = {version!r}
BUILDERS = json.loads({builders!r})
META = {{"SchemaVersion": "0.1.0", "Vendor": "Docker Inc.", "Version": VERSION,
        "ShortDescription": "Docker Buildx", "URL": "https://github.com/docker/buildx"}}


def vtuple(v):
    return tuple(int(x) for x in v.lstrip("v").split("-")[0].split(".")[:3])


def current():
    name = os.environ.get("MAB_FAKE_BUILDX_CURRENT")
    if not name:
        try:
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".fake-buildx-current")) as fh:
                name = fh.read().strip()
        except OSError:
            name = ""
    return name or "default"


def tabwrite(rows, minwidth, padding):
    ncols = max(len(r) for r in rows)
    widths = [max([minwidth] + [len(r[i]) + padding for r in rows if i < len(r) - 1]) for i in range(ncols)]
    return "".join("".join(c.ljust(widths[i]) for i, c in enumerate(r[:-1])) + r[-1] + "\n" for r in rows)


def table():
    tree = vtuple(VERSION) >= (0, 13, 0)
    kit = vtuple(VERSION) >= (0, 10, 0)
    head = ["NAME/NODE", "DRIVER/ENDPOINT", "STATUS"] + (["BUILDKIT"] if kit else []) + ["PLATFORMS"]
    rows = [head]
    for b in BUILDERS:
        mark = ("*" if tree else " *") if b["name"] == current() else ""
        rows.append([b["name"] + mark, b["driver"], ""] + ([""] if kit else []) + [""])
        for n in b["nodes"]:
            ind = " \\_ " if tree else "  "
            rows.append([ind + n["name"], (" \\_ " if tree else "") + n["endpoint"], n["status"]]
                        + ([n["buildkit"]] if kit else []) + [", ".join(n["platforms"])])
    return tabwrite(rows, 10, 3) if tree else tabwrite(rows, 0, 1)


def json_lines():
    out = []
    for b in BUILDERS:
        nodes = [{{"Name": n["name"], "Endpoint": n["endpoint"], "Status": n["status"], "Version": n["buildkit"],
                  "Platforms": [p.rstrip("*") for p in n["platforms"]]}} for n in b["nodes"]]
        line = json.dumps({{"Name": b["name"], "Driver": b["driver"], "LastActivity": "0001-01-01T00:00:00Z",
                           "Dynamic": False, "Nodes": nodes}}, separators=(",", ":"))
        out += [line] * (len(nodes) if vtuple(VERSION) < (0, 21, 0) else 1)
    return "".join(l + "\n" for l in out)


def main(args):
    if args[:1] == ["docker-cli-plugin-metadata"]:
        sys.stdout.write(json.dumps(META, indent=5) + "\n")
        return 0
    if args[:1] == ["buildx"]:
        args = args[1:]
    if args[:1] == ["version"]:
        print(f"github.com/docker/buildx {{VERSION}} 0000000000000000000000000000000000000000")
        return 0
    if args[:1] == ["ls"]:
        if "--format" in args:
            if vtuple(VERSION) < (0, 13, 0):
                sys.stderr.write("ERROR: unknown flag: --format\n")
                return 1
            fmt = args[args.index("--format") + 1] if args.index("--format") + 1 < len(args) else ""
            if fmt == "json":
                sys.stdout.write(json_lines())
                return 0
        sys.stdout.write(table())
        return 0
    sys.stderr.write(f"ERROR: unknown command {{' '.join(args)!r}} (fake buildx)\n")
    return 1


sys.exit(main(sys.argv[1:]))
'''


def write_plugin(folder, version: str = "v0.12.1", builders: list | None = None, *,
                 current: str | None = None) -> Path:
    """Write an executable fake `docker-buildx` into ``folder``; returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docker-buildx"
    data = json.dumps(DEFAULT_BUILDERS if builders is None else builders)
    path.write_text(SCRIPT.format(python=sys.executable, version=version, builders=data))
    path.chmod(0o755)
    if current is not None:
        (folder / ".fake-buildx-current").write_text(current + "\n")
    return path


def run_output(version: str, *args: str, current: str | None = None, builders: list | None = None) -> str:
    """What the fake plugin prints for ``args`` (unit tests use it as captured `buildx` output)."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_plugin(tmp, version, builders, current=current)
        env = {k: v for k, v in os.environ.items() if k != "MAB_FAKE_BUILDX_CURRENT"}
        proc = subprocess.run([str(path), *args], capture_output=True, text=True, env=env, timeout=30)
        return proc.stdout if proc.returncode == 0 else proc.stderr


DEFAULT_KEY = "unix:///var/run/docker.sock"  # buildx's key for the default context without DOCKER_HOST


def _oci(platform: str) -> dict:
    parts = platform.rstrip("*").split("/")
    return {"architecture": parts[1], "os": parts[0], **({"variant": parts[2]} if len(parts) > 2 else {})}


def store_files(current: str | None = None, builders: list | None = None, *, key: str = DEFAULT_KEY,
                folder: str = "/root/.docker/buildx", global_: bool = False) -> dict[str, str]:
    """The files buildx v0.13 keeps in its folder for ``builders`` (their `*` platforms saved as created
    with `--platform`, as OCI objects) with ``current`` chosen by `docker buildx use` (a fixture tree's
    {path: text}); the docker-driver builders are the daemon's own and have no file."""
    files = {f"{folder}/current": json.dumps({"Key": key, "Name": current or "", "Global": global_},
                                             separators=(",", ":"))}
    for b in DEFAULT_BUILDERS if builders is None else builders:
        if b["driver"] == "docker":
            continue
        nodes = [{"Name": n["name"], "Endpoint": n["endpoint"],
                  "Platforms": [_oci(p) for p in n["platforms"] if p.endswith("*")] or None,
                  "DriverOpts": None, "Flags": None, "Files": None} for n in b["nodes"]]
        files[f"{folder}/instances/{b['name'].lower()}"] = json.dumps(
            {"Name": b["name"], "Driver": b["driver"], "Nodes": nodes, "Dynamic": False}, separators=(",", ":"))
    return files
