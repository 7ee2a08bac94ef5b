"""Which probe builds stand for a run's builds: same engine, same builder, same platforms per invocation."""

from __future__ import annotations


from mab_doctor.core.record import record
from mab_doctor.project.invocations import Invocation

MAX_BUILDS = 6  # a probe build costs about a second per engine start; more builds would only repeat


@record
class ProbeBuild:
    """One probe build: every platform in ``platforms`` goes through one invocation, as the user's does."""

    engine: str                      # "buildx", "podman", "buildah"
    builder: str | None              # a builder the user's builds name; None: the current one
    platforms: tuple[str, ...]
    stands_for: tuple[str, ...]      # the builds it stands for ("bake target app (docker-bake.hcl:3)")


def probe_builds(runs: list[Invocation]) -> list[ProbeBuild]:
    """One probe build per (engine, builder) with every platform its builds name, in one invocation
    when any of those builds names several platforms at once (a multi-platform build is what the
    builder must then accept), else one probe build per platform (each build names one)."""
    groups: dict[tuple[str, str | None], list[Invocation]] = {}
    for run in runs:
        if run.platforms:
            groups.setdefault((run.engine, run.builder if run.engine == "buildx" else None), []).append(run)
    plan = []
    for (engine, builder), members in groups.items():
        platforms = tuple(dict.fromkeys(p for run in members for p in run.platforms))
        labels = tuple(dict.fromkeys(_named(run) for run in members))
        together = engine != "buildx" or any(len(run.platforms) > 1 for run in members)
        if together:
            plan.append(ProbeBuild(engine, builder, platforms, labels))
        else:
            plan.extend(ProbeBuild(engine, builder, (p,), tuple(dict.fromkeys(
                _named(run) for run in members if p in run.platforms))) for p in platforms)
    return plan[:MAX_BUILDS]


def _named(run: Invocation) -> str:
    return run.label + (f" ({run.where})" if run.where else "")
