"""Project discovery: which files are read in which order, Dockerfiles named by builds, notes and problems."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from helpers import PROJECT, TESTS
from mab_doctor.project.intent import read_intent
from mab_doctor.project.model import Build, CiSetup, Platform, Problem, Where

PROJECTS = TESTS / "data" / "projects"
NO_BAKE = "no bake file (docker-bake.json, docker-bake.override.json, docker-bake.hcl, docker-bake.override.hcl)"
NO_COMPOSE = "no compose file (compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)"
NO_GITHUB = "no GitHub Actions workflow (.github/workflows/*.yml)"
NO_GITLAB = "no GitLab CI file (.gitlab-ci.yml)"


@pytest.fixture
def fake_readers(monkeypatch):
    """Stand-ins for the compose and CI readers, recording what they were asked to read."""
    calls: list[tuple] = []

    def read_compose(files, paths, env):
        calls.append(("compose", list(paths), dict(env)))
        build = Build("compose", "web", Where(paths[0], 3), (Platform("linux/arm64", Where(paths[-1], 3)),),
                      dockerfile="Dockerfile", context=".")
        return [build], [Problem(Where(paths[0], 1), "fake compose problem")]

    def read_github_workflow(files, path):
        calls.append(("github", path))
        build = Build("github", "build", Where(path, 9), dockerfile="ci/Dockerfile.ci", context="ci")
        return [CiSetup("github", path, "build", Where(path, 3), builds=(build,))], []

    def read_gitlab_ci(files, path):
        calls.append(("gitlab", path))
        return [CiSetup("gitlab", path, "build", Where(path, 1))], []

    monkeypatch.setitem(sys.modules, "mab_doctor.project.compose",
                        types.SimpleNamespace(read_compose=read_compose))
    monkeypatch.setitem(sys.modules, "mab_doctor.project.workflows",
                        types.SimpleNamespace(read_github_workflow=read_github_workflow, read_gitlab_ci=read_gitlab_ci))
    return calls


def test_empty_directory_is_one_listdir_and_notes(tmp_path):
    intent = read_intent(tmp_path, {})
    assert intent.directory == str(tmp_path)
    assert (intent.files, intent.builds, intent.dockerfiles, intent.ci, intent.problems) == ((), (), (), (), ())
    assert intent.notes == (NO_BAKE, NO_COMPOSE, NO_GITHUB, NO_GITLAB,
                            "no Dockerfile named by a build, and none at the project root")
    assert intent.empty


def test_missing_directory_is_a_problem(tmp_path):
    intent = read_intent(tmp_path / "gone", {})
    assert intent.problems[0].where == Where(".")
    assert intent.problems[0].message.startswith(f"project directory {tmp_path / 'gone'} cannot be listed")
    assert not intent.empty


def test_relative_directory_becomes_absolute(monkeypatch):
    monkeypatch.chdir(PROJECTS)
    intent = read_intent("plain", {})
    assert intent.directory == str(PROJECTS / "plain")
    assert intent.files == ("Dockerfile",)  # Dockerfile wins over Containerfile


def test_bake_project_reads_the_dockerfiles_its_targets_name(fake_readers):
    intent = read_intent(PROJECTS / "webapp", {"TAG": "1"})
    # The root Dockerfile is named only by the _base template (inherited, in no group): not read.
    assert intent.files == ("docker-bake.hcl", "docker-bake.override.hcl", "docker/Dockerfile", "docs/Dockerfile")
    assert [b.name for b in intent.builds] == ["app", "worker", "docs"]
    assert [d.path for d in intent.dockerfiles] == ["docker/Dockerfile", "docs/Dockerfile"]
    assert [p.name for p in intent.platforms] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    assert intent.problems == ()
    assert intent.notes == (NO_COMPOSE, NO_GITHUB, NO_GITLAB)
    assert fake_readers == []  # no YAML file: the YAML readers are never called


def test_compose_and_ci_discovery_order(fake_readers):
    intent = read_intent(PROJECTS / "composeci", {"X": "1"})
    assert fake_readers == [
        ("compose", ["compose.yaml", "compose.override.yaml"], {"X": "1"}),
        ("github", ".github/workflows/ci.yml"),
        ("github", ".github/workflows/release.yaml"),
        ("gitlab", ".gitlab-ci.yml"),
    ]
    assert intent.files == ("compose.yaml", "compose.override.yaml", ".github/workflows/ci.yml",
                            ".github/workflows/release.yaml", ".gitlab-ci.yml", "Dockerfile")
    assert intent.notes == (NO_BAKE, "docker-compose.yml not read: docker compose reads compose.yaml first")
    assert [c.file for c in intent.ci] == [".github/workflows/ci.yml", ".github/workflows/release.yaml",
                                          ".gitlab-ci.yml"]
    # ci/Dockerfile.ci, named by a CI build, does not exist: a problem naming that build
    assert intent.problems[0] == Problem(Where("compose.yaml", 1), "fake compose problem")
    assert intent.problems[1].where == Where("ci/Dockerfile.ci")
    assert intent.problems[1].message.endswith("(the Dockerfile of github 'build' at .github/workflows/ci.yml:9)")
    assert len(intent.problems) == 2
    assert [d.path for d in intent.dockerfiles] == ["Dockerfile"]


def test_broken_project_gathers_problems_from_every_file():
    intent = read_intent(PROJECTS / "broken", {})
    assert intent.files == ("docker-bake.hcl", "Dockerfile")
    assert [(p.where.file, p.where.line) for p in intent.problems] == [
        ("docker-bake.hcl", 3), ("Dockerfile", 1), ("Dockerfile", 2), ("Dockerfile", 3), ("Dockerfile", 4)]


def test_non_regular_files_are_problems_not_reads(tmp_path):
    os.mkfifo(tmp_path / "Dockerfile")
    (tmp_path / "docker-bake.hcl").mkdir()
    intent = read_intent(tmp_path, {})
    assert intent.files == ()
    assert intent.problems == (
        Problem(Where("docker-bake.hcl"), "directory, not a regular file: not read"),
        Problem(Where("Dockerfile"), "FIFO, not a regular file: not read"),
    )


def test_with_the_real_compose_and_ci_readers():
    intent = read_intent(PROJECTS / "composeci", {})
    assert intent.files == ("compose.yaml", "compose.override.yaml", ".github/workflows/ci.yml",
                            ".github/workflows/release.yaml", ".gitlab-ci.yml", "Dockerfile")
    assert [(b.kind, b.name, b.dockerfile) for b in intent.builds] == [("compose", "web", "Dockerfile")]
    assert [p.name for p in intent.builds[0].platforms] == ["linux/arm64"]  # from the override file
    assert [c.file for c in intent.ci][-1] == ".gitlab-ci.yml"
    assert [d.path for d in intent.dockerfiles] == ["Dockerfile"]
    assert intent.problems == ()


def test_no_yaml_or_hcl_imported_for_a_plain_dockerfile_project():
    code = ("import sys; from mab_doctor.project.intent import read_intent; read_intent(sys.argv[1], {}); "
            "print(*[m in sys.modules for m in ('yaml', 'hcl2', 'lark')])")
    out = subprocess.run([sys.executable, "-c", code, str(PROJECTS / "plain")], capture_output=True, text=True,
                         cwd=PROJECT, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def _workflows_as(tmp_path, make) -> tuple:
    project = tmp_path / "proj"
    (project / ".github").mkdir(parents=True)
    (project / "Dockerfile").write_text("FROM x\n")
    make(project / ".github" / "workflows")
    intent = read_intent(project, {})
    return intent.problems, NO_GITHUB in intent.notes


def test_a_workflows_folder_that_is_not_a_folder_is_a_problem(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "ci.yml").write_text("jobs: {}\n")
    assert _workflows_as(tmp_path / "1", os.mkfifo) == (
        (Problem(Where(".github/workflows"), "a FIFO, not a directory: not read"),), False)
    assert _workflows_as(tmp_path / "2", lambda p: p.symlink_to(outside)) == (
        (Problem(Where(".github/workflows"), "a dangling symlink, not a directory: not read"),), False)
    assert _workflows_as(tmp_path / "3", lambda p: p.symlink_to("workflows")) == (
        (Problem(Where(".github/workflows"), "too many levels of symbolic links"),), False)


def test_no_workflows_folder_is_only_a_note(tmp_path):
    assert _workflows_as(tmp_path, lambda p: None) == ((), True)
    assert _workflows_as(tmp_path / "empty", lambda p: p.mkdir()) == ((), True)


def test_a_dockerfile_named_outside_the_project_is_one_clean_problem(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (tmp_path / "bait").write_text("FROM secret\n")
    (project / "docker-bake.hcl").write_text('target "a" {\n  dockerfile = "%s"\n}\n' % (tmp_path / "bait"))
    intent = read_intent(project, {})
    assert intent.dockerfiles == ()
    assert intent.problems == (Problem(Where(str(tmp_path / "bait")), "Dockerfile path outside the project directory: "
                                       "not read (the Dockerfile of bake 'a' at docker-bake.hcl:1)"),)
