"""Whether the Docker daemon runs on another kernel than this machine's (a VM, a remote host)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlsplit

from mab_doctor.engines.docker import DockerFacts, api_socket, cli_config, config_dir, read_json

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

LOOPBACK = ("localhost", "127.0.0.1", "::1")
UNKNOWN = ("", "unknown")  # what Context.uname says when it could not read the kernel

# Socket paths of the desktop VMs (macOS and Linux alike): (path part, product, its VM).
_SOCKETS = (
    ("/.rd/docker.sock", "Rancher Desktop", "its Lima VM"),
    ("/.colima/", "Colima", "its Lima VM"),
    ("/.lima/", "Lima", "its VM"),
    ("/.orbstack/", "OrbStack", "its own VM"),
    ("/.docker/desktop/", "Docker Desktop", "its own VM"),
    ("/containers/podman/machine/", "A Podman machine", "its VM"),
    ("podman-machine", "A Podman machine", "its VM"),
)


def _product(os_name: str, name: str, host: str) -> tuple[str, str] | None:
    """The desktop product that owns the daemon, from `docker info` first, then the socket path."""
    low_os = os_name.lower()
    if os_name == "Docker Desktop" or name == "docker-desktop":
        return "Docker Desktop", "its own VM"
    if "orbstack" in low_os:
        return "OrbStack", "its own VM"
    if name == "lima-rancher-desktop":
        return "Rancher Desktop", "its Lima VM"
    if name == "colima" or name.startswith("colima-"):  # colima-<profile> for a named profile
        return "Colima", "its Lima VM"
    if name.startswith("lima-"):
        return "Lima", "its VM"
    if "podman" in low_os and "machine" in low_os:
        return "A Podman machine", "its VM"
    if host.startswith("unix://"):
        for part, product, vm in _SOCKETS:
            if part in host:
                return product, vm
    return None


def _remote(host: str) -> bool:
    """Whether a DOCKER_HOST / context endpoint is on another machine (ssh://, or tcp:// elsewhere)."""
    scheme = host.partition("://")[0].lower()
    if scheme == "ssh":
        return True
    if scheme not in ("tcp", "http", "https"):
        return False
    try:
        address = urlsplit(host).hostname or ""
    except ValueError:  # a malformed address: the daemon check reports it as unreachable already
        return False
    return address.lower() not in LOOPBACK


def daemon_elsewhere(facts: DockerFacts, uname_release: str, hostname: str, env: Mapping[str, str], *,
                     context_host: str = "") -> str | None:
    """One line saying why the daemon does not run on this machine's kernel, or None when it does.

    ``uname_release`` and ``hostname`` are this machine's ("" or "unknown" when not known: those rules
    are then not applied); ``context_host`` is the endpoint of a non-default docker context."""
    info = facts.info if isinstance(facts.info, dict) else {}
    os_name, name, kernel = (str(info.get(k) or "") for k in ("OperatingSystem", "Name", "KernelVersion"))
    host = (env.get("DOCKER_HOST") or context_host or "").strip()
    where = f"DOCKER_HOST={host}" if env.get("DOCKER_HOST") else f"the docker context's endpoint {host}"
    kernel_note = f" (kernel {kernel})" if kernel else ""
    product = _product(os_name, name, host)
    if product:
        return f"{product[0]} runs the daemon in {product[1]}{kernel_note}"
    if host and _remote(host):
        return f"{where}: the daemon is on another machine"
    if uname_release not in UNKNOWN and kernel and kernel != uname_release:
        return f"the daemon's kernel is {kernel}, this machine's is {uname_release}"
    local_socket = not host or host.startswith("unix://")
    if not local_socket and hostname and name and name != hostname:
        return f"{where}: the daemon runs on {name}, not on this machine ({hostname})"
    return None


def context_host(ctx: "Context", facts: DockerFacts) -> str:
    """The docker endpoint of the CLI's current context when it is not the default one ('' otherwise,
    or when its metadata cannot be read): the CLI keeps it in contexts/meta/<sha256 of the name>."""
    config = cli_config(ctx).data
    chosen = ctx.env.get("DOCKER_CONTEXT") or facts.client.get("Context") or \
        (config.get("currentContext") if isinstance(config, dict) else "") or ""  # config.json may be any JSON
    if not isinstance(chosen, str) or chosen in ("", "default"):
        return ""
    import hashlib  # here, not at the top: only a non-default context pays for loading OpenSSL's hashes

    digest = hashlib.sha256(chosen.encode()).hexdigest()
    meta = read_json(ctx, f"{config_dir(ctx)}/contexts/meta/{digest}/meta.json").data
    endpoints = meta.get("Endpoints") if isinstance(meta, dict) else None
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    value = docker.get("Host") if isinstance(docker, dict) else None
    return value if isinstance(value, str) else ""


def daemon_socket(ctx: "Context", facts: DockerFacts) -> str | None:
    """The unix socket of the daemon the CLI talks to, when it is a local one the doctor may ask
    directly (DOCKER_HOST=unix://..., the current context's unix endpoint, or the default socket)."""
    direct = api_socket(ctx)
    if direct or ctx.env.get("DOCKER_HOST"):
        return direct
    host = context_host(ctx, facts).strip()  # a context of its own: its endpoint, when a unix socket
    return host[len("unix://"):] if host.startswith("unix://") and len(host) > len("unix://") else None


def current_context(ctx: "Context", facts: DockerFacts) -> str:
    """The name of the CLI's current context ("default" unless one is chosen)."""
    chosen = ctx.env.get("DOCKER_CONTEXT") or facts.client.get("Context")
    return chosen if isinstance(chosen, str) and chosen else "default"
