"""binfmt-exec: how a probe run is classified, the probe programs themselves, foreign roots."""

import errno
import os
import time
from pathlib import Path

import pytest

from elfbuild import build_elf
from helpers import DEBIAN_AARCH64, entry_text, executable, host
from mab_doctor.checks.binfmt_exec import binfmt_exec, classify
from mab_doctor.core.context import CommandResult, Uname
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
    (CommandResult(("p",), error="odd", errno=9999), "9999"),
    (CommandResult(("p",), 0), "exit 0"), (CommandResult(("p",), 60), "exit 60"),
    (CommandResult(("p",), 62), "exit 62"),
    (CommandResult(("p",), -1), "signal 1"),
    (CommandResult(("chroot",), 127, stderr="chroot: failed to run command '/probe': Exec format error"), "ENOEXEC"),
    (CommandResult(("chroot",), 126, stderr="chroot: failed to run command '/probe': Bad thing"), "exit 126"),
    (CommandResult(("chroot",), 127, stderr="No such file or directory"), "exit 127"),
    (CommandResult(("chroot",), 125, stderr="chroot: failed to run command '/probe': No such file"), "exit 125"),
    (CommandResult(("chroot",), 128, stderr="chroot: failed to run command '/probe': No such file"), "exit 128"),
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


# ----- the check itself on a "live" fixture tree: probe runs answered by ProbeRunner ----------------
RAN = CommandResult(("probe",), 61)
ENOEXEC = CommandResult(("probe",), error="Exec format error", errno=errno.ENOEXEC)
ENOENT = CommandResult(("probe",), error="No such file or directory", errno=errno.ENOENT)
BUSY = CommandResult(("probe",), error="Text file busy", errno=errno.ETXTBSY)
CHROOT = "/usr/bin/chroot"
ENOEXEC_MEANING = "exec format error: no enabled handler matches this architecture"
ENOENT_MEANING = ("no such file or directory: the handler's interpreter is not reachable (no F flag, "
                  "a dynamically linked interpreter, or the interpreter is missing)")
REGISTER_WITH_F = "Register a QEMU handler with F: `sudo mab-doctor --fix`"
UPGRADE = "Upgrade QEMU (qemu-user-static)."
REPLACE_ARM64 = ("Replace qemu-aarch64 with the F flag for linux/arm64 (definition: upstream QEMU magic/mask "
                 "with /usr/bin/qemu-aarch64-static)")


class ProbeRunner:
    """Answers probe runs by the probe's platform folder and by how it runs ("direct" or "chroot");
    a list of answers is given out in turn, its last one repeating. Anything else fails the test."""

    def __init__(self, answers):
        self.answers = {key: list(value) if isinstance(value, list) else [value] for key, value in answers.items()}
        self.calls = []

    def __call__(self, argv, *, timeout, env=None):
        argv = tuple(argv)
        if argv[0] == CHROOT:
            assert len(argv) == 3 and argv[2] == "/probe" and (Path(argv[1]) / "probe").stat().st_mode & 0o777 == 0o755
            key = (Path(argv[1]).name.removeprefix("jail-"), "chroot")
        else:
            assert len(argv) == 1 and Path(argv[0]).name == "probe" and Path(argv[0]).stat().st_mode & 0o777 == 0o755
            key = (Path(argv[0]).parent.name, "direct")
        self.calls.append(key)
        if key not in self.answers:
            pytest.fail(f"unexpected probe run: {argv}")
        queue = self.answers[key]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def live_host(make_host, binfmt_tree, monkeypatch):
    """live_host(answers, targets=..., root=True, chroot=True, entries=...) -> (results, runner): the
    check on an amd64 fixture tree treated as the live host, probe runs answered by ProbeRunner."""
    def run(answers, targets="linux/arm64", *, root=True, chroot=True, entries=None):
        monkeypatch.setattr(os, "geteuid", lambda: 0 if root else 1000)
        entries = {"qemu-aarch64": entry_text(DEBIAN_AARCH64)} if entries is None else entries
        extra = {CHROOT: build_elf("x86_64")} if chroot else {}
        ctx = make_host(binfmt_tree(entries, **extra), targets=targets, live=True,
                        uname_override=Uname("6.1.0", "x86_64"))
        if chroot:
            executable(ctx, CHROOT)
        ctx.runner = ProbeRunner(answers)
        return binfmt_exec(ctx), ctx.runner
    return run


def test_exec_skips_every_target_on_a_foreign_root_with_the_reason(make_host, binfmt_tree):
    results = binfmt_exec(make_host(binfmt_tree({}), targets="linux/arm64,linux/amd64"))
    assert [(r.target, r.summary) for r in results] == [
        ("linux/arm64", "probes only run on the live host, not on a --root tree"),
        ("linux/amd64", "probes only run on the live host, not on a --root tree")]


def test_runs_directly_and_in_a_chroot_as_root(live_host):
    (res,), runner = live_host({("linux_arm64", "direct"): RAN, ("linux_arm64", "chroot"): RAN})
    assert res.status is Status.OK and res.summary == "runs directly and in an empty chroot (qemu-aarch64)"
    assert res.details == ("direct run: ran (implied: it ran in the empty chroot)", "in an empty chroot: ran",
                           "path: qemu-aarch64")
    assert res.data == {"direct": "ran", "chroot": "ran", "via": "qemu-aarch64",
                        "grid": {"runs": True, "in container": True}}
    assert runner.calls == [("linux_arm64", "chroot")]  # what ran in the chroot runs directly too
    assert res.fix is None and res.remediation is None


@pytest.mark.parametrize("root, chroot", [(False, True), (True, False)])
def test_without_root_or_chroot_only_the_direct_run_is_tested(live_host, root, chroot):
    (res,), runner = live_host({("linux_arm64", "direct"): RAN}, root=root, chroot=chroot)
    assert res.status is Status.OK
    assert res.summary == "runs directly (in-container run needs root to test) (qemu-aarch64)"
    assert res.details == ("direct run: ran", "in an empty chroot: not tested (needs root and chroot(1))",
                           "path: qemu-aarch64")
    assert res.data["chroot"] == "not run" and res.data["grid"] == {"runs": True, "in container": None}
    assert runner.calls == [("linux_arm64", "direct")]


@pytest.mark.parametrize("answer, label, meaning, remediation", [
    (ENOEXEC, "ENOEXEC", ENOEXEC_MEANING, REGISTER_WITH_F),
    (ENOENT, "ENOENT", ENOENT_MEANING, REGISTER_WITH_F),
    (CommandResult(("probe",), error="Permission denied", errno=errno.EACCES), "EACCES",
     "permission denied: the probe's directory may be mounted noexec", UPGRADE),
    (CommandResult(("probe",), -11), "signal 11", "the emulator crashed or misbehaved", UPGRADE),
    (CommandResult(("probe",), 3), "exit 3", "the emulator crashed or misbehaved", UPGRADE),
    (CommandResult(("probe",), timed_out=True, timeout=10), "timeout", "timeout", UPGRADE),
])
def test_a_direct_failure_is_named_and_the_chroot_answer_set_aside(live_host, answer, label, meaning, remediation):
    # In an empty chroot, chroot(1)'s execvp turns exec format errors into 127 as well: only the direct
    # run, made because the chroot one failed, names the failure.
    (res,), runner = live_host({("linux_arm64", "chroot"): CommandResult((CHROOT,), 127),
                                ("linux_arm64", "direct"): answer})
    assert res.status is Status.FAIL and res.summary == f"probe does not run: {label}, {meaning}"
    assert res.remediation == remediation and res.fix.title == REPLACE_ARM64
    assert res.details == (f"direct run: {label}", "in an empty chroot: not run", "path: qemu-aarch64")
    assert res.data["grid"] == {"runs": False, "in container": None}
    assert runner.calls == [("linux_arm64", "chroot"), ("linux_arm64", "direct")]


def test_no_handler_is_named_as_the_path(live_host):
    (res,), _ = live_host({("linux_arm64", "chroot"): ENOEXEC, ("linux_arm64", "direct"): ENOEXEC}, entries={})
    assert res.summary == f"probe does not run: ENOEXEC, {ENOEXEC_MEANING}"
    assert res.data["via"] == "no handler" and res.details[2] == "path: no handler"
    assert res.fix.title == ("Register qemu-aarch64 with the F flag for linux/arm64 (definition: upstream "
                             "QEMU magic/mask with /usr/bin/qemu-aarch64-static)")


@pytest.mark.parametrize("answer, label, meaning", [
    (ENOENT, "ENOENT", ENOENT_MEANING),
    (CommandResult((CHROOT,), 7), "exit 7", "exit 7"),
    (CommandResult((CHROOT,), -11), "signal 11", "signal 11")])
def test_runs_on_the_host_but_not_in_a_container(live_host, answer, label, meaning):
    (res,), _ = live_host({("linux_arm64", "direct"): RAN, ("linux_arm64", "chroot"): answer})
    assert res.status is Status.FAIL
    assert res.summary == f"runs on the host but not in a container: {label}, {meaning}"
    assert res.remediation == "Re-register the handler with F and a static interpreter: `sudo mab-doctor --fix`"
    assert res.fix.title == REPLACE_ARM64
    assert res.details == ("direct run: ran", f"in an empty chroot: {label}", "path: qemu-aarch64")
    assert res.data["grid"] == {"runs": True, "in container": False}


def test_a_native_target_runs_without_chroot_or_fix(live_host):
    (res,), runner = live_host({("linux_amd64", "direct"): RAN}, targets="linux/amd64")
    assert res.status is Status.OK and res.summary == "runs natively" and res.fix is None
    assert res.details == ("direct run: ran", "in an empty chroot: ran (native: no handler involved)", "path: native")
    assert res.data == {"direct": "ran", "chroot": "ran", "via": "native", "grid": {"runs": True, "in container": True}}
    assert runner.calls == [("linux_amd64", "direct")]


def test_a_native_target_that_does_not_run_is_a_failure_with_a_handler_fix(live_host):
    (res,), runner = live_host({("linux_386", "direct"): ENOEXEC}, targets="linux/386")
    assert res.status is Status.FAIL
    assert res.summary == ("probe does not run (a target this CPU was expected to run natively): ENOEXEC, "
                           + ENOEXEC_MEANING)
    assert res.fix.title == "Register qemu-i386 with the F flag for linux/386 (definition: the installed package)"
    assert res.details == ("direct run: ENOEXEC", "in an empty chroot: ENOEXEC (native: no handler involved)",
                           "path: native")
    assert res.data["grid"] == {"runs": False, "in container": False}
    assert runner.calls == [("linux_386", "direct")]


def test_a_native_target_that_crashes_keeps_the_handler_fix(live_host):
    (res,), _ = live_host({("linux_386", "direct"): CommandResult(("probe",), -11)}, targets="linux/386")
    assert res.summary == ("probe does not run (a target this CPU was expected to run natively): signal 11, "
                           "the emulator crashed or misbehaved")
    assert res.fix.title == "Register qemu-i386 with the F flag for linux/386 (definition: the installed package)"


def test_no_instruction_level_note_for_another_machine(live_host):
    (res,), _ = live_host({("linux_s390x", "chroot"): ENOEXEC, ("linux_s390x", "direct"): ENOEXEC},
                          targets="linux/s390x")
    assert res.details == ("direct run: ENOEXEC", "in an empty chroot: not run", "path: no handler")


def test_a_target_without_a_probe_is_skipped_in_order(live_host):
    results, runner = live_host({("linux_arm64", "direct"): RAN, ("linux_arm64", "chroot"): RAN},
                                targets="linux/loong64,linux/arm64")
    assert [(r.target, r.status, r.summary) for r in results] == [
        ("linux/loong64", Status.SKIP, "no probe program for linux/loong64 yet"),
        ("linux/arm64", Status.OK, "runs directly and in an empty chroot (qemu-aarch64)")]


def test_text_file_busy_is_retried_with_growing_pauses(live_host, monkeypatch):
    pauses = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    (res,), runner = live_host({("linux_arm64", "chroot"): [BUSY, BUSY, RAN]})
    assert res.summary == "runs directly and in an empty chroot (qemu-aarch64)"
    assert pauses == [0.001, 0.003] and runner.calls == [("linux_arm64", "chroot")] * 3


def test_text_file_busy_that_never_ends_gives_up_after_seven_tries(live_host, monkeypatch):
    pauses = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    (res,), runner = live_host({("linux_arm64", "chroot"): BUSY, ("linux_arm64", "direct"): BUSY})
    assert res.summary == "probe does not run: ETXTBSY, ETXTBSY"
    assert pauses == [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5] * 2  # under a second of patience per run
    assert runner.calls == [("linux_arm64", "chroot")] * 7 + [("linux_arm64", "direct")] * 7


def test_a_target_that_cannot_run_here_fails_without_a_probe(monkeypatch):
    # ARMv7 programs on an ARMv6 CPU: the probe (ARMv4 code) would run and prove nothing.
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    ctx = host("pi-zero-raspbian", targets="linux/arm/v7", live=True, uname_override=Uname("6.1.0", "armv6l"))
    ctx.runner = ProbeRunner({})
    (res,) = binfmt_exec(ctx)
    assert res.status is Status.FAIL and res.summary.startswith("cannot run here: needs ARMv7, this CPU is ARMv6")
    assert res.fix is None and res.data == {"placement": "impossible"}


def test_the_declaration():
    c = binfmt_exec
    assert (c.name, c.title, c.category, c.requires, c.per_target, c.fixable) == (
        "binfmt-exec", "Execution probe", "emulation", (), True, True)
    assert c.doc.startswith("What it checks: ")


def test_text_file_busy_inside_chroot_is_retried_too(live_host, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    busy = CommandResult((CHROOT,), 126, "", "chroot: failed to run command '/probe': Text file busy\n")
    (res,), runner = live_host({("linux_arm64", "chroot"): [busy, RAN]})
    assert res.status is Status.OK and runner.calls == [("linux_arm64", "chroot")] * 2
