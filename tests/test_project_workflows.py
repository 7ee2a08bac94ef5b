"""GitHub workflows and GitLab CI read as jobs: QEMU and buildx set-up and builds, each with its line."""

from __future__ import annotations

from helpers import TESTS
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Build, CiSetup, Platform, Problem, Where
from mab_doctor.project.workflows import read_github_workflow, read_gitlab_ci

PROJECTS = TESTS / "data" / "projects"


def _gha(name: str, file: str) -> tuple[list[CiSetup], list[Problem]]:
    return read_github_workflow(ProjectFiles(PROJECTS / name), f".github/workflows/{file}")


def test_qemu_then_buildx_then_build_push():
    f = ".github/workflows/release.yml"
    setups, problems = _gha("gha-ordered", "release.yml")
    assert problems == []
    at = Where(f, 22, 11)
    assert setups == [
        CiSetup(kind="github", file=f, job="image", where=Where(f, 6, 3),
                qemu=Where(f, 10, 9), qemu_platforms=("linux/arm64", "linux/arm/v7"),
                buildx=Where(f, 14, 9), buildx_driver="docker-container",
                builds=(Build(kind="github", name="image step Build and push", where=Where(f, 18, 9),
                              platforms=(Platform("linux/amd64", at), Platform("linux/arm64", at),
                                         Platform("linux/arm/v7", at)),
                              push=True, context="./app", dockerfile="app/Dockerfile"),)),
        CiSetup(kind="github", file=f, job="test", where=Where(f, 27, 3)),
    ]


def test_build_push_before_setup_qemu_shows_in_the_lines():
    f = ".github/workflows/ci.yml"
    setups, problems = _gha("gha-reversed", "ci.yml")
    assert problems == []
    (job,) = setups
    assert job.qemu == Where(f, 13, 9) and job.qemu_platforms == ()
    assert job.buildx == Where(f, 7, 9) and job.buildx_driver is None
    (build,) = job.builds
    assert build == Build(kind="github", name="build step 3", where=Where(f, 8, 9),
                          platforms=(Platform("linux/amd64", Where(f, 10, 11)), Platform("linux/arm64", Where(f, 10, 11))),
                          load=True, context=".", dockerfile="docker/Dockerfile")
    assert build.where.line < job.qemu.line


def test_no_qemu_and_a_run_step_build():
    f = ".github/workflows/build.yaml"
    setups, problems = _gha("gha-noqemu", "build.yaml")
    (job,) = setups
    assert job.qemu is None and job.buildx == Where(f, 6, 9)
    action, cli = job.builds
    assert action == Build(kind="github", name="arm step Build arm image", where=Where(f, 7, 9),
                           platforms=(Platform("linux/arm64", Where(f, 10, 11)),), load=True,
                           outputs=("type=local,dest=out", "type=docker"), context=".", dockerfile="Dockerfile")
    # The command starts on the second line of the literal block.
    assert cli == Build(kind="github", name="arm step Build with the CLI", where=Where(f, 20),
                        platforms=(Platform("linux/riscv64", Where(f, 20)),), push=True, context=".",
                        dockerfile="Dockerfile")
    assert len(problems) == 1
    assert problems[0].where == Where(f, 10, 11) and problems[0].message.startswith("unknown architecture 'bogus'")


def test_matrix_platforms_make_one_build_each():
    f = ".github/workflows/matrix.yml"
    setups, problems = _gha("gha-matrix", "matrix.yml")
    (job,) = setups
    assert (job.qemu, job.buildx) == (Where(f, 14, 9), Where(f, 15, 9))
    per_platform = [b for b in job.builds if b.platforms]
    assert [(b.name, b.platforms) for b in per_platform] == [
        ("build step 3 [linux/amd64]", (Platform("linux/amd64", Where(f, 7, 13)),)),
        ("build step 3 [linux/arm64]", (Platform("linux/arm64", Where(f, 8, 13)),)),
        ("build step 3 [linux/s390x]", (Platform("linux/s390x", Where(f, 9, 13)),)),
        ("build step 3 [linux/arm/v7]", (Platform("linux/arm/v7", Where(f, 11, 13)),)),
    ]
    assert {b.where for b in per_platform} == {Where(f, 16, 9)}
    assert all(b.push for b in per_platform)  # the image exporter says push=true
    other = job.builds[-1]
    assert (other.name, other.platforms, len(job.builds)) == ("build step 4", (), 5)
    assert problems == [Problem(Where(f, 23, 11),
                                "platforms 'linux/${{ matrix.arch }}' cannot be resolved here (an expression)")]


def test_broken_workflow_names_line_and_column():
    setups, problems = _gha("gha-broken", "broken.yml")
    assert setups == []
    assert problems == [Problem(Where(".github/workflows/broken.yml", 6, 8),
                                "YAML error: while parsing a block collection expected <block end>, "
                                "but found '<block mapping start>'")]


def _write(tmp_path, name: str, text: str) -> ProjectFiles:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return ProjectFiles(tmp_path)


def test_shapes_that_are_not_workflows(tmp_path):
    files = _write(tmp_path, "w.yml", "jobs:\n  a: text\n  b:\n    steps: {x: 1}\n  c:\n    steps:\n      - just text\n"
                                      "      - uses: docker/build-push-action@v6\n        with: [platforms]\n")
    setups, problems = read_github_workflow(files, "w.yml")
    assert [s.job for s in setups] == ["b", "c"]
    assert problems == [Problem(Where("w.yml", 2, 3), "job 'a' must be a mapping"),
                        Problem(Where("w.yml", 4, 5), "job 'b': `steps` must be a list"),
                        Problem(Where("w.yml", 7, 9), "job 'c': step 1 must be a mapping"),
                        Problem(Where("w.yml", 9, 9), "job 'c': step 2: `with` must be a mapping")]
    assert setups[1].builds[0].platforms == () and setups[1].builds[0].where == Where("w.yml", 8, 9)
    files = _write(tmp_path, "l.yml", "- a\n")
    assert read_github_workflow(files, "l.yml") == ([], [Problem(Where("l.yml", 1, 1), "expected a mapping at the top")])
    files = _write(tmp_path, "j.yml", "jobs: [a]\n")
    assert read_github_workflow(files, "j.yml") == ([], [Problem(Where("j.yml", 1, 1), "`jobs` must be a mapping")])
    assert read_github_workflow(files, "none.yml")[1][0].where == Where("none.yml")


def test_qemu_and_buildx_set_up_by_commands_with_env(tmp_path):
    files = _write(tmp_path, "w.yml", (
        "env:\n  PLATFORM: linux/arm64\njobs:\n  j:\n    steps:\n"
        "      - run: sudo apt-get install -y qemu-user-static binfmt-support\n"
        "      - run: docker run --privileged --rm tonistiigi/binfmt --install all\n"
        "      - env:\n          DRIVER: docker-container\n"
        "        run: |\n          docker buildx create --name b --driver $DRIVER --use\n"
        "          docker build --platform $PLATFORM --platform ${{ matrix.p }} .\n"))
    (job,), problems = read_github_workflow(files, "w.yml")
    assert job.qemu == Where("w.yml", 6) and job.qemu_platforms == ()
    assert job.buildx == Where("w.yml", 11) and job.buildx_driver == "docker-container"
    assert job.builds[0].platforms == (Platform("linux/arm64", Where("w.yml", 12)),)
    assert job.builds[0].name == "j step 3" and job.builds[0].load is True
    assert problems == [Problem(Where("w.yml", 12), "platform '${{ matrix.p }}' cannot be resolved here (a CI expression)")]


def test_other_qemu_commands(tmp_path):
    for command, platforms in (("docker run --rm --privileged multiarch/qemu-user-static --reset -p yes", ()),
                               ("update-binfmts --enable qemu-aarch64", ()),
                               ("docker run --privileged tonistiigi/binfmt:latest --install=arm64,riscv64",
                                ("linux/arm64", "linux/riscv64"))):
        files = _write(tmp_path, "w.yml", f"jobs:\n  j:\n    steps:\n      - run: {command}\n")
        (job,), problems = read_github_workflow(files, "w.yml")
        assert (job.qemu, job.qemu_platforms, problems) == (Where("w.yml", 4), platforms, []), command
    for command in ("docker run tonistiigi/binfmt", "apt-get install qemu-system-arm", "update-binfmts --display"):
        files = _write(tmp_path, "w.yml", f"jobs:\n  j:\n    steps:\n      - run: {command}\n")
        assert read_github_workflow(files, "w.yml")[0][0].qemu is None, command


def test_gitlab_binfmt_then_buildx_build():
    f = ".gitlab-ci.yml"
    setups, problems = read_gitlab_ci(ProjectFiles(PROJECTS / "gitlab-binfmt"), f)
    assert setups == [
        CiSetup(kind="gitlab", file=f, job="build-image", where=Where(f, 14, 1),
                qemu=Where(f, 11), qemu_platforms=("linux/arm64", "linux/riscv64"),
                buildx=Where(f, 12), buildx_driver="docker-container",
                builds=(Build(kind="gitlab", name="build-image", where=Where(f, 18),
                              platforms=(Platform("linux/amd64", Where(f, 18)), Platform("linux/arm64", Where(f, 18))),
                              push=True, context=".", dockerfile="Dockerfile"),
                        Build(kind="gitlab", name="build-image", where=Where(f, 21), load=True, context=".",
                              dockerfile="Dockerfile.test"))),
        CiSetup(kind="gitlab", file=f, job="lint", where=Where(f, 23, 1)),
    ]
    assert problems == [Problem(Where(f, 21), "platform '${EXTRA}' cannot be resolved here (a variable)")]


def test_gitlab_references_defaults_and_variables(tmp_path):
    files = _write(tmp_path, ".gitlab-ci.yml", (
        "default:\n  before_script:\n    - docker run --privileged tonistiigi/binfmt --install arm\n"
        "variables:\n  ARCH: {value: arm64, description: target}\n"
        ".tools:\n  script:\n    - [podman build --platform linux/$ARCH .]\n"
        "job:\n  variables:\n    ARCH: s390x\n  script:\n    - !reference [.tools, script]\n"
        "other:\n  script: buildah bud --platform linux/${ARCH} .\n"
        "variables_only:\n  variables: {}\n"))
    (job, other), problems = read_gitlab_ci(files, ".gitlab-ci.yml")
    assert problems == []
    assert job.qemu == Where(".gitlab-ci.yml", 3) and job.qemu_platforms == ("linux/arm/v7",)
    assert [(b.engine, b.platforms) for b in job.builds] == [
        ("podman", (Platform("linux/s390x", Where(".gitlab-ci.yml", 8)),))]
    assert [(b.engine, b.platforms) for b in other.builds] == [
        ("buildah", (Platform("linux/arm64", Where(".gitlab-ci.yml", 15)),))]


def test_gitlab_broken_and_odd_shapes(tmp_path):
    setups, problems = read_gitlab_ci(ProjectFiles(PROJECTS / "gitlab-broken"), ".gitlab-ci.yml")
    assert setups == [] and problems == [Problem(Where(".gitlab-ci.yml", 4, 1),
                                                 "YAML error: while scanning a quoted scalar found unexpected end of stream")]
    files = _write(tmp_path, ".gitlab-ci.yml", "a: 1\nb: [1]\nc:\n  script: 7\n")
    (c,), problems = read_gitlab_ci(files, ".gitlab-ci.yml")
    assert (c.job, c.builds, problems) == ("c", (), [])


def test_gitlab_variables_that_would_expand_without_bound_stay_as_written():
    # 2000 references to a 20 000-character value would be 40 million characters: refused, kept as written.
    from mab_doctor.project.workflows import _variables

    found = _variables({"A": "$B" * 2000, "B": "x" * 20000})
    assert found == {"A": "$B" * 2000, "B": "x" * 20000}
    assert _variables({"A": "${B}-$B", "B": "arm64"}) == {"A": "arm64-arm64", "B": "arm64"}
