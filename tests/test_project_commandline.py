"""Shell text split into commands, and docker/podman/buildah build commands read as Builds."""

from __future__ import annotations

from mab_doctor.project.commandline import (command_words, dockerfile_path, parse_build_command,
                                            split_shell_commands, split_shell_lines)
from mab_doctor.project.model import Build, Platform, Problem, Where

AT = Where("ci.yml", 12)


def test_split_on_operators_newlines_and_continuations():
    script = ("set -e\n"
              "docker buildx build \\\n"
              "  --platform linux/amd64,linux/arm64 \\\n"
              "  -t app . && echo done || echo failed; docker images | grep app\n")
    assert split_shell_commands(script) == [
        ["set", "-e"],
        ["docker", "buildx", "build", "--platform", "linux/amd64,linux/arm64", "-t", "app", "."],
        ["echo", "done"], ["echo", "failed"], ["docker", "images"], ["grep", "app"]]


def test_each_command_knows_the_line_it_starts_on():
    script = "# build it\n\necho a; echo b\ndocker build \\\n  .\necho c\n"
    assert split_shell_lines(script) == [(2, ["echo", "a"]), (2, ["echo", "b"]),
                                         (3, ["docker", "build", "."]), (5, ["echo", "c"])]


def test_quotes_are_removed_and_protect_separators():
    assert split_shell_commands("""echo 'a;b' "c && d" e\\;f""") == [["echo", "a;b", "c && d", "e;f"]]
    assert split_shell_commands('echo "say \\"hi\\"" \'it\'"s"') == [["echo", 'say "hi"', "its"]]


def test_substitutions_stay_one_word():
    script = 'docker build -t "app:$(git rev-parse --short HEAD)" --build-arg V=${VERSION:-1 2} `date +%s` .'
    assert split_shell_commands(script) == [
        ["docker", "build", "-t", "app:$(git rev-parse --short HEAD)", "--build-arg", "V=${VERSION:-1 2}",
         "`date +%s`", "."]]


def test_comments_redirections_and_subshells():
    assert split_shell_commands("make >/dev/null 2>&1 # it's quiet\n(cd app && make)") == [
        ["make", ">/dev/null", "2>&1"], ["cd", "app"], ["make"]]


def test_bad_quoting_does_not_raise():
    assert split_shell_commands("echo 'open\nnext") == [["echo", "open\nnext"]]
    assert split_shell_commands('echo "open $(x') == [["echo", "open $(x"]]
    assert split_shell_commands("\\") == [[""]]
    assert split_shell_commands("") == []


def test_command_words_drop_prefixes():
    assert command_words(["sudo", "DOCKER_BUILDKIT=1", "docker", "build", "."]) == ["docker", "build", "."]
    assert command_words(["then", "env", "A=b", "podman", "build"]) == ["podman", "build"]


def test_buildx_build_with_every_option_the_doctor_reads():
    argv = ["docker", "buildx", "build", "--platform", "linux/amd64,arm64", "--platform=linux/arm/7",
            "--platform", "linux/amd64", "--push", "-o", "type=image,name=x", "--output=type=local,dest=out",
            "-f", "docker/Dockerfile", "--builder", "multi", "-t", "app:1", "--build-arg", "A=1", "./src"]
    build, problems = parse_build_command(argv, AT, "github")
    assert problems == []
    assert build == Build(kind="github", name="docker buildx build", where=AT,
                          platforms=(Platform("linux/amd64", AT), Platform("linux/arm64", AT),
                                     Platform("linux/arm/v7", AT)),
                          engine="buildx", load=False, push=True,
                          outputs=("type=image,name=x", "type=local,dest=out"),
                          dockerfile="docker/Dockerfile", context="./src", builder="multi")


def test_docker_build_loads_and_uses_the_context_dockerfile():
    build, problems = parse_build_command(["docker", "build", "-t", "x", "app/"], AT, "gitlab")
    assert problems == []
    assert (build.engine, build.load, build.push, build.context, build.dockerfile, build.platforms) == \
        ("buildx", True, False, "app/", "app/Dockerfile", ())


def test_load_and_push_from_flags_and_exporters():
    def flags(*argv: str) -> tuple[bool, bool]:
        build, _ = parse_build_command(["docker", "buildx", "build", *argv, "."], AT, "github")
        return build.load, build.push
    assert flags() == (False, False)
    assert flags("--load") == (True, False)
    assert flags("--output", "type=docker") == (True, False)
    assert flags("--output", "type=docker,dest=img.tar") == (False, False)
    assert flags("-o", "type=registry") == (False, True)
    assert flags("--output=type=image,name=r/x,push=true") == (False, True)
    assert flags("--push=false") == (False, False)


def test_global_options_and_prefixes_before_the_build():
    build, _ = parse_build_command(["sudo", "docker", "--context", "remote", "buildx", "--builder", "b1", "build",
                                    "--load", "."], AT, "github")
    assert (build.name, build.builder, build.load, build.context) == \
        ("docker --context remote buildx --builder b1 build", "b1", True, ".")


def test_podman_and_buildah():
    build, problems = parse_build_command(["podman", "build", "--platform", "linux/arm64,linux/s390x", "-t", "x", "."],
                                          AT, "gitlab")
    assert problems == [] and build.engine == "podman" and build.load is True
    assert [p.name for p in build.platforms] == ["linux/arm64", "linux/s390x"]
    build, _ = parse_build_command(["podman", "buildx", "build", "--arch", "arm", "--variant", "v6", "."], AT, "x")
    assert build.engine == "podman" and build.platforms == (Platform("linux/arm/v6", AT),)
    build, _ = parse_build_command(["buildah", "bud", "-f", "Containerfile", "ctx"], AT, "x")
    assert (build.engine, build.dockerfile, build.context) == ("buildah", "Containerfile", "ctx")


def test_not_single_builds():
    for argv in (["docker", "buildx", "bake", "--push"], ["docker", "run", "--rm", "x"], ["docker"], [],
                 ["buildah", "push", "x"], ["make", "build"], ["docker", "buildx", "create", "--use"]):
        assert parse_build_command(argv, AT, "github") == (None, []), argv


def test_unresolved_and_bad_platforms_are_problems_and_left_out():
    build, problems = parse_build_command(
        ["docker", "buildx", "build", "--platform=$PLATFORMS", "--platform", "linux/arm64,windows/amd64,sparc", "."],
        AT, "gitlab")
    assert build.platforms == (Platform("linux/arm64", AT),)
    assert problems[0] == Problem(AT, "platform '$PLATFORMS' cannot be resolved here (a variable)")
    assert problems[1] == Problem(AT, "platform 'windows/amd64': mab-doctor checks linux/* targets only")
    assert problems[2].where == AT and problems[2].message.startswith("unknown architecture 'sparc'")
    assert len(problems) == 3


def test_dockerfile_paths():
    assert dockerfile_path(".", []) == "Dockerfile"
    assert dockerfile_path("./app/", []) == "app/Dockerfile"
    assert dockerfile_path("app", ["./build/Dockerfile"]) == "build/Dockerfile"
    assert dockerfile_path("https://github.com/x/y.git", []) is None
    assert dockerfile_path("-", []) is None
    assert dockerfile_path(".", ["-"]) is None
    assert dockerfile_path(None, []) is None


def test_podman_manifest_is_kept_as_an_output():
    build, problems = parse_build_command(["podman", "build", "--platform", "linux/amd64,linux/arm64",
                                           "--manifest", "app:1", "."], Where("ci.sh", 3), "gitlab")
    assert problems == [] and build.outputs == ("manifest=app:1",) and build.engine == "podman"
    plain, _ = parse_build_command(["docker", "buildx", "build", "--platform", "linux/arm64", "."],
                                   Where("ci.sh", 4), "gitlab")
    assert plain.outputs == ()
