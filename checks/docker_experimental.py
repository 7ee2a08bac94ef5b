"""Check Docker's experimental switches, judged by version: needed only for 19.03-era Docker."""

from __future__ import annotations

from mab_doctor.api import Context, Fix, Result, check
from mab_doctor.engines.docker import DAEMON_JSON, cli_config, daemon_config, docker_facts
from mab_doctor.fix import actions
from mab_doctor.host.matrix import requirement, version_lt


def daemon_cmdline_flag(ctx: Context) -> bool | None:
    """Whether a running dockerd was started with --experimental (None: no dockerd process seen).
    Read from /proc/<pid>/comm and cmdline through the context, so a captured /proc is read
    inside its --root like every other file."""
    seen = None
    for pid in ctx.listdir("/proc"):
        if not pid.isdigit() or (ctx.read_text(f"/proc/{pid}/comm", 4096) or "").strip() != "dockerd":
            continue
        argv = (ctx.read_bytes(f"/proc/{pid}/cmdline", 1 << 20) or b"").split(b"\0")
        seen = bool(seen) or b"--experimental" in argv
    return seen


def _truthy(value) -> bool:
    return value is True or str(value).lower() in ("enabled", "true", "1")


@check(name="docker-experimental", title="Docker experimental features", category="docker",
       requires=("docker-cli",), fixable=True)
def docker_experimental(ctx: Context) -> Result:
    """What it checks: the client side (`DOCKER_CLI_EXPERIMENTAL`, `"experimental"` in the CLI's
    config.json under DOCKER_CONFIG or ~/.docker) and the daemon side (`docker version`,
    /etc/docker/daemon.json, the running dockerd's command line), judged by the matrix: Docker 19.03
    needs client experimental for buildx and `docker manifest`, and daemon experimental for
    `--platform` on pull/run and the classic builder; from 20.10 on neither is needed.

    Why it matters: on 19.03, buildx is hidden and `--platform` is refused without these switches;
    on 20.10+ blog posts still tell people to set them, which changes nothing. A corrupt config.json
    or daemon.json breaks the CLI or the daemon outright.

    How to fix: on 19.03, `export DOCKER_CLI_EXPERIMENTAL=enabled` or `mab-doctor --fix` (adds
    "experimental": "enabled" to config.json, keeping every other key, with a backup); better,
    upgrade to Docker 20.10 or newer. Fix a corrupt JSON file at the line and column shown.
    """
    facts = docker_facts(ctx)
    config, daemon = cli_config(ctx), daemon_config(ctx)
    broken = [f.error for f in (config, daemon) if f.error]
    unreadable = [f.unreadable for f in (config, daemon) if f.unreadable]
    if broken:
        return Result.fail(f"corrupt JSON: {broken[0]}", details=broken, data={"errors": broken},
                           remediation="Fix the syntax at that line and column (the file was not changed); "
                                       "the docker CLI or daemon refuses to start with it as it is.")
    if unreadable:
        return Result.warn(f"cannot read {unreadable[0]}", details=unreadable, data={"unreadable": unreadable},
                           remediation="Make it a regular file this user can read: the docker CLI or daemon "
                                       "cannot read it either, and its experimental switches are unknown.")
    client_on = _truthy(ctx.env.get("DOCKER_CLI_EXPERIMENTAL")) or _truthy((config.data or {}).get("experimental"))
    server = facts.server or {}
    components = server.get("Components") if isinstance(server.get("Components"), list) else []
    engine = next((c.get("Details") for c in components if isinstance(c, dict) and c.get("Name") == "Engine"
                   and isinstance(c.get("Details"), dict)), {})
    daemon_on = _truthy(server.get("Experimental", engine.get("Experimental"))) or \
        _truthy((daemon.data or {}).get("experimental")) or bool(daemon_cmdline_flag(ctx))
    details = [f"client: DOCKER_CLI_EXPERIMENTAL={ctx.env.get('DOCKER_CLI_EXPERIMENTAL', '(unset)')}, "
               f"{config.path}: experimental={(config.data or {}).get('experimental', '(unset)')}",
               f"daemon: {'experimental' if daemon_on else 'not experimental'} "
               f"(docker version, {DAEMON_JSON}, dockerd command line)"]
    data = {"client_experimental": client_on, "daemon_experimental": daemon_on}
    cli_req, daemon_req = requirement("docker-cli-experimental"), requirement("docker-daemon-experimental")
    client_version, server_version = facts.client.get("Version"), server.get("Version")
    if not client_version:
        return Result.skip(f"client version unknown ({facts.state}): nothing to judge", details=details)
    if not version_lt(client_version, cli_req.maximum_exclusive):
        why = (f"not needed: Docker CLI {client_version} always enables experimental features (since "
               f"{cli_req.maximum_exclusive}; DOCKER_CLI_EXPERIMENTAL and config.json are ignored)")
        old_daemon = server_version and version_lt(server_version, daemon_req.maximum_exclusive)
        if old_daemon and not daemon_on:
            return Result.warn(f"daemon {server_version} is not experimental: `--platform` on pull/run needs it",
                               details=[why] + details, data=data, remediation=daemon_req.remediation)
        return Result.ok(why, details=details, data=data)
    if not client_on:
        fix = Fix.of(f"Set \"experimental\": \"enabled\" in {config.path}",
                     actions.json_set(config.path, {"experimental": "enabled"}))
        return Result.fail(f"Docker CLI {client_version} hides buildx unless experimental is enabled",
                           details=details, data=data, fix=fix, remediation=cli_req.remediation)
    if server_version and not daemon_on:
        return Result.warn(f"daemon {server_version} is not experimental: `docker pull --platform` is refused",
                           details=details, data=data, remediation=daemon_req.remediation)
    return Result.ok(f"experimental enabled where Docker {client_version} needs it", details=details, data=data)
