"""The Dockerfile reader: stages, ARG substitution, arch-prefixed bases, USER, setuid programs, bad input."""

from __future__ import annotations

from helpers import TESTS
from mab_doctor.project.dockerfile import arch_prefix, parse_dockerfile, read_dockerfile, setuid_programs, substitute
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Problem, Stage, Where

PROJECTS = TESTS / "data" / "projects"


def _parse(text: str, args=None):
    return parse_dockerfile("Dockerfile", text, args)


def test_webapp_dockerfile_stages_users_and_setuid_calls():
    got, problems = read_dockerfile(ProjectFiles(PROJECTS / "webapp"), "docker/Dockerfile")
    w = "docker/Dockerfile"
    assert problems == []
    assert got.path == w
    assert got.stages == (
        Stage("golang:1.22-alpine", Where(w, 6, 32), "$BUILDPLATFORM", "Build"),
        Stage("debian:bookworm-slim", Where(w, 14, 6), None, "runtime"),
        Stage("arm64v8/alpine:3.19", Where(w, 23, 6), None, "arm", arch_prefix="linux/arm64"),
        Stage("build", Where(w, 24, 6), None, "again", from_stage=True),
    )
    assert got.stages[0].on_build_platform and not got.stages[1].on_build_platform
    assert got.users == (("app:app", Where(w, 20, 1)),)
    assert got.setuid_calls == (
        ("sudo", Where(w, 11, 3)),      # inside the RUN <<EOF heredoc body
        ("sudo", Where(w, 19, 14)),     # /usr/bin/sudo after a continuation and a comment line
        ("ping", Where(w, 19, 46)),     # behind `env LANG=C`
        ("su", Where(w, 21, 24)),       # exec form running sh -c
    )


def test_escape_directive_and_registry_arch_prefix():
    got, problems = read_dockerfile(ProjectFiles(PROJECTS / "bakejson"), "src/build/Containerfile")
    w = "src/build/Containerfile"
    assert problems == []
    assert got.stages == (
        Stage("docker.io/i386/debian:bookworm", Where(w, 5, 6), "linux/amd64", "base", arch_prefix="linux/386"),
        Stage("base", Where(w, 8, 6), from_stage=True),
    )
    assert got.setuid_calls == (("ping", Where(w, 7, 8)),)
    assert got.users == (("1000", Where(w, 9, 1)),)


def test_build_args_override_global_arg_defaults():
    text = "ARG TAG=3.18\nARG IMG=alpine\nFROM ${IMG}:${TAG}\nFROM $IMG:${MISSING:-edge}\n"
    got, _ = _parse(text)
    assert [s.image for s in got.stages] == ["alpine:3.18", "alpine:edge"]
    got, _ = _parse(text, {"TAG": "3.20", "UNDECLARED": "x"})
    assert [s.image for s in got.stages] == ["alpine:3.20", "alpine:edge"]


def test_arg_after_first_from_does_not_reach_later_from():
    got, _ = _parse("FROM alpine\nARG BASE=debian\nFROM ${BASE:-busybox}\n")
    assert got.stages[1].image == "busybox"


def test_substitution_forms():
    values = {"A": "x", "E": ""}
    assert substitute("$A-${A}-${B:-d}-${A:+alt}-${B:+alt}-${E:-e}-${E-e}", values) == "x-x-d-alt--e-"


def test_arch_prefix_namespaces():
    assert arch_prefix("arm32v7/debian") == "linux/arm/v7"
    assert arch_prefix("arm32v5/debian:12") == "linux/arm/v5"
    assert arch_prefix("docker.io/arm64v8/alpine") == "linux/arm64"
    assert arch_prefix("localhost:5000/riscv64/ubuntu") == "linux/riscv64"
    assert arch_prefix("i386/busybox") == "linux/386"
    assert arch_prefix("library/debian") is None
    assert arch_prefix("myorg/arm64v8/thing") is None  # a namespace three deep is not an official image
    assert arch_prefix("alpine") is None


def test_scratch_is_kept_as_an_image():
    got, problems = _parse("FROM scratch\nCOPY app /\n")
    assert got.stages == (Stage("scratch", Where("Dockerfile", 1, 6)),)
    assert problems == []


def test_from_stage_is_case_insensitive_and_only_earlier_stages():
    got, _ = _parse("FROM later AS first\nFROM alpine AS Builder\nFROM builder\nFROM first AS later\n")
    assert [s.from_stage for s in got.stages] == [False, False, True, True]


def test_setuid_programs_in_shell_lines():
    assert setuid_programs("apt-get install -y sudo && sudo -u x make || ping6 ::1 | tee log") == ["sudo", "ping6"]
    assert setuid_programs("FOO=1 exec /bin/mount -t tmpfs x /y; command -p umount /y") == ["mount", "umount"]
    assert setuid_programs("if ping -c1 h; then passwd -d root; fi") == ["ping", "passwd"]
    assert setuid_programs("env -u HOME -i PATH=/bin pkexec id") == ["pkexec"]
    assert setuid_programs("echo sudo 'su' # sudo in a comment") == []
    assert setuid_programs('bash -c "fusermount3 -u /m"') == ["fusermount3"]
    assert setuid_programs('sudo "unbalanced') == ["sudo"]


def test_heredoc_lines_are_counted_and_not_parsed_as_instructions():
    text = ("FROM alpine\nCOPY <<-CONF /etc/app.conf\n\tFROM not-a-stage\n\tCONF\nUSER nobody\n"
            "RUN cat <<A <<B\nsudo\nA\nsu\nB\n")
    got, problems = _parse(text)
    assert problems == []
    assert len(got.stages) == 1
    assert got.users == (("nobody", Where("Dockerfile", 5, 1)),)
    assert got.setuid_calls == ()  # bodies fed to cat are data, not commands


def test_lowercase_instructions_and_continuations_in_from():
    got, problems = _parse("from \\\n  --platform=linux/arm64 \\\n  debian \\\n  as  deb\nuser root\n")
    assert problems == []
    assert got.stages == (Stage("debian", Where("Dockerfile", 3, 3), "linux/arm64", "deb"),)
    assert got.users == (("root", Where("Dockerfile", 5, 1)),)


def test_malformed_lines_are_problems_and_parsing_goes_on():
    got, problems = read_dockerfile(ProjectFiles(PROJECTS / "broken"), "Dockerfile")
    assert [(p.where.line, p.where.column) for p in problems] == [(1, 5), (2, 5), (3, 1), (4, 5)]
    assert problems[2] == Problem(Where("Dockerfile", 3, 1), "unknown instruction 'COPPY'")
    assert problems[3].message == "FROM: unknown flag --platfrom"
    assert [s.image for s in got.stages] == ["alpine:3.19", "base"]
    assert got.setuid_calls == (("sudo", Where("Dockerfile", 5, 5)),)


def test_empty_image_after_substitution_and_no_from():
    got, problems = _parse("ARG X\nFROM $X\n")
    assert got.stages == ()
    assert problems == [Problem(Where("Dockerfile", 2, 6), "FROM $X: empty image name after ARG substitution")]
    got, problems = _parse("# just a comment\n\n")
    assert problems == [Problem(Where("Dockerfile"), "no FROM instruction: not a Dockerfile")]


def test_garbage_gives_a_bounded_number_of_problems():
    got, problems = _parse("\n".join(f"garbage{i} x" for i in range(100)))
    assert len(problems) == 21
    assert problems[-1] == Problem(Where("Dockerfile"), "80 more unknown instructions not listed")


def test_missing_and_undecodable_files(tmp_path):
    (tmp_path / "Dockerfile").write_bytes(b"FROM \xff\n")
    got, problems = read_dockerfile(ProjectFiles(tmp_path), "Dockerfile")
    assert got is None and len(problems) == 1
    assert problems[0].where == Where("Dockerfile") and "not UTF-8" in problems[0].message
    got, problems = read_dockerfile(ProjectFiles(tmp_path), "nope/Dockerfile")
    assert got is None and problems[0].where == Where("nope/Dockerfile") and "not found" in problems[0].message


def test_huge_single_line_and_nuls_do_not_raise():
    got, problems = _parse("RUN " + "sudo x && " * 100_000 + "\x00" * 1000)
    assert len(got.setuid_calls) == 100_000
    assert problems == [Problem(Where("Dockerfile"), "no FROM instruction: not a Dockerfile")]


def test_a_literal_from_platform_must_parse_but_variables_are_left_alone():
    got, problems = _parse("FROM --platform=linux/sparc a\nFROM --platform=${TARGETPLATFORM} b\nFROM --platform=arm64 c\n")
    assert [s.platform for s in got.stages] == ["linux/sparc", "${TARGETPLATFORM}", "arm64"]  # as written
    assert len(problems) == 1 and problems[0].where == Where("Dockerfile", 1, 5)
    assert problems[0].message.startswith("FROM --platform: unknown architecture 'sparc'")


def test_a_global_arg_expanding_past_64_kib_is_a_problem_and_left_unset():
    text = "ARG K0=" + "x" * 1000 + "\nARG K1=" + "${K0}" * 100 + "\nARG K2=${K1}img\nFROM ${K2}\n"
    got, problems = _parse(text)
    assert problems == [Problem(Where("Dockerfile", 2, 1), "variable K1 expands beyond 65536 characters")]
    assert [s.image for s in got.stages] == ["img"]


def test_a_from_image_expanding_past_64_kib_is_a_problem():
    text = "ARG A=" + "a" * 1000 + "\nFROM " + "${A}" * 70 + "\nFROM ok\n"
    got, problems = _parse(text)
    assert problems == [Problem(Where("Dockerfile", 2, 6), "FROM " + "${A}" * 20
                                + ": the image name expands beyond 65536 characters")]
    assert [s.image for s in got.stages] == ["ok"]


def test_a_dockerfile_path_outside_the_project_is_not_read(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (tmp_path / "bait").write_text("FROM secret\n")
    files = ProjectFiles(project)
    for path in (str(tmp_path / "bait"), "../bait", "a/../../bait", ".."):
        assert read_dockerfile(files, path) == (
            None, [Problem(Where(path), "Dockerfile path outside the project directory: not read")])
    (project / "a").mkdir()  # the walk goes through "a", as the kernel's would
    (project / "b").mkdir()
    (project / "b" / "Dockerfile").write_text("FROM inside\n")
    got, problems = read_dockerfile(files, "a/../b/Dockerfile")
    assert problems == [] and [s.image for s in got.stages] == ["inside"]
