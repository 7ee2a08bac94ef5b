"""Docker facts shared by the docker checks: one `docker version` and one `docker info` per run."""

from __future__ import annotations

import json
import re
from dataclasses import field
from typing import TYPE_CHECKING, Any

from mab_doctor.core.commands import quick_go_env
from mab_doctor.core.facts import Fact
from mab_doctor.core.jsonout import json_documents
from mab_doctor.core.record import record

if TYPE_CHECKING:
    from mab_doctor.core.context import CommandResult, Context


@record
class JsonFile:
    """A JSON config file: its data, or why it could not be used: ``error`` for invalid JSON (with
    line and column), ``unreadable`` for a file that is there but cannot be read (permissions, not a
    regular file, too large), so the two are never confused."""

    path: str
    exists: bool
    data: Any = None
    error: str | None = None
    unreadable: str | None = None


DAEMON_JSON = "/etc/docker/daemon.json"
SNAPSHOTTER = "io.containerd.snapshotter"  # DriverStatus of a daemon using the containerd image store


def read_json(ctx: "Context", path: str) -> JsonFile:
    """A JSON file under the root, parsed once per run; a syntax error names the file, line and column."""
    return ctx.fact(JSON_FILE, path)


def _parse_json_file(ctx: "Context", path: str) -> JsonFile:
    text, why = ctx.try_read(path)
    if text is None:
        there = ctx.exists(path)
        return JsonFile(path, there, unreadable=why if there else None)
    if not text.strip():
        return JsonFile(path, True, data={})
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return JsonFile(path, True, error=f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}")
    except RecursionError:  # nesting deeper than Python's parser goes: Docker's would refuse it too
        return JsonFile(path, True, error=f"{path}: nested too deeply to be a configuration")
    if not isinstance(data, dict):  # Docker reads both files into an object and refuses anything else
        return JsonFile(path, True, error=f"{path}: line 1, column 1: a JSON {type(data).__name__.replace('dict', 'object')} "
                                          f"where an object is needed")
    return JsonFile(path, True, data=data)


JSON_FILE: Fact[JsonFile] = Fact("JSON file", _parse_json_file)


def daemon_config(ctx: "Context") -> JsonFile:
    """/etc/docker/daemon.json, the daemon's configuration (``data`` is {} when the file is empty)."""
    return read_json(ctx, DAEMON_JSON)


def config_dir(ctx: "Context") -> str:
    """The Docker CLI's config directory: $DOCKER_CONFIG, else $HOME/.docker."""
    return (ctx.env.get("DOCKER_CONFIG") or f"{ctx.env.get('HOME') or '/root'}/.docker").rstrip("/")


def cli_config(ctx: "Context") -> JsonFile:
    """The CLI's config.json (read once per run)."""
    return read_json(ctx, f"{config_dir(ctx)}/config.json")


@record
class DockerFacts:
    """What the docker CLI and daemon said, once per run."""

    binary: str | None                 # host path of the `docker` found on PATH
    state: str                         # up | down | unreachable | denied | hung | missing | refused | error
    client: dict = field(default_factory=dict)
    server: dict | None = None
    info: dict | None = None
    message: str = ""                  # the CLI's own words when the daemon could not be used
    command: str = ""                  # the command that decided `state`, for details
    endpoint: str = ""                 # DOCKER_HOST=... / DOCKER_CONTEXT=... when the environment chose one

    @property
    def up(self) -> bool:
        """Whether the daemon answered."""
        return self.state == "up"

    @property
    def containerd_store(self) -> bool:
        """Whether the daemon keeps images in the containerd image store (every platform of a tag
        stored locally) rather than the classic one (one platform per tag)."""
        info = self.info or {}
        pairs = info.get("DriverStatus") if isinstance(info.get("DriverStatus"), list) else []
        status = " ".join(str(v) for pair in pairs for v in (pair if isinstance(pair, list) else [pair]))
        driver = str(info.get("Driver") or "")
        return self.up and (SNAPSHOTTER in status or driver.startswith(("overlayfs", "stargz", "io.containerd")))

    @property
    def image_store(self) -> str:
        """'containerd image store' or 'classic image store', for summaries."""
        return "containerd image store" if self.containerd_store else "classic image store"

    @property
    def problem(self) -> str:
        """What went wrong with the daemon, as a sentence part ('' when it is up)."""
        return {"up": "", "down": "the Docker daemon is not running",
                "unreachable": f"the Docker endpoint {self.endpoint} cannot be reached",
                "denied": "permission to the Docker daemon's socket is denied",
                "hung": "the Docker daemon did not answer (timed out)", "missing": "docker is not installed",
                "refused": "the Docker daemon is not contacted on a foreign --root",
                }.get(self.state, f"the docker CLI failed ({self.message})" if self.message else
                      "the docker CLI failed")

    @property
    def remedy(self) -> str:
        """What to do about ``problem``."""
        if self.state == "unreachable":
            name = self.endpoint.split("=", 1)[0]
            how = ("start the daemon that should listen there, point it at a running daemon (e.g. "
                   "unix:///var/run/docker.sock, or the right tcp://host:port)"
                   if name == "DOCKER_HOST" else "pick an existing context (`docker context ls`)")
            return f"{self.endpoint} is wrong or unreachable: {how}, or `unset {name}` to use the default daemon."
        return REMEDY.get(self.state, "Run `docker version` and read the daemon's log (`journalctl -u docker`).")


REMEDY = {
    "down": "Start the Docker daemon: `sudo systemctl start docker` (no systemd: `sudo dockerd &`).",
    "denied": "Add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again), run "
              "mab-doctor and docker with sudo, or use rootless Docker.",
    "hung": "The daemon accepts connections but does not answer: restart it (`sudo systemctl restart "
            "docker`) and read its log (`journalctl -u docker`).",
    "missing": "Install Docker (`sudo apt-get install docker.io`, or Docker's docker-ce packages).",
}


def _first_json(text: str) -> dict | None:
    """The first JSON document printed, when it is an object (a broken CLI may print any JSON)."""
    first = next(iter(json_documents(text) or []), None)
    return first if isinstance(first, dict) else None


def _section(data: dict | None, key: str) -> dict | None:
    """One object of `docker version` (Client, Server) with a usable Version: a field of another
    JSON type is dropped rather than passed on to version comparisons."""
    part = (data or {}).get(key)
    if not isinstance(part, dict):
        return None
    return part if isinstance(part.get("Version", ""), str) else {k: v for k, v in part.items() if k != "Version"}


def _chosen_endpoint(ctx: "Context") -> str:
    """DOCKER_HOST=... or DOCKER_CONTEXT=... when the environment overrides the default daemon."""
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        if ctx.env.get(name):
            return f"{name}={ctx.env[name]}"
    return ""


def _state(res: "CommandResult", data: dict | None) -> tuple[str, str]:
    err = res.last_line if res.stderr.strip() else ""
    if res.refused:
        return "refused", "not run on a foreign --root"
    if res.missing:
        return "missing", "docker is not installed"
    if res.timed_out:
        return "hung", f"the daemon accepted the connection but did not answer within {res.timeout:g}s"
    if _section(data, "Server"):
        return "up", ""
    if "permission denied" in res.stderr.lower():
        return "denied", err
    if "cannot connect" in res.stderr.lower() or "is the docker daemon running" in res.stderr.lower():
        return "down", err
    return "error", err or res.describe()


DEFAULT_SOCKET = "/var/run/docker.sock"
# The CLI starts a plugin with its own path in this variable; the plugin then takes its arguments as
# `<plugin> <name> ...` (without it, a plugin binary runs standalone: `docker-buildx ...`).
PLUGIN_PARENT = "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"


def api_socket(ctx: "Context") -> str | None:
    """The unix socket of the daemon the CLI uses when the environment or the default context names
    one (DOCKER_HOST=unix://..., or nothing chosen: the default socket); None for tcp://, ssh:// and
    other contexts, which only the CLI knows how to reach."""
    host = ctx.env.get("DOCKER_HOST", "").strip()
    if host:
        return host[len("unix://"):] if host.startswith("unix://") and len(host) > len("unix://") else None
    return DEFAULT_SOCKET if context_name(ctx) == "default" else None


def context_name(ctx: "Context") -> str:
    """The CLI's current context, resolved as the CLI does: DOCKER_HOST means the default one, then
    DOCKER_CONTEXT, then config.json's currentContext, else "default"."""
    if ctx.env.get("DOCKER_HOST", "").strip():
        return "default"
    config = cli_config(ctx).data
    chosen = ctx.env.get("DOCKER_CONTEXT") or (config.get("currentContext") if isinstance(config, dict) else None)
    return chosen if isinstance(chosen, str) and chosen else "default"


def _api_info(ctx: "Context", sock: str | None) -> dict | None:
    """`docker info`'s server half straight from the daemon's API (milliseconds, not a CLI start)."""
    if sock is None:
        return None
    answer = ctx.request(sock, "GET", "/info")
    data = answer.json() if answer.ok else None
    return data if isinstance(data, dict) else None


def docker_binary(ctx: "Context") -> str | None:
    """The `docker` a run talks through: the CLI that started us when we run as its `docker doctor` plugin
    (it says so in PLUGIN_PARENT), else the first on PATH."""
    started = ctx.env.get(PLUGIN_PARENT, "")
    if started.startswith("/") and ctx.is_executable(started):
        return started
    return ctx.which("docker")


def _ask_docker(ctx: "Context") -> DockerFacts:
    binary, chosen = docker_binary(ctx), _chosen_endpoint(ctx)
    if binary is None:
        return DockerFacts(None, "missing" if ctx.is_live else "refused", message="docker is not on PATH")
    # The CLI's own version (and the daemon's answer to it) and the daemon's info, asked at once.
    res, api_info = ctx.map(lambda ask: ask(), [lambda: ctx.run(binary, "version", "--format", "{{json .}}",
                                                                 env=quick_go_env(ctx.env)),
                                                 lambda: _api_info(ctx, api_socket(ctx))])
    data = _first_json(res.stdout)
    state, message = _state(res, data)
    if chosen and state in ("down", "error"):
        # The environment picked the endpoint: "start the daemon" would be the wrong cure.
        state = "unreachable"
    client = _section(data, "Client") or {}
    server = _section(data, "Server")
    if not client.get("Version"):  # a hung daemon: the CLI printed nothing before it was killed
        m = re.search(r"version ([0-9][^\s,]*)", ctx.run(binary, "--version", timeout=5).stdout)
        client = {**client, "Version": m.group(1)} if m else client
    info = api_info if state == "up" else None
    if state == "up" and info is None:
        got = ctx.run(binary, "info", "--format", "{{json .}}")
        info = _first_json(got.stdout) if got.ok else None
    return DockerFacts(binary, state, client, server, info, message, f"{binary} version --format '{{{{json .}}}}'",
                       chosen)


DOCKER_FACTS: Fact[DockerFacts] = Fact("docker facts", _ask_docker)


def docker_facts(ctx: "Context") -> DockerFacts:
    """`docker version` (client + server JSON) and, when the daemon answered, `docker info`.

    A hung daemon costs one timeout per run: every later daemon command is skipped."""
    return ctx.fact(DOCKER_FACTS)


def docker_run(ctx: "Context", *args: str) -> "CommandResult | None":
    """Run a docker subcommand that needs the daemon, or None when it is not up (no new timeout)."""
    facts = docker_facts(ctx)
    return ctx.run(facts.binary, *args) if facts.up and facts.binary else None


def endpoint(facts: DockerFacts) -> str:
    """Where the CLI talks to: what DOCKER_HOST / DOCKER_CONTEXT chose, else the CLI's context."""
    return facts.endpoint or f"context {facts.client.get('Context') or 'default'}"
