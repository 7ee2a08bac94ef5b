"""Compose files read as builds: override files merged, variables interpolated, every place remembered."""

from __future__ import annotations

import pytest

from helpers import TESTS
from mab_doctor.project.compose import InterpolationError, interpolate, read_compose, read_dotenv
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Build, Platform, Problem, Where
from mab_doctor.project.substitute import ExpansionTooLarge

APP = ProjectFiles(TESTS / "data" / "projects" / "compose-app")
BOTH = ["compose.yaml", "compose.override.yaml"]


def _w(file: str, line: int, column: int) -> Where:
    return Where(file, line, column)


C, O = "compose.yaml", "compose.override.yaml"


def test_one_file_gives_one_build_per_service_with_build():
    builds, problems = read_compose(APP, ["compose.yaml"], {})
    assert problems == []
    assert builds == [
        Build(kind="compose", name="web", where=_w(C, 5, 5),
              platforms=(Platform("linux/amd64", _w(C, 9, 11)), Platform("linux/arm64", _w(C, 10, 11))),
              engine="buildx", load=True, dockerfile="web/docker/Dockerfile.prod", context="web"),
        Build(kind="compose", name="worker", where=_w(C, 15, 5),
              platforms=(Platform("linux/arm/v7", _w(C, 14, 5)),),
              engine="buildx", load=True, dockerfile="worker/Dockerfile", context="worker"),
        Build(kind="compose", name="api", where=_w(C, 19, 5),
              platforms=(Platform("linux/amd64", _w(C, 21, 19)), Platform("linux/riscv64", _w(C, 21, 32))),
              engine="buildx", load=True, dockerfile="Dockerfile", context="."),
    ]


def test_the_override_file_merges_per_service_and_per_key():
    builds, problems = read_compose(APP, BOTH, {})
    assert problems == []
    web, worker, api = builds
    assert web == read_compose(APP, ["compose.yaml"], {})[0][0]  # untouched by the override
    # A scalar is replaced: the override's platform, where the override wrote it.
    assert worker.platforms == (Platform("linux/arm64", _w(O, 9, 5)),)
    assert worker.where == _w(C, 15, 5)
    # build merges per key: context stays, dockerfile comes from .env, platforms append (compose merges
    # sequences by appending).
    assert api.where == _w(O, 3, 5)
    assert (api.context, api.dockerfile) == (".", "api.Dockerfile")
    assert api.platforms == (Platform("linux/amd64", _w(C, 21, 19)), Platform("linux/riscv64", _w(C, 21, 32)),
                             Platform("linux/arm64", _w(O, 6, 11)), Platform("linux/arm/v7", _w(O, 7, 11)))


def test_the_environment_wins_over_dotenv_and_defaults():
    builds, _ = read_compose(APP, BOTH, {"EXTRA_PLATFORM": "linux/ppc64le", "API_DOCKERFILE": "other.Dockerfile"})
    assert [p.name for p in builds[0].platforms] == ["linux/amd64", "linux/ppc64le"]
    assert builds[2].dockerfile == "other.Dockerfile"


def _project(tmp_path, **files: str) -> ProjectFiles:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return ProjectFiles(tmp_path)


def test_shapes_that_are_not_compose_are_problems_with_lines(tmp_path):
    files = _project(tmp_path, **{
        "a.yml": "- just\n- a list\n",
        "b.yml": "services:\n  - web\n",
        "c.yml": "services:\n  web: nginx\n  api:\n    build: 42\n  job:\n    build:\n      platforms: linux/arm64\n"})
    assert read_compose(files, ["a.yml"], {}) == (
        [], [Problem(Where("a.yml", 1, 1), "a compose file must be a mapping (services: ...)")])
    assert read_compose(files, ["b.yml"], {}) == ([], [Problem(Where("b.yml", 1, 1), "`services` must be a mapping")])
    builds, problems = read_compose(files, ["c.yml"], {})
    assert problems == [Problem(Where("c.yml", 2, 3), "service 'web' must be a mapping"),
                        Problem(Where("c.yml", 4, 5), "`build` must be a context path or a mapping"),
                        Problem(Where("c.yml", 7, 7), "service 'job': build.platforms must be a list")]
    assert [(b.name, b.platforms) for b in builds] == [("job", ())]


def test_bad_platforms_and_variables_are_problems_and_left_out(tmp_path):
    files = _project(tmp_path, **{"compose.yaml": (
        "services:\n"
        "  app:\n"
        "    build:\n"
        "      context: ${CTX:?set CTX}\n"
        "      platforms:\n"
        "        - linux/arm64\n"
        "        - linux/sparc\n"
        "        - ${ARCH}\n"
        "        - $${ARCH}\n")})
    builds, problems = read_compose(files, ["compose.yaml"], {"ARCH": "s390x"})
    assert builds[0].platforms == (Platform("linux/arm64", Where("compose.yaml", 6, 11)),
                                   Platform("linux/s390x", Where("compose.yaml", 8, 11)))
    assert builds[0].context == "."
    assert problems[0] == Problem(Where("compose.yaml", 7, 11),
                                  "unknown architecture 'sparc' in platform 'linux/sparc' (known: linux/amd64, "
                                  "linux/386, linux/arm64, linux/arm/v8, linux/arm/v7, linux/arm/v6, linux/arm/v5, "
                                  "linux/riscv64, linux/ppc64le, linux/s390x, linux/mips64le, linux/mips64, "
                                  "linux/loong64)")
    # $$ is a literal dollar for compose: the doctor cannot know what the shell would make of it.
    assert problems[1] == Problem(Where("compose.yaml", 9, 11),
                                  "platform '${ARCH}' cannot be resolved here (a variable)")
    assert problems[2] == Problem(Where("compose.yaml", 4, 7),
                                  "service 'app': required variable CTX is missing a value: set CTX")
    assert len(problems) == 3


def test_unset_variable_without_default_is_empty(tmp_path):
    files = _project(tmp_path, **{"compose.yaml": "services:\n  a:\n    build: .\n    platform: ${NOPE}\n"})
    builds, problems = read_compose(files, ["compose.yaml"], {})
    assert problems == [] and builds[0].platforms == ()


def test_broken_yaml_and_missing_files():
    broken = ProjectFiles(TESTS / "data" / "projects" / "compose-broken")
    assert read_compose(broken, ["compose.yaml"], {}) == ([], [Problem(
        Where("compose.yaml", 3, 48), "YAML error: while parsing a flow sequence expected ',' or ']', but got '}'")])
    builds, problems = read_compose(APP, ["compose.yaml", "missing.yaml"], {})
    assert len(builds) == 3 and len(problems) == 1 and problems[0].where == Where("missing.yaml")


def test_remote_context_and_inline_dockerfile(tmp_path):
    files = _project(tmp_path, **{"compose.yaml": (
        "services:\n  a:\n    build: https://github.com/example/app.git#main\n"
        "  b:\n    build:\n      context: sub\n      dockerfile_inline: FROM alpine\n")})
    builds, _ = read_compose(files, ["compose.yaml"], {})
    assert [(b.context, b.dockerfile) for b in builds] == [("https://github.com/example/app.git#main", None),
                                                           ("sub", None)]


def test_reset_and_override_tags(tmp_path):
    files = _project(tmp_path, **{
        "a.yml": "services:\n  s:\n    platform: linux/s390x\n    build:\n      platforms: [linux/amd64]\n",
        "b.yml": "services:\n  s:\n    build:\n      platforms: !override [linux/arm64]\n",
        "c.yml": "services:\n  s:\n    build:\n      platforms: !reset []\n"})
    assert [p.name for p in read_compose(files, ["a.yml", "b.yml"], {})[0][0].platforms] == ["linux/arm64"]
    assert [p.name for p in read_compose(files, ["a.yml", "c.yml"], {})[0][0].platforms] == ["linux/s390x"]


@pytest.mark.parametrize(("text", "expected"), [
    ("plain", "plain"), ("$$HOME", "$HOME"), ("$A-$B", "a-"), ("${A}", "a"), ("${B:-x}", "x"), ("${E:-x}", "x"),
    ("${E-x}", ""), ("${B-x}", "x"), ("${A:+y}", "y"), ("${E:+y}", ""), ("${E+y}", "y"), ("${B:-${A}}", "a"),
    ("$", "$"), ("a$ b", "a$ b"), ("${E:?e}x", None),
])
def test_interpolate(text, expected):
    env = {"A": "a", "E": ""}
    if expected is None:
        with pytest.raises(InterpolationError):
            interpolate(text, env)
    else:
        assert interpolate(text, env) == expected


def test_interpolate_refuses_broken_braces():
    for text in ("${A", "${}", "${A:x}", "${1}", "${B:-" * 5000 + "}" * 5000):
        with pytest.raises(InterpolationError):
            interpolate(text, {"A": "a"})


def test_read_dotenv():
    text = ("# comment\nA=1\nexport B = two words # note\nC='${A} raw'\nD=\"${A} cooked\"\nnot a line\nE=${A}${Z}\n"
            "F=\"unclosed\n")
    assert read_dotenv(text, {"Z": "z"}) == ({"A": "1", "B": "two words", "C": "${A} raw", "D": "1 cooked",
                                              "E": "1z", "F": '"unclosed'}, [])


def test_a_dotenv_value_expanding_past_64_kib_is_a_problem_and_left_unset():
    text = "K0=" + "x" * 1000 + "\nK1=" + "${K0}" * 100 + "\nK2=${K1}end\nK3=" + "$K0" * 65 + "\n"
    found, problems = read_dotenv(text, {}, "sub/.env")
    assert problems == [Problem(Where("sub/.env", 2), "variable K1 expands beyond 65536 characters")]
    assert found == {"K0": "x" * 1000, "K2": "end", "K3": "x" * 65_000}


def test_the_environment_bounds_dotenv_expansion_too():
    found, problems = read_dotenv("B=${A}${A}${A}\nC=${A}\n", {"A": "y" * 30_000})
    assert problems == [Problem(Where(".env", 1), "variable B expands beyond 65536 characters")]
    assert found == {"C": "y" * 30_000}


def test_interpolate_stops_at_the_bound():
    assert interpolate("${A}" * 64, {"A": "a" * 1024}) == "a" * 65_536
    with pytest.raises(ExpansionTooLarge):
        interpolate("$A" + "${B:-${A}}" * 64, {"A": "a" * 1024})


def test_a_compose_value_expanding_past_64_kib_is_a_problem(tmp_path):
    (tmp_path / ".env").write_text("A=" + "a" * 1000 + "\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build:\n      context: " + "${A}" * 70
                                           + "\n    platform: linux/arm64\n")
    builds, problems = read_compose(ProjectFiles(tmp_path), ["compose.yaml"], {})
    assert problems == [Problem(Where("compose.yaml", 4, 7), "service 'web': the value expands beyond 65536 characters")]
    assert [(b.name, b.context, b.dockerfile) for b in builds] == [("web", ".", "Dockerfile")]


def test_an_unreadable_dotenv_is_a_problem(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    build: .\n")
    (tmp_path / ".env").mkdir()
    builds, problems = read_compose(ProjectFiles(tmp_path), ["compose.yaml"], {})
    assert [b.name for b in builds] == ["a"]
    assert problems == [Problem(Where(".env"), "a directory, not a regular file: not read")]
