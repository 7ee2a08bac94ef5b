"""Property-based fuzzing of the project file readers: any text or bytes gives values and problems, never an
exception, in bounded time. Examples are derandomized so every run tries the same inputs."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mab_doctor.host.platforms import parse_platform
from mab_doctor.project.bake import parse_bake, read_bake
from mab_doctor.project.dockerfile import parse_dockerfile, read_dockerfile
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Build, Dockerfile, Platform, Problem, Stage, Where

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
SECONDS = 2.0  # per example: the readers are linear; this only catches runaway backtracking

# Pieces of real Dockerfiles and bake files, so generated input reaches deep into the parsers.
DOCKERFILE_WORDS = ["FROM", "from", "--platform=$BUILDPLATFORM", "AS", "as", "alpine", "arm64v8/debian", "ARG",
                    "X=1", "${X}", "${X:-y}", "$X", "RUN", "sudo", "/bin/su", "&&", "||", ";", "|", "'", '"',
                    "\\", "`", "\n", "\\\n", "<<EOF", "EOF", "<<-E", "\tE", "# escape=`", "#", "USER", "root",
                    '["sh","-c","ping x"]', "[", "env", "exec", "COPY", "\x00", " ", "\t", "\r\n"]
BAKE_WORDS = ['target "t" {', 'target "u" {', "}", "{", 'group "g" {', 'targets = ["t", "u"]', 'variable "V" {',
              'default = "linux/arm64"', 'platforms = ["${V}", "linux/amd64"]', 'platforms = V', "inherits = [\"u\"]",
              "inherits = [\"t\"]", 'output = ["type=docker"]', "output = [{type = \"registry\"}]", "\n", "=",
              '"', "${", "[", "]", ",", '{"target": {"t": {"platforms": ["linux/arm/v7"]}}}', "#", "/*", "*/",
              "<<EOT\nx\nEOT", "\x00", "é"]


def _check_dockerfile(got: Dockerfile, problems: list[Problem]) -> None:
    assert isinstance(got, Dockerfile) and isinstance(problems, list)
    assert all(isinstance(s, Stage) and isinstance(s.image, str) and s.image for s in got.stages)
    assert all(s.where.line >= 1 and s.where.column >= 1 for s in got.stages)
    assert all(isinstance(u, str) and isinstance(w, Where) for u, w in got.users)
    assert all(p in ("sudo", "su", "ping", "ping6", "passwd", "chsh", "chfn", "newgrp", "gpasswd", "mount",
                     "umount", "pkexec", "fusermount", "fusermount3") for p, _ in got.setuid_calls)
    assert all(isinstance(p, Problem) and "\n" not in p.message for p in problems)


def _check_bake(builds: list[Build], problems: list[Problem]) -> None:
    assert isinstance(builds, list) and isinstance(problems, list)
    for build in builds:
        assert isinstance(build, Build) and build.kind == "bake" and isinstance(build.name, str)
        for platform in build.platforms:
            assert isinstance(platform, Platform)
            assert str(parse_platform(platform.name)) == platform.name  # only canonical spellings get through
    assert all(isinstance(p, Problem) and "\n" not in p.message for p in problems)


@FUZZ
@given(ANY_TEXT)
def test_dockerfile_any_text(text):
    start = time.monotonic()
    _check_dockerfile(*parse_dockerfile("Dockerfile", text, {"X": "alpine"}))
    assert time.monotonic() - start < SECONDS


@FUZZ
@given(st.lists(st.sampled_from(DOCKERFILE_WORDS), max_size=60).map(" ".join))
def test_dockerfile_near_grammar(text):
    _check_dockerfile(*parse_dockerfile("Dockerfile", text))


@FUZZ
@given(st.binary(max_size=300))
def test_dockerfile_any_bytes(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("df")
    (folder / "Dockerfile").write_bytes(data)
    got, problems = read_dockerfile(ProjectFiles(folder), "Dockerfile")
    if got is None:
        assert len(problems) == 1 and problems[0].where == Where("Dockerfile")
    else:
        _check_dockerfile(got, problems)


@FUZZ
@given(ANY_TEXT, st.sampled_from(["docker-bake.hcl", "docker-bake.json"]))
def test_bake_any_text(text, name):
    start = time.monotonic()
    _check_bake(*parse_bake([(name, text)], {"V": "linux/riscv64"}))
    assert time.monotonic() - start < SECONDS


@FUZZ
@given(st.lists(st.sampled_from(BAKE_WORDS), max_size=40).map(" ".join),
       st.sampled_from(["docker-bake.hcl", "docker-bake.json"]))
def test_bake_near_grammar(text, name):
    _check_bake(*parse_bake([(name, text), ("docker-bake.override.hcl", 'target "t" {\n}\n')], {}))


@FUZZ
@given(st.binary(max_size=300))
def test_bake_any_bytes(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bake")
    (folder / "docker-bake.hcl").write_bytes(data)
    _check_bake(*read_bake(ProjectFiles(folder), ["docker-bake.hcl"], {}))
