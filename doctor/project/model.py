"""Frozen values of the build intent: builds, Dockerfile stages, CI set-up steps, each with file and line."""

from __future__ import annotations

from dataclasses import field

from mab_doctor.core.record import record


@record(order=True)
class Where:
    """A place in a project file: its path relative to the project, line (1-based), column (1-based, 0 unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")


@record
class Problem:
    """A project file that could not be read or understood (a WARN naming file, line and column)."""

    where: Where
    message: str


@record
class Platform:
    """One platform string as the project writes it (normalised by the reader when it parses), and where."""

    name: str
    where: Where


@record
class Build:
    """One build invocation the project makes: every platform in ``platforms`` is built by ONE command
    (a bake target, a compose service, a CI step), which is what decides the builder path."""

    kind: str                               # "bake", "compose", "github", "gitlab"
    name: str                               # the bake target, compose service, workflow job/step
    where: Where                            # where the build is declared
    platforms: tuple[Platform, ...] = ()    # empty: the builder's default (the host's platform)
    engine: str = "buildx"                  # "buildx", "podman", "buildah"
    load: bool = False                      # the image goes to the local image store (--load, load: true)
    push: bool = False
    outputs: tuple[str, ...] = ()           # exporter specs as written (`type=docker`, `type=oci,dest=...`)
    dockerfile: str | None = None           # project-relative path of the Dockerfile this build uses
    context: str | None = None              # project-relative build context
    builder: str | None = None              # a builder named by the build (bake/compose/step input)


@record
class Stage:
    """One FROM line of a Dockerfile."""

    image: str                              # as written after variable defaults were applied
    where: Where
    platform: str | None = None             # the --platform value as written, e.g. "$BUILDPLATFORM"
    name: str | None = None                 # AS name
    arch_prefix: str | None = None          # platform implied by an arch-prefixed base (arm64v8/ -> linux/arm64)
    from_stage: bool = False                # FROM an earlier stage of this file, not an image

    @property
    def on_build_platform(self) -> bool:
        """The stage runs on the builder's own platform (no emulation), as `--platform=$BUILDPLATFORM` asks."""
        return self.platform is not None and "BUILDPLATFORM" in self.platform


@record
class Dockerfile:
    """What a Dockerfile says that the doctor judges: bases, users, setuid programs called in RUN steps."""

    path: str                                            # project-relative
    stages: tuple[Stage, ...] = ()
    users: tuple[tuple[str, Where], ...] = ()            # USER lines
    setuid_calls: tuple[tuple[str, Where], ...] = ()     # (program, where) for sudo, su, ping, ... in RUN

    def setuid_as_non_root(self) -> list[tuple[str, Where, str]]:
        """(program, where, user) of each setuid program a RUN step calls while a non-root USER is in
        effect: the last USER line above it in the same stage (every FROM starts again as root)."""
        found = []
        for program, where in self.setuid_calls:
            start = max((s.where.line for s in self.stages if s.where.line <= where.line), default=0)
            users = [u for u, w in self.users if start <= w.line < where.line]
            if users and users[-1].split(":", 1)[0] not in ("root", "0", ""):
                found.append((program, where, users[-1]))
        return found


@record
class CiSetup:
    """The QEMU and buildx set-up steps of one CI job, and the builds that job runs, in order."""

    kind: str                               # "github" or "gitlab"
    file: str                               # project-relative path
    job: str
    where: Where                            # the job
    qemu: Where | None = None               # docker/setup-qemu-action step (or a binfmt install command)
    qemu_platforms: tuple[str, ...] = ()    # its `platforms` input; empty: all
    buildx: Where | None = None             # docker/setup-buildx-action step
    buildx_driver: str | None = None        # its `driver` input; None: docker-container (the action's default)
    builds: tuple[Build, ...] = ()          # in step order


@record
class Intent:
    """Everything read from one project directory."""

    directory: str                                   # as given (absolute)
    files: tuple[str, ...] = ()                      # project-relative paths read, in reading order
    builds: tuple[Build, ...] = ()                   # bake targets and compose services
    dockerfiles: tuple[Dockerfile, ...] = ()
    ci: tuple[CiSetup, ...] = ()                     # CI jobs, each with the builds its steps run
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = field(default=())       # what was looked for and not found, skipped files...

    @property
    def all_builds(self) -> tuple[Build, ...]:
        """The bake and compose builds, then every CI job's builds in file order."""
        return self.builds + tuple(build for setup in self.ci for build in setup.builds)

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """Every platform the builds name (CI jobs' too), first mention first, each once (with that place)."""
        seen: dict[str, Platform] = {}
        for build in self.all_builds:
            for platform in build.platforms:
                seen.setdefault(platform.name, platform)
        return tuple(seen.values())

    @property
    def setuid_steps(self) -> list[tuple[str, Where, str]]:
        """(program, where, user) of every RUN step in the project's Dockerfiles that calls a setuid
        program as a non-root USER: such steps need the C flag when they are emulated."""
        return [hit for dockerfile in self.dockerfiles for hit in dockerfile.setuid_as_non_root()]

    @property
    def empty(self) -> bool:
        """Nothing build-related was found."""
        return not (self.files or self.problems)
