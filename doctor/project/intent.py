"""Finds a project's bake, compose, CI and Dockerfiles and reads them into one Intent."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from pathlib import Path

from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Build, CiSetup, Dockerfile, Intent, Problem, Where

# buildx bake's default files, in its reading order. Each kind of file's reader is imported only when the
# project has such a file: a folder without build files does not pay for parsers it does not need.
BAKE_FILES = ("docker-bake.json", "docker-bake.override.json", "docker-bake.hcl", "docker-bake.override.hcl")
# docker compose takes the first of these that exists, then the override of the same family.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
COMPOSE_OVERRIDES = ("compose.override.yaml", "compose.override.yml",
                     "docker-compose.override.yaml", "docker-compose.override.yml")
WORKFLOWS = ".github/workflows"
GITLAB_CI = ".gitlab-ci.yml"
ROOT_DOCKERFILES = ("Dockerfile", "Containerfile")


class _Gathered:
    """What reading has found so far."""

    def __init__(self, files: ProjectFiles) -> None:
        self.files = files
        self.read: list[str] = []
        self.builds: list[Build] = []
        self.dockerfiles: list[Dockerfile] = []
        self.ci: list[CiSetup] = []
        self.problems: list[Problem] = []
        self.notes: list[str] = []

    def present(self, path: str) -> bool:
        """A regular file (a directory or device of that name is noted and skipped)."""
        kind = self.files.kind(path)
        if kind == "file":
            return True
        if kind != "missing":
            self.problems.append(Problem(Where(path), f"{kind}, not a regular file: not read"))
        return False


def _compose(got: _Gathered, names: set[str], env: Mapping[str, str]) -> None:
    main = [n for n in COMPOSE_FILES if n in names and got.present(n)]
    if not main:
        got.notes.append("no compose file (" + ", ".join(COMPOSE_FILES) + ")")
        return
    paths = main[:1]
    got.notes += [f"{n} not read: docker compose reads {main[0]} first" for n in main[1:]]
    overrides = [n for n in COMPOSE_OVERRIDES if n in names and got.present(n)]
    paths += overrides[:1]
    got.notes += [f"{n} not read: docker compose uses {overrides[0]} as the override" for n in overrides[1:]]
    from mab_doctor.project.compose import read_compose  # YAML is only loaded for projects that have it

    builds, problems = read_compose(got.files, paths, env)
    got.read += paths
    got.builds += builds
    got.problems += problems


def _ci(got: _Gathered, names: set[str]) -> None:
    workflows: list[str] = []
    kind = got.files.kind(WORKFLOWS) if ".github" in names else "missing"
    if kind == "directory":
        entries, why = got.files.listdir(WORKFLOWS)
        if why:
            got.problems.append(Problem(Where(WORKFLOWS), why.lstrip("/")))
        workflows = [f"{WORKFLOWS}/{n}" for n in entries if n.endswith((".yml", ".yaml"))]
        workflows = [p for p in workflows if got.present(p)]
    elif kind != "missing":  # there, but not a folder to read: as worth saying as an unreadable file
        got.problems.append(Problem(Where(WORKFLOWS), _not_a_directory(got.files, kind)))
    if workflows:
        from mab_doctor.project.workflows import read_github_workflow

        for path in workflows:
            setups, problems = read_github_workflow(got.files, path)
            got.read.append(path)
            got.ci += setups
            got.problems += problems
    elif kind in ("missing", "directory"):  # otherwise the problem above already says why
        got.notes.append(f"no GitHub Actions workflow ({WORKFLOWS}/*.yml)")
    if GITLAB_CI in names and got.present(GITLAB_CI):
        from mab_doctor.project.workflows import read_gitlab_ci

        setups, problems = read_gitlab_ci(got.files, GITLAB_CI)
        got.read.append(GITLAB_CI)
        got.ci += setups
        got.problems += problems
    else:
        got.notes.append(f"no GitLab CI file ({GITLAB_CI})")


def _not_a_directory(files: ProjectFiles, kind: str) -> str:
    if kind == "error":  # a link loop, a permission: the reason the lookup gives, without the path again
        return files.listdir(WORKFLOWS)[1].partition(": ")[2] or "not readable"
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}, not a directory: not read"


def _dockerfiles(got: _Gathered, names: set[str]) -> None:
    builds = got.builds + [b for setup in got.ci for b in setup.builds]
    named_by = {}
    for build in builds:
        if build.dockerfile:
            named_by.setdefault(posixpath.normpath(build.dockerfile), build)
    wanted = list(named_by)
    if not wanted:
        wanted = [n for n in ROOT_DOCKERFILES if n in names and got.present(n)][:1]
        if not wanted:
            got.notes.append("no Dockerfile named by a build, and none at the project root")
    if wanted:
        from mab_doctor.project.dockerfile import read_dockerfile
    for path in wanted:
        dockerfile, problems = read_dockerfile(got.files, path)
        if dockerfile is not None:
            got.read.append(path)
            got.dockerfiles.append(dockerfile)
        elif path in named_by:  # say which build wants the missing file
            build = named_by[path]
            problems = [Problem(p.where, f"{p.message} (the Dockerfile of {build.kind} {build.name!r} at "
                                         f"{build.where})") for p in problems]
        got.problems += problems


def read_intent(directory: str | Path, env: Mapping[str, str]) -> Intent:
    """Read what the project in `directory` says it builds; never raises (bad files become problems)."""
    absolute = os.path.abspath(os.fspath(directory))
    files = ProjectFiles(absolute)
    got = _Gathered(files)
    entries, why = files.listdir("")
    if why:
        problem = Problem(Where("."), f"project directory {absolute} cannot be listed: {why}")
        return Intent(directory=absolute, problems=(problem,))
    names = set(entries)
    bake = [n for n in BAKE_FILES if n in names and got.present(n)]
    if bake:
        from mab_doctor.project.bake import read_bake

        builds, problems = read_bake(files, bake, env)
        got.read += bake
        got.builds += builds
        got.problems += problems
    else:
        got.notes.append("no bake file (" + ", ".join(BAKE_FILES) + ")")
    _compose(got, names, env)
    _ci(got, names)
    _dockerfiles(got, names)
    return Intent(directory=absolute, files=tuple(got.read), builds=tuple(got.builds),
                  dockerfiles=tuple(got.dockerfiles), ci=tuple(got.ci), problems=tuple(got.problems),
                  notes=tuple(got.notes))
