"""One answer per target: the CPU's 32-bit ARM and VFP abilities, the placement rule, and every fixture tree
saying the same thing in `platform`, the report header and the checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mab_doctor.checks.binfmt_handlers import binfmt_handlers
from mab_doctor.checks.float_abi import float_abi
from mab_doctor.cli import main
from mab_doctor.core.context import Context
from mab_doctor.core.model import Status
from mab_doctor.host.cpu import CpuFacts, cpu_facts
from mab_doctor.host.hostinfo import placement
from mab_doctor.host.placement import place
from mab_doctor.host.platforms import parse_platform, parse_platform_list

HOSTS = Path(__file__).parent / "hosts"
TREES = sorted(p.name for p in HOSTS.iterdir() if p.is_dir())


def block(implementer, part):
    return f"processor\t: 0\nCPU implementer\t: {implementer}\nCPU architecture: 8\nCPU part\t: {part}\n\n"


@pytest.mark.parametrize("cpuinfo, aarch32, core", [
    (block("0x41", "0xd4f"), False, "Neoverse-V2"),          # Graviton4, Grace, Axion
    (block("0x61", "0x022"), False, "Apple"),                # any Apple part
    (block("0x43", "0x0a1"), False, "ThunderX"),
    (block("0x41", "0xd0c"), True, "Neoverse-N1"),           # Graviton2
    (block("0x41", "0xd40"), True, "Neoverse-V1"),           # Graviton3
    (block("0x41", "0xd08") + block("0x41", "0xd03"), True, "Cortex-A72"),
    (block("0x41", "0xd40") + block("0x41", "0xd4f"), False, "Neoverse-V1"),  # one core without is enough
    (block("0x48", "0xd01"), None, "0x48/0xd01"),            # not in either table: unknown
    ("", None, None),
])
def test_aarch32_from_the_cores_cpuinfo_names(cpuinfo, aarch32, core):
    facts = cpu_facts(cpuinfo, kernel_machine="aarch64", kernel_release="6.8.0-45-generic")
    assert facts.aarch32 is aarch32
    assert (facts.cores[0] if facts.cores else None) == core


def test_the_live_answer_and_a_64k_kernel_outrank_the_tables():
    n1 = block("0x41", "0xd0c")
    assert cpu_facts(n1, kernel_machine="aarch64", kernel_release="6.8.0", personality=False).aarch32 is False
    assert cpu_facts(block("0x41", "0xd4f"), kernel_machine="aarch64", kernel_release="6.8.0",
                     personality=True).aarch32 is True
    sixty_four = cpu_facts(n1, kernel_machine="aarch64", kernel_release="6.8.0-1008-nvidia-64k")
    assert sixty_four.aarch32 is False and "64 KiB pages" in sixty_four.aarch32_why


@pytest.mark.parametrize("features, vfp", [
    ("half thumb fastmult edsp thumbee tls", 0),
    ("half thumb fastmult vfp edsp java tls", 2),
    ("swp half thumb fastmult vfp edsp neon vfpv3 tls", 3),
    ("half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae", 4),
])
def test_vfp_level_of_32bit_arm_cpus(features, vfp):
    facts = cpu_facts(f"processor\t: 0\nFeatures\t: {features}\nCPU architecture: 7\n", kernel_machine="armv7l",
                      kernel_release="6.1.0")
    assert facts.vfp == vfp and facts.aarch32 is None
    assert cpu_facts("processor\t: 0\n", kernel_machine="armv7l", kernel_release="6.1.0").vfp is None


@pytest.mark.parametrize("host, kernel, cpu, target, how", [
    ("linux/arm64", "linux/arm64", CpuFacts(False, "no AArch32"), "linux/arm/v7", "emulated"),
    ("linux/arm64", "linux/arm64", CpuFacts(True, "Neoverse-N1"), "linux/arm/v7", "native"),
    ("linux/arm64", "linux/arm64", CpuFacts(None, ""), "linux/arm/v6", "native"),
    ("linux/arm/v8", "linux/arm64", CpuFacts(), "linux/arm64", "native"),       # 64-bit kernel, 32-bit userland
    ("linux/arm/v7", "linux/arm/v7", CpuFacts(vfp=3, arm_level=7), "linux/arm64", "emulated"),
    ("linux/arm/v7", "linux/arm/v7", CpuFacts(vfp=0, arm_level=7), "linux/arm/v7", "impossible"),
    ("linux/arm/v7", "linux/arm/v7", CpuFacts(vfp=0, arm_level=7), "linux/arm/v5", "native"),
    ("linux/arm/v6", "linux/arm/v7", CpuFacts(vfp=2, arm_level=6), "linux/arm/v7", "impossible"),
    ("linux/amd64", "linux/amd64", CpuFacts(), "linux/386", "native"),
    ("linux/amd64", "linux/amd64", CpuFacts(), "linux/arm/v7", "emulated"),
])
def test_the_placement_rule(host, kernel, cpu, target, how):
    where = place(parse_platform(target), host=parse_platform(host).platform, kernel=parse_platform(kernel).platform,
                  cpu=cpu)
    assert where.how == how and where.why


def tree_ctx(name, targets="linux/amd64,linux/arm64,linux/arm/v7"):
    return Context(root=HOSTS / name, targets=parse_platform_list(targets))


def test_an_arm64_cpu_without_aarch32_needs_a_qemu_arm_handler_and_gets_one():
    ctx = tree_ctx("grace-ubuntu-24.04-arm64", "linux/arm/v7")
    assert placement(ctx, ctx.targets[0]).how == "emulated"
    (res,) = binfmt_handlers(ctx)
    assert res.status is Status.FAIL and "qemu-arm" in res.summary
    registered = [a for a in res.fix.actions if a.kind == "register"]
    assert registered and registered[0].line.startswith(":qemu-arm:M:") and "/usr/bin/qemu-arm-static" in \
        registered[0].line


def test_a_64bit_kernel_under_a_32bit_userland_runs_arm64_natively():
    ctx = tree_ctx("pi4-arm64-kernel-armhf-userland", "linux/arm64")
    assert placement(ctx, ctx.targets[0]).how == "native"
    (res,) = binfmt_handlers(ctx)
    assert res.status is Status.OK and res.summary.startswith("native")


def test_old_raspbian_is_hard_float_by_its_loaders_attributes_not_by_the_loaders_name():
    res = float_abi(tree_ctx("raspbian-wheezy-pi1", "linux/arm/v6"))
    assert res.data["float_abi"] == "hard" and res.status is Status.OK
    assert any("its loader /lib/ld-linux.so.3 (ld-2.13.so) says so" in d for d in res.details)


def test_hard_float_targets_cannot_run_on_a_core_without_vfp():
    ctx = tree_ctx("cortex-a9-novfp-armel", "linux/arm/v5,linux/arm/v6,linux/arm/v7")
    assert [placement(ctx, t).how for t in ctx.targets] == ["native", "impossible", "impossible"]
    res = float_abi(ctx)
    assert res.status is Status.FAIL and "linux/arm/v6, linux/arm/v7 cannot run here" in res.summary


@pytest.mark.parametrize("name", TREES)
def test_platform_the_report_and_float_abi_agree_on_every_fixture_tree(name, capsys):
    root = str(HOSTS / name)
    targets = "linux/amd64,linux/arm64,linux/arm/v5,linux/arm/v6,linux/arm/v7"
    assert main(["platform", "--root", root, "--platform", targets, "--format", "json"]) == 0
    vocab = json.loads(capsys.readouterr().out)
    main(["--root", root, "--platform", targets, "--format", "json", "--no-plugins"])
    report = json.loads(capsys.readouterr().out)
    row = next(r for r in report["results"] if r["name"] == "float-abi")
    if row["status"] != "skip":
        assert row["data"]["float_abi"] == vocab["float_abi"], name
    assert {t["platform"]: t["placement"] for t in report["target_details"]} == \
        {k: v["placement"] for k, v in vocab["targets"].items()}, name


@pytest.mark.parametrize("rc, stderr, aarch32", [
    (0, "", True),
    (1, "setarch: failed to set personality to linux32: Invalid argument\n", False),
    (1, "setarch: something else\n", True),  # not the kernel's refusal: the cores' table decides (N1: yes)
])
def test_a_live_arm64_host_asks_the_kernel_for_the_32bit_personality(make_host, rc, stderr, aarch32):
    from mab_doctor.core.context import CommandResult, Uname
    from mab_doctor.host.hostinfo import host_facts

    argv = ("/usr/bin/setarch", "linux32", "true")
    files = {"/proc/cpuinfo": block("0x41", "0xd0c"), "/usr/bin/setarch": "#!/bin/sh\n"}
    ctx = make_host(files, targets="linux/arm/v7", commands={argv: CommandResult(argv, rc, "", stderr)},
                    uname_override=Uname("6.8.0-45-generic", "aarch64"))
    ctx.path("/usr/bin/setarch").chmod(0o755)
    ctx.live = True
    assert host_facts(ctx).cpu.aarch32 is aarch32
    assert placement(ctx, ctx.targets[0]).how == ("native" if aarch32 else "emulated")
