"""Which probe builds a run makes (probe_builds), the probe programs' ELF shape, and --build's selection."""

from __future__ import annotations

import pytest

from mab_doctor.checks import BUILTIN
from mab_doctor.core.runner import select
from mab_doctor.emulation.probes import build_marker_probe, build_probe
from mab_doctor.host.elf import parse_header
from mab_doctor.host.platforms import parse_platform
from mab_doctor.project.invocations import Invocation
from mab_doctor.project.probeplan import MAX_BUILDS, probe_builds


def run(label, *platforms, engine="buildx", builder=None, where=""):
    return Invocation(label, where, platforms, engine, builder=builder)


def test_the_command_line_targets_are_one_multi_platform_build():
    (only,) = probe_builds([run("`docker buildx build`", "linux/amd64", "linux/arm64")])
    assert (only.engine, only.builder, only.platforms) == ("buildx", None, ("linux/amd64", "linux/arm64"))


def test_single_platform_builds_are_probed_one_platform_at_a_time():
    plan = probe_builds([run("bake target a", "linux/arm64", where="b.hcl:1"), run("bake target b", "linux/arm/v7")])
    assert [(p.platforms, p.stands_for) for p in plan] == [(("linux/arm64",), ("bake target a (b.hcl:1)",)),
                                                           (("linux/arm/v7",), ("bake target b",))]


def test_one_multi_platform_build_makes_the_whole_group_one_invocation():
    plan = probe_builds([run("a", "linux/arm64"), run("b", "linux/arm64", "linux/arm/v7")])
    assert [p.platforms for p in plan] == [("linux/arm64", "linux/arm/v7")]
    assert plan[0].stands_for == ("a", "b")


def test_builders_and_engines_are_probed_apart_and_podman_builds_its_platforms_together():
    plan = probe_builds([run("a", "linux/arm64", builder="remote"), run("b", "linux/arm64"),
                         run("c", "linux/arm64", engine="podman"), run("d", "linux/arm/v7", engine="podman")])
    assert [(p.engine, p.builder, p.platforms) for p in plan] == [
        ("buildx", "remote", ("linux/arm64",)), ("buildx", None, ("linux/arm64",)),
        ("podman", None, ("linux/arm64", "linux/arm/v7"))]


def test_the_plan_is_bounded_and_builds_without_platforms_are_not_probed():
    many = [run(f"t{i}", f"linux/{a}") for i, a in enumerate(["amd64", "arm64", "386", "ppc64le", "s390x",
                                                             "riscv64", "arm/v7", "arm/v6"])]
    assert len(probe_builds(many)) == MAX_BUILDS
    assert probe_builds([run("x")]) == []


@pytest.mark.parametrize("name", ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/riscv64", "linux/s390x",
                                  "linux/ppc64le", "linux/386", "linux/mips64le"])
def test_marker_probes_are_a_static_executable_and_a_static_pie_of_the_target(name):
    platform = parse_platform(name).platform
    static, pie = parse_header(build_marker_probe(platform)), parse_header(build_marker_probe(platform, pie=True))
    exit_probe = parse_header(build_probe(platform))
    assert (static.e_type, pie.e_type) == (2, 3) and static.interpreter is None and pie.interpreter is None
    assert static.machine == pie.machine == exit_probe.machine and static.flags == exit_probe.flags


def test_build_probe_is_opt_in():
    assert "build-probe" not in [c.name for c in select(BUILTIN)]
    assert "build-probe" in [c.name for c in select(BUILTIN, opt_in=True)]
    assert [c.name for c in select(BUILTIN, ["build-probe"])][-1] == "build-probe"
    assert "build-probe" in [c.name for c in select(BUILTIN, ["binfmt-exec"], opt_in=True)]
    assert "build-probe" not in [c.name for c in select(BUILTIN, ["binfmt-exec"])]
