"""Check the Docker CLI: which binary, its version against the matrix, context and DOCKER_HOST."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.docker import docker_facts, endpoint
from mab_doctor.host.matrix import requirement, version_lt


@check(name="docker-cli", title="Docker CLI", category="docker")
def docker_cli(ctx: Context) -> Result:
    """What it checks: which `docker` runs (every other copy on PATH is listed), its client version
    from the JSON form of `docker version` against the matrix (CLI plugins such as buildx need
    19.03), and where it talks to: `DOCKER_HOST`, or the active context.

    Why it matters: `docker buildx` is a CLI plugin; a pre-19.03 CLI cannot run it at all, and a
    second, older `docker` earlier on PATH explains "docker: 'buildx' is not a docker command".

    How to fix: install a current Docker CLI (Debian/Ubuntu `docker.io`, or Docker's `docker-ce-cli`)
    and make it the first `docker` on PATH. Podman users can ignore this check.
    """
    facts = docker_facts(ctx)
    copies = ctx.which_all("docker")
    details = [f"on PATH: {', '.join(copies)}"] if copies else []
    if facts.binary is None:
        if ctx.which("podman"):
            return Result.skip("docker is not installed (Podman is: see the podman check)", details=details)
        return Result.fail("neither docker nor podman is installed", details=details,
                           remediation="Install Docker (`sudo apt-get install docker.io`, or Docker's "
                                       "docker-ce packages) or Podman (`sudo apt-get install podman`).")
    req = requirement("docker-cli-plugins")
    version = facts.client.get("Version")
    data = {"binary": facts.binary, "version": version, "api_version": facts.client.get("ApiVersion"),
            "context": facts.client.get("Context"), "docker_host": ctx.env.get("DOCKER_HOST"),
            "other_copies": copies[1:]}
    details.append(f"talks to {endpoint(facts)}")
    if facts.state == "refused":
        return Result.ok(f"{facts.binary} (version not checked on a foreign --root)", details=details, data=data)
    if not version:
        return Result.warn(f"{facts.binary} did not report a client version", details=details + [facts.message],
                           data=data, remediation=f"Run `{facts.binary} version` and check its output.")
    details.append(f"client {version}, API {facts.client.get('ApiVersion')}, from `{facts.command}`")
    if version_lt(version, req.minimum):
        return Result.fail(f"docker {version} is older than {req.minimum}: no CLI plugins, so no buildx",
                           details=details, data=data, remediation=req.remediation)
    return Result.ok(f"docker {version} ({facts.binary}), {endpoint(facts)}", details=details, data=data)
