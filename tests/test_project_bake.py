"""The bake reader: HCL and JSON, variables, inheritance, override files, outputs, and broken files."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import PROJECT, TESTS
from mab_doctor.project.bake import parse_bake, read_bake
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Build, Platform, Problem, Where

PROJECTS = TESTS / "data" / "projects"
HCL_FILES = ["docker-bake.hcl", "docker-bake.override.hcl"]


def _platforms(build: Build) -> list[str]:
    return [p.name for p in build.platforms]


def _by_name(builds: list[Build]) -> dict[str, Build]:
    return {b.name: b for b in builds}


def test_hcl_with_variables_groups_inherits_and_override():
    builds, problems = read_bake(ProjectFiles(PROJECTS / "webapp"), HCL_FILES, {})
    assert problems == []
    # _base is only inherited (and in no group): shared settings, not a build of its own.
    assert [b.name for b in builds] == ["app", "worker", "docs"]
    got = _by_name(builds)
    app = got["app"]
    assert app.where == Where("docker-bake.hcl", 28)
    assert _platforms(app) == ["linux/amd64", "linux/arm64", "linux/arm/v7"]  # "${ARM_PLATFORMS}" split
    assert app.platforms[0].where == Where("docker-bake.hcl", 22)   # set by the inherited _base block
    assert (app.dockerfile, app.context, app.outputs) == ("docker/Dockerfile", ".", ("type=image,push=true",))
    assert (app.push, app.load, app.engine, app.kind) == (True, False, "buildx", "bake")
    worker = got["worker"]
    assert worker.where == Where("docker-bake.hcl", 34)
    assert worker.platforms == (Platform("linux/amd64", Where("docker-bake.override.hcl", 2)),)
    assert (worker.load, worker.push, worker.outputs) == (True, False, ("type=docker",))
    assert worker.dockerfile == "docker/Dockerfile"  # inherited through app
    docs = got["docs"]
    assert (docs.platforms, docs.dockerfile, docs.context) == ((), "docs/Dockerfile", "docs")


def test_environment_overrides_a_variable_default():
    builds, problems = read_bake(ProjectFiles(PROJECTS / "webapp"), HCL_FILES[:1],
                                 {"ARM_PLATFORMS": "linux/s390x", "UNRELATED": "x"})
    assert problems == []
    got = _by_name(builds)
    assert _platforms(got["app"]) == ["linux/amd64", "linux/s390x"]
    assert _platforms(got["worker"]) == ["linux/amd64", "linux/arm64", "linux/riscv64"]  # no override file


def test_json_bake_file():
    builds, problems = read_bake(ProjectFiles(PROJECTS / "bakejson"), ["docker-bake.json"], {"VERSION": "2"})
    assert problems == []
    cli, local = builds
    assert (cli.name, cli.where) == ("cli", Where("docker-bake.json", 10))
    assert _platforms(cli) == ["linux/amd64", "linux/ppc64le", "linux/s390x"]
    assert (cli.dockerfile, cli.context, cli.push, cli.load) == ("src/build/Containerfile", "src", True, False)
    assert (local.name, local.where) == ("cli-local", Where("docker-bake.json", 17))
    assert local.platforms == ()  # ${BAKE_LOCAL_PLATFORM}: the builder's own platform
    assert (local.outputs, local.load, local.push) == (("type=docker",), True, False)


def test_later_files_override_attribute_by_attribute():
    first = 'target "t" {\n  platforms = ["linux/amd64"]\n  context = "a"\n}\n'
    json_file = '{"target": {"t": {"dockerfile": "D", "platforms": ["linux/arm64"]}}}'
    builds, problems = parse_bake([("docker-bake.json", json_file), ("docker-bake.hcl", first)], {})
    assert problems == []
    assert builds == [Build("bake", "t", Where("docker-bake.json", 1),
                            (Platform("linux/amd64", Where("docker-bake.hcl", 1)),), dockerfile="a/D", context="a")]


def test_unresolvable_and_unknown_platforms_are_problems():
    text = ('variable "P" {\n  default = "linux/arm64"\n}\n'
            'target "t" {\n  platforms = ["${P}", "${UNDECLARED}", upper("x"), "linux/sparc", "windows/amd64", 3]\n}\n')
    builds, problems = parse_bake([("docker-bake.hcl", text)], {"UNDECLARED": "linux/386"})
    where = Where("docker-bake.hcl", 4)
    assert _platforms(builds[0]) == ["linux/arm64"]
    assert [p.where for p in problems] == [where] * 5
    assert problems[0].message == "platform '${UNDECLARED}' cannot be resolved without running bake"
    assert problems[1].message == "platform '${upper(\"x\")}' cannot be resolved without running bake"
    assert "unknown architecture 'sparc'" in problems[2].message
    assert "linux/* targets only" in problems[3].message
    assert problems[4].message == "platforms: '3' is not a string"


def test_bare_variable_reference_keeps_a_list_default():
    text = 'variable "PS" {\n  default = ["linux/arm/v6", "linux/arm/v5"]\n}\ntarget "t" {\n  platforms = PS\n}\n'
    builds, problems = parse_bake([("docker-bake.hcl", text)], {})
    assert (problems, _platforms(builds[0])) == ([], ["linux/arm/v6", "linux/arm/v5"])


def test_inherit_cycles_and_unknown_names_are_problems():
    text = ('group "default" {\n  targets = ["a", "ghost"]\n}\n'
            'target "a" {\n  inherits = ["b"]\n}\n'
            'target "b" {\n  inherits = ["a", "nobody"]\n  platforms = ["linux/amd64"]\n}\n')
    builds, problems = parse_bake([("docker-bake.hcl", text)], {})
    assert [b.name for b in builds] == ["a"]  # b is only inherited: a template, though its cycle is reported
    assert _platforms(builds[0]) == ["linux/amd64"]
    assert problems == [
        Problem(Where("docker-bake.hcl", 1), "group 'default' names unknown target 'ghost'"),
        Problem(Where("docker-bake.hcl", 7), "target 'b': inheritance cycle through 'a'"),
        Problem(Where("docker-bake.hcl", 7), "target 'b' inherits unknown target 'nobody'"),
    ]


def test_outputs_context_and_dockerfile_forms():
    text = ('target "remote" {\n  context = "https://github.com/o/r.git"\n  output = ["type=oci,dest=x.tar"]\n}\n'
            'target "inline" {\n  dockerfile-inline = "FROM alpine"\n'
            '  output = [{ type = "image", push = true }, "type=local,dest=out"]\n}\n'
            'target "up" {\n  context = "sub/dir"\n  dockerfile = "../Dockerfile.dev"\n}\n')
    builds, problems = parse_bake([("docker-bake.hcl", text)], {})
    remote, inline, up = builds
    assert problems == []
    assert (remote.dockerfile, remote.outputs, remote.load, remote.push) == (None, ("type=oci,dest=x.tar",), False, False)
    assert (inline.dockerfile, inline.outputs, inline.push) == (None, ("type=image,push=true", "type=local,dest=out"), True)
    assert up.dockerfile == "sub/Dockerfile.dev"


def test_syntax_errors_name_file_line_and_column():
    builds, problems = read_bake(ProjectFiles(PROJECTS / "broken"), ["docker-bake.hcl"], {})
    assert builds == []
    assert len(problems) == 1
    assert problems[0].where == Where("docker-bake.hcl", 3, 13)
    assert problems[0].message.startswith("HCL syntax error: ") and "\n" not in problems[0].message
    builds, problems = parse_bake([("docker-bake.json", '{\n  "target": {\n    "x": [1,\n}')], {})
    assert builds == [] and problems[0].where == Where("docker-bake.json", 4, 1)
    assert problems[0].message == "JSON syntax error: Expecting value"
    builds, problems = parse_bake([("docker-bake.json", '[1]'), ("docker-bake.override.json", '{"target": []}')], {})
    assert problems == [Problem(Where("docker-bake.json", 1), "a bake file must be a JSON object"),
                        Problem(Where("docker-bake.override.json"), '"target" must be an object')]


def test_unreadable_file_is_a_problem_and_others_still_count(tmp_path):
    (tmp_path / "docker-bake.hcl").write_text('target "t" {\n}\n')
    builds, problems = read_bake(ProjectFiles(tmp_path), ["docker-bake.json", "docker-bake.hcl"], {})
    assert [b.name for b in builds] == ["t"]
    assert problems[0].where == Where("docker-bake.json") and "not found" in problems[0].message


def test_hcl2_is_imported_only_when_an_hcl_file_is_parsed():
    code = ("import sys; from mab_doctor.project.bake import parse_bake; "
            "parse_bake([('docker-bake.json', '{}')], {}); print('hcl2' in sys.modules, 'lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_an_hcl_file_too_big_to_parse_quickly_is_a_problem():
    text = 'target "t" {\n}\n' + "# padding\n" * 30_000
    builds, problems = parse_bake([("docker-bake.hcl", text)], {})
    assert builds == []
    assert problems == [Problem(Where("docker-bake.hcl"),
                                "docker-bake.hcl: 300015 characters, more than the 256 KiB this reader parses: not read")]


def test_nesting_too_deep_for_the_library_is_a_problem():
    text = 'target "t" {\n  a = ' + "{b = " * 3000 + "1" + "}" * 3000 + "\n}\n"
    builds, problems = parse_bake([("docker-bake.hcl", text)], {})
    assert builds == [] and len(problems) == 1
    assert problems[0].where == Where("docker-bake.hcl") and problems[0].message.startswith("HCL not understood: ")


def test_top_level_attributes_interpolate_but_env_does_not_override_them():
    text = 'ARM = "linux/arm/v6"\ntarget "a" {\n  platforms = [ARM, "${ARM}", "arm/v6", "linux/amd64"]\n}\n'
    builds, problems = parse_bake([("docker-bake.hcl", text)], {"ARM": "linux/386"})
    assert problems == []
    assert builds[0].platforms == (Platform("linux/arm/v6", Where("docker-bake.hcl", 2)),  # once, canonical
                                   Platform("linux/amd64", Where("docker-bake.hcl", 2)))


def test_an_inherits_chain_of_2000_targets_resolves_without_recursion():
    targets = {f"t{i}": {"inherits": [f"t{i + 1}"]} for i in range(1999)}
    targets["t1999"] = {"platforms": ["linux/arm64"]}
    builds, problems = parse_bake([("docker-bake.json", json.dumps({"target": targets}))], {})
    assert problems == []
    assert len(builds) == 1  # t1..t1999 are only inherited: templates of t0
    assert builds[0].name == "t0" and builds[0].platforms == (Platform("linux/arm64", Where("docker-bake.json", 1)),)


def test_a_cycle_at_the_end_of_a_long_chain_is_one_problem():
    targets = {f"t{i}": {"inherits": [f"t{(i + 1) % 1500}"]} for i in range(1500)}
    builds, problems = parse_bake([("docker-bake.json", json.dumps({"target": targets}))], {})
    assert builds == []  # every target is inherited by another: all templates
    assert problems == [Problem(Where("docker-bake.json", 1), "target 't1499': inheritance cycle through 't0'")]


def test_a_variable_referring_to_itself_is_a_cycle_and_stays_unexpanded():
    text = ('variable "a" {\n  default = "${a}${a}${a}${a}${a}"\n}\n'
            'target "t" {\n  platforms = ["${a}"]\n}\n')
    builds, problems = parse_bake([("docker-bake.hcl", text)], {})
    assert builds[0].platforms == ()
    assert problems == [Problem(Where("docker-bake.hcl", 1), "variable cycle not allowed: a -> a"),
                        Problem(Where("docker-bake.hcl", 4), "platform '${a}' cannot be resolved without running bake")]


def test_a_cycle_through_two_variables_is_named_once_and_taints_its_users():
    text = ('variable "a" {\n  default = "${b}"\n}\nvariable "b" {\n  default = "x${a}"\n}\n'
            'variable "c" {\n  default = "${a}/arm64"\n}\nvariable "d" {\n  default = "linux"\n}\n'
            'target "t" {\n  platforms = ["${c}", "${d}/amd64"]\n}\n')
    builds, problems = parse_bake([("docker-bake.hcl", text)], {})
    assert _platforms(builds[0]) == ["linux/amd64"]
    assert problems == [Problem(Where("docker-bake.hcl", 1), "variable cycle not allowed: a -> b -> a"),
                        Problem(Where("docker-bake.hcl", 13), "platform '${a}/arm64' cannot be resolved without running bake")]


def test_a_chain_of_3000_variables_resolves_to_its_end():
    variables = {f"v{i}": {"default": "${v%d}" % (i + 1)} for i in range(2999)}
    variables["v2999"] = {"default": "linux/arm64"}
    text = json.dumps({"variable": variables, "target": {"t": {"platforms": ["${v0}"]}}})
    builds, problems = parse_bake([("docker-bake.json", text)], {})
    assert problems == [] and _platforms(builds[0]) == ["linux/arm64"]


def test_values_expanding_past_64_kib_are_problems():
    text = json.dumps({"variable": {"big": {"default": "x" * 40_000}, "twice": {"default": "${big}${big}"},
                                    "after": {"default": "${twice}"}},
                       "target": {"t": {"context": "${big}-${big}", "output": ["${big}", "a${big}"],
                                        "dockerfile": "D"}}}, indent=0)
    builds, problems = parse_bake([("docker-bake.json", text)], {})
    assert problems == [Problem(Where("docker-bake.json", 6), "variable twice expands beyond 65536 characters"),
                        Problem(Where("docker-bake.json", 14), "target 't': output expands beyond 65536 characters"),
                        Problem(Where("docker-bake.json", 14), "target 't': context expands beyond 65536 characters")]
    assert (builds[0].context, builds[0].outputs, builds[0].dockerfile) == (".", (), "D")


def test_a_value_of_exactly_64_kib_is_kept():
    text = json.dumps({"variable": {"half": {"default": "x" * 32_768}},
                       "target": {"t": {"context": "${half}${half}"}}})
    builds, problems = parse_bake([("docker-bake.json", text)], {})
    assert problems == [] and builds[0].context == "x" * 65_536
