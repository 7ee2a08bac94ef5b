"""The build commands a run judges: the project's own local builds, or the one the targets describe."""

from __future__ import annotations

from typing import Mapping

from mab_doctor.core.record import record
from mab_doctor.project.model import Intent

EXPLICIT = ("--platform", "MAB_PLATFORMS", "default")  # target sources that are not a project file


@record
class Invocation:
    """One build command: every platform in ``platforms`` goes through ONE builder invocation."""

    label: str                     # "`docker buildx build --platform ...`", "bake target app"
    where: str                     # "docker-bake.hcl:12"; "" for the command the targets describe
    platforms: tuple[str, ...]
    engine: str = "buildx"         # "buildx", "podman", "buildah"
    load: bool = False
    builder: str | None = None     # a builder the build names; None: the current one
    outputs: tuple[str, ...] = ()  # exporters as written; podman/buildah `--manifest X` as "manifest=X"

    @property
    def manifest(self) -> str | None:
        """The manifest list a podman/buildah build adds every platform to (None: none named)."""
        return next((o.split("=", 1)[1] for o in self.outputs if o.startswith("manifest=")), None)


def _runs_here(kind: str, env: Mapping[str, str]) -> bool:
    # A CI job's builds run on this machine only inside that CI; elsewhere bake and compose do.
    if kind == "github":
        return env.get("GITHUB_ACTIONS") == "true"
    if kind == "gitlab":
        return env.get("GITLAB_CI") == "true"
    return True


def invocations(intent: Intent | None, targets: list[str], sources: Mapping[str, str],
                env: Mapping[str, str]) -> list[Invocation]:
    """The project's builds that run on this machine, each cut to the run's targets, when the targets
    came from the project; otherwise one `docker buildx build` of every target, as the defaults and
    `--platform` mean."""
    from_project = intent is not None and any(s not in EXPLICIT for s in sources.values())
    found = []
    if from_project:
        for build in intent.all_builds:
            chosen = tuple(dict.fromkeys(p.name for p in build.platforms if p.name in targets))
            if chosen and _runs_here(build.kind, env):
                label = {"bake": "bake target", "compose": "compose service"}.get(build.kind, f"{build.kind} build")
                found.append(Invocation(f"{label} {build.name}", str(build.where), chosen, build.engine,
                                        build.load,
                                        build.builder, build.outputs))
    if found or not targets:
        return found
    return [Invocation(f"`docker buildx build --platform {','.join(targets)}`", "", tuple(targets))]

