"""Property-based fuzzing of the project's YAML and command-line readers: any input, no exception, declared types."""

from __future__ import annotations

import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mab_doctor.project.commandline import parse_build_command, split_shell_commands
from mab_doctor.project.compose import read_compose
from mab_doctor.project.model import Build, CiSetup, Platform, Problem, Where
from mab_doctor.project.workflows import read_github_workflow, read_gitlab_ci
from mab_doctor.project.yamlfile import load_yaml

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
KEYS = ["services", "build", "platforms", "platform", "context", "dockerfile", "jobs", "steps", "uses", "with",
        "run", "script", "before_script", "variables", "extends", "strategy", "matrix", "include", "env", "push",
        "load", "outputs", "file", "builder", "driver", "default", ".tpl", "<<", "x"]
WORDS = ["docker", "buildx", "build", "bake", "podman", "buildah", "bud", "run", "--platform", "--platform=",
         "linux/arm64", "arm/v7", "linux/amd64,linux/s390x", "windows/amd64", "$P", "${{ matrix.p }}", "--load",
         "--push", "-o", "type=docker", "--output=type=registry", "-f", "--file", "--builder", ".", "-", "--",
         "tonistiigi/binfmt", "--install", "create", "--use", "--driver", "sudo", "A=b", "2>&1", ">", "-t", "&&",
         "|", ";", "\\\n", "'", '"', "#", "$(x", "docker/setup-qemu-action@v3", "docker/build-push-action@v6",
         "docker/setup-buildx-action@v3", "!reference", "true", "false", "all", "arm64,riscv64"]
LEAVES = st.one_of(st.sampled_from(WORDS), st.text(max_size=20), st.integers(), st.booleans(), st.none())
TREES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=30)


def mostly(strategy, other=LEAVES):
    """``strategy`` three times in four, else ``other``: most examples get past the readers' shape checks
    (listing a branch twice in one_of would not do: one_of flattens, and LEAVES alone has five branches)."""
    return st.integers(0, 3).flatmap(lambda i: other if i == 0 else strategy)


PLATFORMISH = mostly(st.sampled_from(["linux/arm64", "arm/v7", "linux/amd64,linux/s390x", "windows/amd64", "$P",
                                      "${P:-linux/riscv64}", "${{ matrix.p }}", "linux/${{ matrix.a }}", "",
                                      "linux/arm64\nlinux/386", "all", "${A"]))
COMMANDS = ["docker buildx build --platform linux/arm64,arm/v7 --push .", "docker build -f d/Dockerfile .",
            "podman build --platform $P .", "docker run --privileged tonistiigi/binfmt --install arm64",
            "docker buildx create --use --driver kubernetes", "buildah bud --platform=linux/s390x ctx", "\\\n"]
SCRIPT = st.lists(st.one_of(st.sampled_from(COMMANDS), st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join)),
                  max_size=5).map("\n".join)
ACTIONS = [w for w in WORDS if "@" in w]
INPUTS = ["platforms", "push", "load", "outputs", "file", "context", "builder", "driver"]
PLATFORM_LISTS = st.one_of(PLATFORMISH, st.lists(PLATFORMISH, max_size=3))
ENV = st.dictionaries(st.sampled_from(["P", "A"]), PLATFORMISH)
USES = st.fixed_dictionaries({"uses": st.sampled_from(ACTIONS)}, optional={
    "with": st.dictionaries(st.sampled_from(INPUTS), PLATFORM_LISTS, min_size=1, max_size=4), "name": LEAVES})
RUN = st.fixed_dictionaries({"run": SCRIPT}, optional={"env": ENV})
STEP = mostly(st.one_of(USES, USES, RUN))
MATRIX = st.fixed_dictionaries({"matrix": st.dictionaries(st.sampled_from(["p", "a", "include"]),
                                                         st.one_of(st.lists(PLATFORMISH, max_size=3), LEAVES))})
JOB = st.fixed_dictionaries({"steps": st.lists(STEP, min_size=1, max_size=5)}, optional={"strategy": MATRIX})
GITHUB = st.fixed_dictionaries({"jobs": st.dictionaries(st.sampled_from(["build", "test", ""]),
                                                        mostly(JOB), min_size=1, max_size=3)})
SCRIPTS = st.one_of(SCRIPT, st.lists(st.one_of(SCRIPT, st.lists(SCRIPT, max_size=2)), max_size=3))
CI_JOB = st.fixed_dictionaries({"script": SCRIPTS}, optional={
    "extends": st.sampled_from([".tpl", "job", ["other", ".tpl"]]), "before_script": SCRIPTS, "variables": ENV})
GITLAB = st.dictionaries(st.sampled_from([".tpl", "job", "other", "variables", "default", "stages"]),
                         mostly(CI_JOB, st.one_of(ENV, LEAVES)), max_size=5)
BUILD = mostly(st.dictionaries(st.sampled_from(["context", "dockerfile", "platforms", "dockerfile_inline"]),
                               PLATFORM_LISTS, max_size=4), st.one_of(SCRIPT, LEAVES))
SERVICE = st.dictionaries(st.sampled_from(["build", "platform", "image"]), mostly(BUILD, PLATFORMISH),
                          min_size=1, max_size=3)
COMPOSE = st.fixed_dictionaries({"services": st.dictionaries(st.sampled_from(["web", "api", "1"]), mostly(SERVICE),
                                                            min_size=1, max_size=4)})


@st.composite
def yamlish(draw, shape=TREES) -> str:
    """YAML near what a reader expects (mostly a dumped ``shape``, else a random tree, often with a line cut
    or something appended), or any text at all."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(ANY_TEXT)
    tree = draw(TREES if choice == 1 else shape)
    text = yaml.safe_dump(tree, default_flow_style=draw(st.booleans()))
    lines = text.splitlines(keepends=True)
    if lines and draw(st.integers(0, 3)) == 0:
        del lines[draw(st.integers(0, len(lines) - 1))]
    if draw(st.integers(0, 3)) == 0:
        text = "".join(lines) + draw(st.sampled_from(["", "a: &a [1]\nb: *a\n", "  - broken\n", "x: !reference [a]\n"]))
    return text if draw(st.booleans()) else "".join(lines)


class _Files:
    """Every path holds the same text (the readers only need these three calls)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read_text(self, relative: str, limit: int = 1 << 20) -> tuple[str | None, str | None]:
        return self.text, None

    def kind(self, relative: str) -> str:
        return "file"

    def listdir(self, relative: str = "") -> tuple[list[str], str | None]:
        return [], None


def _check_problems(problems) -> None:
    assert isinstance(problems, list)
    for problem in problems:
        assert isinstance(problem, Problem) and isinstance(problem.where, Where) and isinstance(problem.message, str)
        assert "\n" not in problem.message and problem.where.line >= 0 and problem.where.column >= 0


def _check_build(build) -> None:
    assert isinstance(build, Build) and isinstance(build.where, Where)
    assert all(isinstance(p, Platform) and p.name.startswith("linux/") for p in build.platforms)
    assert isinstance(build.load, bool) and isinstance(build.push, bool)
    assert all(isinstance(o, str) for o in build.outputs)


@FUZZ
@given(yamlish(st.one_of(COMPOSE, GITHUB, GITLAB)))
def test_load_yaml_never_raises(text):
    data, problem = load_yaml(text, "f.yml")
    assert problem is None or (data is None and isinstance(problem, Problem))
    if problem is not None:
        _check_problems([problem])


@FUZZ
@given(yamlish(COMPOSE))
def test_read_compose_never_raises(text):
    builds, problems = read_compose(_Files(text), ["compose.yaml", "compose.override.yaml"], {"P": "linux/arm64"})
    _check_problems(problems)
    for build in builds:
        _check_build(build)
        assert build.kind == "compose" and build.load is True


@FUZZ
@given(yamlish(GITHUB))
def test_read_github_workflow_never_raises(text):
    setups, problems = read_github_workflow(_Files(text), "w.yml")
    _check_problems(problems)
    for setup in setups:
        assert isinstance(setup, CiSetup) and setup.kind == "github"
        assert all(isinstance(p, str) for p in setup.qemu_platforms)
        for build in setup.builds:
            _check_build(build)


@FUZZ
@given(yamlish(GITLAB))
def test_read_gitlab_ci_never_raises(text):
    setups, problems = read_gitlab_ci(_Files(text), ".gitlab-ci.yml")
    _check_problems(problems)
    for setup in setups:
        assert isinstance(setup, CiSetup) and setup.kind == "gitlab"
        for build in setup.builds:
            _check_build(build)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=30)), max_size=14))
def test_parse_build_command_never_raises(argv):
    build, problems = parse_build_command(argv, Where("ci.yml", 3), "github")
    _check_problems(problems)
    if build is None:
        assert problems == []
    else:
        _check_build(build)


@FUZZ
@given(st.one_of(ANY_TEXT, st.lists(st.sampled_from(WORDS + [" ", "\n", "x"]), max_size=30).map(" ".join)))
def test_split_shell_commands_never_raises(script):
    commands = split_shell_commands(script)
    assert all(isinstance(c, list) and c and all(isinstance(w, str) for w in c) for c in commands)


def test_an_alias_bomb_is_a_problem_fast():
    bomb = "a: &a [" + ", ".join(["lol"] * 10) + "]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(9))
    started = time.monotonic()
    for reader in (lambda: read_compose(_Files("services:\n  x:\n" + "".join(f"    {line}\n" for line in bomb.splitlines())), ["c.yml"], {}),
                   lambda: read_github_workflow(_Files(bomb), "w.yml"),
                   lambda: read_gitlab_ci(_Files(bomb), "g.yml")):
        found, problems = reader()
        assert found == []
        assert len(problems) == 1 and problems[0].message.startswith("YAML refused: more than 100000 nodes")
    assert time.monotonic() - started < 2.0
