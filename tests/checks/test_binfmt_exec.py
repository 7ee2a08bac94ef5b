"""binfmt-exec: how a probe run is classified, the probe programs themselves, foreign roots."""

import errno

import pytest

from mab_doctor.checks.binfmt_exec import binfmt_exec, classify
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from mab_doctor.emulation.binfmt import canonical_headers, entry_matches, parse_register_line
from mab_doctor.emulation.upstream import UPSTREAM, upstream_line
from mab_doctor.emulation.probes import EXIT_CODE, build_probe, has_probe
from mab_doctor.host.elf import build_header, parse_header
from mab_doctor.host.platforms import PLATFORMS, parse_platform


@pytest.mark.parametrize("res, label", [
    (CommandResult(("p",), EXIT_CODE), "ran"),
    (CommandResult(("p",), error="Exec format error", errno=errno.ENOEXEC), "ENOEXEC"),
    (CommandResult(("p",), missing=True, errno=errno.ENOENT), "ENOENT"),
    (CommandResult(("p",), -11), "signal 11"), (CommandResult(("p",), 3), "exit 3"),
    (CommandResult(("p",), timed_out=True, timeout=1), "timeout"),
    (CommandResult(("chroot",), 127, stderr="chroot: failed to run command '/probe': No such file or directory"),
     "ENOENT"),
    (CommandResult(("chroot",), 126, stderr="chroot: failed to run command '/probe': Permission denied"), "EACCES"),
    (CommandResult(("chroot",), 127, stderr="other"), "exit 127"),
    (CommandResult(("py",), refused=True), "not run"),
])
def test_classify(res, label):
    assert classify(res) == label


def test_probes_exist_for_the_required_targets_and_parse():
    for oci in ("linux/amd64", "linux/386", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/riscv64",
                "linux/ppc64le", "linux/s390x", "linux/mips64le"):
        platform = parse_platform(oci).platform
        assert has_probe(platform)
        header = parse_header(build_probe(platform))
        assert (header.machine, header.elf_class, header.endian, header.e_type, header.interpreter) == (
            platform.elf_machine, platform.elf_class, platform.endian, 2, None)
    assert sum(has_probe(p) for p in PLATFORMS) >= 9


@pytest.mark.parametrize("platform", [p for p in PLATFORMS if has_probe(p) and p.qemu in UPSTREAM],
                         ids=lambda p: p.oci)
def test_probes_and_mask_headers_share_one_elf_builder(platform):
    # The probe the kernel runs and the headers the masks are judged on agree byte for byte where
    # binfmt_misc looks, so a handler binfmt-handlers accepts is the one binfmt-exec exercises.
    probe, heads = build_probe(platform), canonical_headers(platform)
    assert probe[:20] == heads["EXEC"][:20] == build_header(platform.elf_class, platform.endian,
                                                            platform.elf_machine)[:20]
    entry = parse_register_line(upstream_line(platform.qemu, "/usr/bin/qemu-static"))
    assert entry_matches(entry, probe) and entry_matches(entry, heads["DYN"])
    assert parse_header(heads["DYN"]).e_type == 3


def test_exec_skips_on_a_foreign_root(make_host, binfmt_tree):
    results = binfmt_exec(make_host(binfmt_tree({}), targets="linux/arm64,linux/amd64"))
    assert [r.status for r in results] == [Status.SKIP, Status.SKIP]
    assert "live host" in results[0].summary
