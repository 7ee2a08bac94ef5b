"""Docker facts shared by the docker checks: one `docker version` and one `docker info` per run."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mab_doctor.core.jsonout import json_documents

if TYPE_CHECKING:
    from mab_doctor.core.context import CommandResult, Context


@dataclass(frozen=True)
class JsonFile:
    """A JSON config file: its data, or why it could not be used (with line and column)."""

    path: str
    exists: bool
    data: Any = None
    error: str | None = None


def read_json(ctx: "Context", path: str) -> JsonFile:
    """Parse a JSON file under the root; a syntax error names the file, line and column."""
    text, why = ctx.try_read(path)
    if text is None:
        return JsonFile(path, ctx.exists(path), error=None if not ctx.exists(path) else why)
    if not text.strip():
        return JsonFile(path, True, data={})
    try:
        return JsonFile(path, True, data=json.loads(text))
    except json.JSONDecodeError as exc:
        return JsonFile(path, True, error=f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}")


def config_dir(ctx: "Context") -> str:
    """The Docker CLI's config directory: $DOCKER_CONFIG, else $HOME/.docker."""
    return (ctx.env.get("DOCKER_CONFIG") or f"{ctx.env.get('HOME') or '/root'}/.docker").rstrip("/")


def cli_config(ctx: "Context") -> JsonFile:
    """The CLI's config.json (memoised)."""
    return ctx.memo("docker-config.json", lambda: read_json(ctx, f"{config_dir(ctx)}/config.json"))


@dataclass(frozen=True)
class DockerFacts:
    """What the docker CLI and daemon said, once per run."""

    binary: str | None                 # host path of the `docker` found on PATH
    state: str                         # up | down | denied | hung | missing | refused | error
    client: dict = field(default_factory=dict)
    server: dict | None = None
    info: dict | None = None
    message: str = ""                  # the CLI's own words when the daemon could not be used
    command: str = ""                  # the command that decided `state`, for details

    @property
    def up(self) -> bool:
        """Whether the daemon answered."""
        return self.state == "up"


def _first_json(text: str) -> dict | None:
    return next(iter(json_documents(text) or []), None)


def _state(res: "CommandResult", data: dict | None) -> tuple[str, str]:
    err = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else ""
    if res.refused:
        return "refused", "not run on a foreign --root"
    if res.missing:
        return "missing", "docker is not installed"
    if res.timed_out:
        return "hung", f"the daemon accepted the connection but did not answer within {res.timeout:g}s"
    if data and data.get("Server"):
        return "up", ""
    if "permission denied" in res.stderr.lower():
        return "denied", err
    if "cannot connect" in res.stderr.lower() or "is the docker daemon running" in res.stderr.lower():
        return "down", err
    return "error", err or res.describe()


def docker_facts(ctx: "Context") -> DockerFacts:
    """`docker version` (client + server JSON) and, when the daemon answered, `docker info`.

    A hung daemon costs one timeout per run: every later daemon command is skipped."""
    def compute() -> DockerFacts:
        binary = ctx.which("docker")
        if binary is None:
            return DockerFacts(None, "missing" if ctx.is_live else "refused", message="docker is not on PATH")
        res = ctx.run(binary, "version", "--format", "{{json .}}")
        data = _first_json(res.stdout)
        state, message = _state(res, data)
        client = (data or {}).get("Client") or {}
        server = (data or {}).get("Server")
        if not client.get("Version"):  # a hung daemon: the CLI printed nothing before it was killed
            m = re.search(r"version ([0-9][^\s,]*)", ctx.run(binary, "--version", timeout=5).stdout)
            client = {**client, "Version": m.group(1)} if m else client
        info = None
        if state == "up":
            got = ctx.run(binary, "info", "--format", "{{json .}}")
            info = _first_json(got.stdout) if got.ok else None
        return DockerFacts(binary, state, client, server, info, message,
                           f"{binary} version --format '{{{{json .}}}}'")
    return ctx.memo("docker-facts", compute)


def docker_run(ctx: "Context", *args: str) -> "CommandResult | None":
    """Run a docker subcommand that needs the daemon, or None when it is not up (no new timeout)."""
    facts = docker_facts(ctx)
    return ctx.run(facts.binary, *args) if facts.up and facts.binary else None


def endpoint(ctx: "Context", facts: DockerFacts) -> str:
    """Where the CLI talks to: DOCKER_HOST, else the context's name."""
    host = ctx.env.get("DOCKER_HOST")
    context = ctx.env.get("DOCKER_CONTEXT") or facts.client.get("Context") or "default"
    return f"DOCKER_HOST={host}" if host else f"context {context}"
