"""`mab-doctor plan`: the build intent of fixture projects as text and JSON, escaped, never starting anything."""

from __future__ import annotations

import json

import pytest

from helpers import TESTS
from mab_doctor.cli import main

PROJECTS = TESTS / "data" / "projects"
NO_BAKE = "  no bake file (docker-bake.json, docker-bake.override.json, docker-bake.hcl, docker-bake.override.hcl)"
NO_COMPOSE = "  no compose file (compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)"


@pytest.fixture(autouse=True)
def no_commands(monkeypatch):
    """plan starts nothing: any subprocess fails the test; MAB_PLATFORMS is the test's own choice."""
    import subprocess

    def refuse(*args, **kw):
        raise AssertionError(f"plan started a command: {args}")
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.delenv("MAB_PLATFORMS", raising=False)


def plan(capsys, *argv):
    code = main(["plan", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_plain_project_text(capsys):
    code, out, err = plan(capsys, "--project", str(PROJECTS / "plain"))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"project {PROJECTS / 'plain'}"
    assert lines[1:5] == ["targets (3):", "  linux/amd64   from default", "  linux/arm64   from default",
                          "  linux/arm/v7  from default"]
    assert lines[5:7] == ["files read (1):", "  Dockerfile"]
    assert lines[7:] == ["builds (0):", "  none", "Dockerfiles (1):", "  Dockerfile",
                         "    FROM arm32v7/debian:bookworm-slim [arch prefix: linux/arm/v7]  (Dockerfile:1:6)",
                         "    setuid program sudo in RUN  (Dockerfile:4:13)", "CI set-up (0):", "  none",
                         "problems (0):", "  none", "notes:", NO_BAKE, NO_COMPOSE,
                         "  no GitHub Actions workflow (.github/workflows/*.yml)", "  no GitLab CI file (.gitlab-ci.yml)"]


def test_webapp_targets_builds_and_dockerfiles(capsys):
    code, out, _ = plan(capsys, "--project", str(PROJECTS / "webapp"))
    lines = out.splitlines()
    assert code == 0
    assert lines[1:5] == ["targets (3):", "  linux/amd64   from docker-bake.hcl:22",
                          "  linux/arm64   from docker-bake.hcl:22", "  linux/arm/v7  from docker-bake.hcl:22"]
    i = lines.index("  bake worker  (docker-bake.hcl:34)")
    assert lines[i + 1:i + 4] == ["    platforms:  linux/amd64",
                                  "    engine:     buildx; load yes, push no, outputs type=docker",
                                  "    Dockerfile: docker/Dockerfile"]
    assert "    FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS Build [runs on the build platform]  " \
           "(docker/Dockerfile:6:32)" in lines
    assert "    FROM arm64v8/alpine:3.19 AS arm [arch prefix: linux/arm64]  (docker/Dockerfile:23:6)" in lines
    assert "    USER app:app  (docker/Dockerfile:20:1)" in lines
    assert "    setuid program ping in RUN  (docker/Dockerfile:19:46)" in lines


def test_platform_option_wins_over_the_project(capsys, monkeypatch):
    _, out, _ = plan(capsys, "--project", str(PROJECTS / "webapp"), "--platform", "linux/riscv64")
    assert out.splitlines()[1:3] == ["targets (1):", "  linux/riscv64  from --platform"]
    monkeypatch.setenv("MAB_PLATFORMS", "linux/s390x")
    _, out, _ = plan(capsys, "--project", str(PROJECTS / "webapp"))
    assert out.splitlines()[1:3] == ["targets (1):", "  linux/s390x  from MAB_PLATFORMS"]


def test_ci_jobs_in_text(capsys):
    _, out, _ = plan(capsys, "--project", str(PROJECTS / "gha-ordered"))
    lines = out.splitlines()
    i = lines.index("  github .github/workflows/release.yml job image  (.github/workflows/release.yml:6:3)")
    assert lines[i + 1:i + 4] == [
        "    QEMU:   .github/workflows/release.yml:10:9, platforms linux/arm64, linux/arm/v7",
        "    buildx: .github/workflows/release.yml:14:9, driver docker-container",
        "    github image step Build and push  (.github/workflows/release.yml:18:9)"]
    assert lines[i + 7:i + 9] == ["  github .github/workflows/release.yml job test  (.github/workflows/release.yml:27:3)",
                                  "    QEMU:   no set-up step"]


def test_a_problem_without_a_line_is_not_named_twice(capsys):
    _, out, _ = plan(capsys, "--project", str(PROJECTS / "gha-ordered"))
    assert "  app/Dockerfile: not found (the Dockerfile of github 'image step Build and push' at " \
           ".github/workflows/release.yml:18:9)" in out.splitlines()


def test_problems_are_shown_and_exit_is_zero(capsys):
    code, out, _ = plan(capsys, "--project", str(PROJECTS / "broken"))
    assert code == 0
    lines = out.splitlines()
    assert "problems (5):" in lines
    assert "  Dockerfile:3:1: unknown instruction 'COPPY'" in lines
    assert "  Dockerfile:4:5: FROM: unknown flag --platfrom" in lines


def test_json_keys_and_values(capsys):
    code, out, _ = plan(capsys, "--project", str(PROJECTS / "gha-ordered"), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert list(data) == ["schema", "directory", "targets", "files", "builds", "dockerfiles", "ci", "problems",
                          "notes"]
    assert data["schema"] == "mab-doctor/plan/v1" and data["directory"] == str(PROJECTS / "gha-ordered")
    # The build step's `platforms:` input (line 22, column 11) names all three: the CI build's targets.
    where = ".github/workflows/release.yml:22:11"
    assert data["targets"] == [{"platform": "linux/amd64", "source": where},
                               {"platform": "linux/arm64", "source": where},
                               {"platform": "linux/arm/v7", "source": where}]
    assert data["files"] == [".github/workflows/release.yml"]
    image = data["ci"][0]
    assert {k: image[k] for k in ("kind", "file", "job", "where", "qemu", "qemu_platforms", "buildx",
                                  "buildx_driver")} == {
        "kind": "github", "file": ".github/workflows/release.yml", "job": "image",
        "where": ".github/workflows/release.yml:6:3", "qemu": ".github/workflows/release.yml:10:9",
        "qemu_platforms": ["linux/arm64", "linux/arm/v7"], "buildx": ".github/workflows/release.yml:14:9",
        "buildx_driver": "docker-container"}
    (b,) = image["builds"]
    assert b == {"kind": "github", "name": "image step Build and push", "where": ".github/workflows/release.yml:18:9",
                 "platforms": ["linux/amd64", "linux/arm64", "linux/arm/v7"], "engine": "buildx", "load": False,
                 "push": True, "outputs": [], "dockerfile": "app/Dockerfile", "context": "./app", "builder": None}


def test_json_dockerfile_stages(capsys):
    _, out, _ = plan(capsys, "--project", str(PROJECTS / "webapp"), "--format", "json")
    data = json.loads(out)
    docker = next(d for d in data["dockerfiles"] if d["path"] == "docker/Dockerfile")
    assert docker["stages"][0] == {"image": "golang:1.22-alpine", "where": "docker/Dockerfile:6:32",
                                   "platform": "$BUILDPLATFORM", "name": "Build", "arch_prefix": None,
                                   "from_stage": False, "build_platform": True}
    assert docker["users"] == [{"user": "app:app", "where": "docker/Dockerfile:20:1"}]
    assert {"program": "su", "where": "docker/Dockerfile:21:24"} in docker["setuid_calls"]


def test_control_characters_never_reach_the_terminal(capsys):
    _, out, _ = plan(capsys, "--project", str(PROJECTS / "ci-hostile"))
    assert "\x1b" not in out and "\r" not in out
    assert "  github .github/workflows/evil.yml job evil\\x1b[31mjob  (.github/workflows/evil.yml:3:3)" in out.splitlines()
    _, out, _ = plan(capsys, "--project", str(PROJECTS / "ci-hostile"), "--format", "json")
    assert "\x1b" not in out and json.loads(out)["ci"][0]["job"] == "evil\x1b[31mjob"


def test_output_file(capsys, tmp_path):
    target = tmp_path / "plan.txt"
    code, out, _ = plan(capsys, "--project", str(PROJECTS / "plain"), "--output", str(target))
    assert code == 0 and out == ""
    assert target.read_text().splitlines()[:2] == [f"project {PROJECTS / 'plain'}", "targets (3):"]


def test_bad_project_and_operands_are_usage_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = plan(capsys, "--project", "nowhere")
    assert code == 2 and err == "mab-doctor: error: --project nowhere: not a readable directory\n"
    code, _, err = plan(capsys, "extra")
    assert code == 2 and err == "mab-doctor: error: plan takes no arguments (use --project DIR for another directory)\n"


def test_help_plan(capsys):
    assert main(["help", "plan"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mab-doctor plan")
    assert "--project DIR" in out and "--platform LIST" in out and "--format {text,json}" in out
