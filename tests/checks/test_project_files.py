"""project-files: what was read from the project, the targets named there, and malformed files as WARNs."""

from pathlib import Path

from mab_doctor.checks.project_files import SHOWN, project_files
from mab_doctor.core.context import Context
from mab_doctor.core.model import Status
from mab_doctor.project.intent import read_intent
from mab_doctor.project.model import Build, CiSetup, Intent, Platform, Problem, Where

PROJECTS = Path(__file__).parent.parent / "data" / "projects"


def run(intent):
    ctx = Context(root=Path("/nonexistent-root"), live=False)
    ctx.project = intent
    return project_files(ctx)


def test_a_compose_project_names_its_files_and_platforms(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build:\n      context: .\n      platforms:\n"
                                           "        - linux/amd64\n        - linux/arm64\n")
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.19\n")
    (res,) = run(read_intent(tmp_path, {}))
    assert res.status is Status.OK
    assert res.summary == "read 2 files: compose.yaml, Dockerfile; 1 build"
    assert res.data["platforms"] == {"linux/amd64": "compose.yaml:6:11", "linux/arm64": "compose.yaml:7:11"}


def test_malformed_files_are_warnings_naming_file_line_and_column():
    intent = read_intent(PROJECTS / "compose-broken", {})
    results = run(intent)
    assert results[0].status is Status.OK
    warns = results[1:]
    assert warns and all(r.status is Status.WARN for r in warns)
    assert all(r.summary.startswith(str(p.where)) for r, p in zip(warns, intent.problems))
    assert all(r.data["line"] >= 1 for r in warns)


def test_more_problems_than_shown_are_counted_in_one_row():
    problems = tuple(Problem(Where("Dockerfile", n, 1), "unknown instruction FOO") for n in range(1, SHOWN + 4))
    results = run(Intent("/p", ("Dockerfile",), problems=problems))
    assert [r.status for r in results] == [Status.OK] + [Status.WARN] * (SHOWN + 1)
    assert results[-1].summary == "3 more problems in the project's build files"
    assert results[1].summary == "Dockerfile:1:1: unknown instruction FOO"


def test_an_empty_directory_or_no_project_skips(tmp_path):
    (res,) = run(read_intent(tmp_path, {}))
    assert res.status is Status.SKIP and res.summary.startswith(f"no build files in {tmp_path}")
    (res,) = run(None)
    assert res.status is Status.SKIP


def where_list(n):
    return tuple(Problem(Where("docker-bake.hcl", line, 3), f"bad attribute {line}") for line in range(1, n + 1))


def test_the_check_is_declared_as_project_files():
    assert (project_files.name, project_files.title, project_files.category) == (
        "project-files", "Project build files", "project")
    assert "What it checks:" in project_files.doc and "How to fix:" in project_files.doc


def test_a_problem_row_is_exact():
    problems = (Problem(Where("compose.yaml", 4, 7), "mapping values are not allowed here"),)
    results = run(Intent("/p", ("compose.yaml",), problems=problems))
    assert len(results) == 2
    res = results[1]
    assert res.status is Status.WARN
    assert res.summary == "compose.yaml:4:7: mapping values are not allowed here"
    assert res.details == ("in /p",)
    assert res.data == {"file": "compose.yaml", "line": 4, "column": 7}
    assert res.remediation == "Correct the file there; the rest of the project was still read."


def test_exactly_ten_problems_have_no_extra_row():
    results = run(Intent("/p", ("docker-bake.hcl",), problems=where_list(10)))
    assert len(results) == 11  # the OK row and ten problem rows
    assert [r.summary for r in results[1:]][-1] == "docker-bake.hcl:10:3: bad attribute 10"
    assert not any("more problems" in r.summary for r in results)


def test_eleven_problems_show_ten_and_count_one_more():
    results = run(Intent("/p", ("docker-bake.hcl",), problems=where_list(11)))
    assert len(results) == 12
    assert results[10].summary == "docker-bake.hcl:10:3: bad attribute 10"
    last = results[11]
    assert last.status is Status.WARN
    assert last.summary == "1 more problem in the project's build files"
    assert last.details == ("docker-bake.hcl:11:3: bad attribute 11",)
    assert last.remediation == "Correct the files at the places named."


def test_nine_problems_are_all_shown():
    results = run(Intent("/p", ("docker-bake.hcl",), problems=where_list(9)))
    assert [r.summary for r in results[1:]] == [f"docker-bake.hcl:{n}:3: bad attribute {n}" for n in range(1, 10)]


def test_twenty_five_problems_count_fifteen_more():
    results = run(Intent("/p", ("docker-bake.hcl",), problems=where_list(25)))
    assert len(results) == 12
    assert results[-1].summary == "15 more problems in the project's build files"
    assert results[-1].details[0] == "docker-bake.hcl:11:3: bad attribute 11"
    assert len(results[-1].details) == 15


def bake_build(name, *platforms, line=1):
    return Build("bake", name, Where("docker-bake.hcl", line, 1),
                 tuple(Platform(p, Where("docker-bake.hcl", line + 1, 15)) for p in platforms))


def test_one_file_one_build_singular_and_platforms_listed():
    intent = Intent("/p", ("docker-bake.hcl",), builds=(bake_build("app", "linux/arm64", "linux/amd64", line=3),),
                    notes=("no compose file found",))
    (res,) = run(intent)
    assert res.status is Status.OK
    assert res.summary == "read 1 file: docker-bake.hcl; 1 build"
    assert res.details == ("platforms named: linux/arm64 (docker-bake.hcl:4:15), linux/amd64 (docker-bake.hcl:4:15)",
                           "no compose file found")
    assert res.data == {"directory": "/p", "files": ("docker-bake.hcl",), "builds": 1,
                        "platforms": {"linux/arm64": "docker-bake.hcl:4:15", "linux/amd64": "docker-bake.hcl:4:15"}}


def test_two_files_two_builds_plural():
    intent = Intent("/p", ("docker-bake.hcl", "Dockerfile"),
                    builds=(bake_build("a", line=1), bake_build("b", "linux/s390x", line=6)))
    (res,) = run(intent)
    assert res.summary == "read 2 files: docker-bake.hcl, Dockerfile; 2 builds"
    assert res.details == ("platforms named: linux/s390x (docker-bake.hcl:7:15)",)
    assert res.data["builds"] == 2


def test_ci_builds_are_counted():
    ci = CiSetup("github", "w.yml", "image", Where("w.yml", 4, 3),
                 builds=(Build("github", "s", Where("w.yml", 9, 9)), Build("github", "t", Where("w.yml", 12, 9))))
    (res,) = run(Intent("/p", ("w.yml",), builds=(bake_build("a"),), ci=(ci,)))
    assert res.summary == "read 1 file: w.yml; 3 builds"
    assert res.data["builds"] == 3


def test_no_builds_and_no_platforms():
    (res,) = run(Intent("/p", ("Dockerfile",)))
    assert res.summary == "read 1 file: Dockerfile; 0 builds"
    assert res.details == ("platforms named: none (the builders' defaults)",)
    assert res.data == {"directory": "/p", "files": ("Dockerfile",), "builds": 0, "platforms": {}}


def test_no_files_but_a_problem_reads_zero_files():
    problems = (Problem(Where(".gitlab-ci.yml"), "cannot read: permission denied"),)
    results = run(Intent("/p", (), problems=problems))
    assert results[0].summary == "read no file; 0 builds"
    assert results[1].summary == ".gitlab-ci.yml: cannot read: permission denied"
    assert results[1].data == {"file": ".gitlab-ci.yml", "line": 0, "column": 0}


def test_empty_project_skip_carries_the_notes():
    (res,) = run(Intent("/empty", notes=("no docker-bake.hcl", "no compose.yaml")))
    assert res.status is Status.SKIP
    assert res.summary == "no build files in /empty (bake, compose, CI workflows, Dockerfile)"
    assert res.details == ("no docker-bake.hcl", "no compose.yaml")
    (res,) = run(None)
    assert res.summary == "the project's build files were not read"
