"""binfmt-handlers on synthetic trees: mask matching, order, flags, interpreters, fixes."""

import pytest

from elfbuild import build_elf
from helpers import DEBIAN_AARCH64, FakeRunner, entry_text, host
from mab_doctor.checks.binfmt_handlers import binfmt_handlers
from mab_doctor.core.context import CommandResult, Uname
from mab_doctor.core.model import Status
from mab_doctor.emulation.upstream import UPSTREAM, upstream_line


REPLACE_ARM64 = ("Replace qemu-aarch64 with the F flag for linux/arm64 (definition: upstream QEMU magic/mask "
                 "with /usr/bin/qemu-aarch64-static)")


def one(make_host, files, target="linux/arm64"):
    (res,) = binfmt_handlers(make_host(files, targets=target))
    assert res.target == target
    return res


def test_debian_handler_is_ok(make_host, binfmt_tree):
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}))
    assert res.status is Status.OK and res.summary == "qemu-aarch64 (flags POF)" and res.remediation is None
    assert res.data["handler"] == {"name": "qemu-aarch64", "interpreter": "/usr/libexec/qemu-binfmt/aarch64-binfmt-P",
                                   "flags": "POF", "resolved": "/usr/bin/qemu-aarch64-static", "static": True,
                                   "static_pie": None, "emulates": "aarch64"}
    assert res.details == ("handler qemu-aarch64: interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P -> "
                           "/usr/bin/qemu-aarch64-static, flags 'POF'",
                           "registration order unknown for a captured tree: listing order assumed")
    assert res.fix is None and res.data["qemu_version"] is None


@pytest.mark.parametrize("cpu, target", [("aarch64", "linux/arm64"), ("arm", "linux/arm/v6"),
                                         ("riscv64", "linux/riscv64"), ("ppc64le", "linux/ppc64le"),
                                         ("s390x", "linux/s390x"), ("mips64el", "linux/mips64le")])
def test_upstream_masks_match_their_architecture_only(make_host, cpu, target, binfmt_tree):
    line = upstream_line(cpu, f"/usr/bin/qemu-{cpu}-static")
    files = binfmt_tree({f"qemu-{cpu}": entry_text(line)}, **{f"/usr/bin/qemu-{cpu}-static": build_elf("x86_64")})
    res = one(make_host, files, target)
    assert res.status is Status.OK and res.data["handler"]["name"] == f"qemu-{cpu}"
    assert res.data["handler"]["emulates"] == cpu
    other = "linux/s390x" if cpu != "s390x" else "linux/arm64"
    assert one(make_host, files, other).status is Status.FAIL


def test_debian_ppc64le_mask_differs_from_upstream_but_still_matches(make_host, binfmt_tree):
    debian = (":qemu-ppc64le:M::" + UPSTREAM["ppc64le"][0] + ":" + UPSTREAM["ppc64le"][1].replace(
        "\\xff\\x00\\xff", "\\xfc\\x00\\xff", 1) + ":/usr/libexec/qemu-binfmt/ppc64le-binfmt-P:OPF")
    files = binfmt_tree({"qemu-ppc64le": entry_text(debian)}, **{
        "/usr/bin/qemu-ppc64le-static": build_elf("x86_64"),
        "/usr/libexec/qemu-binfmt/ppc64le-binfmt-P": "-> ../../bin/qemu-ppc64le-static"})
    assert one(make_host, files, "linux/ppc64le").status is Status.OK


def test_missing_handler_fails_with_register_fix(make_host, binfmt_tree):
    res = one(make_host, binfmt_tree({}))
    assert res.status is Status.FAIL and res.summary == "no binfmt_misc handler for linux/arm64 (qemu-aarch64)"
    (action,) = [a for a in res.fix.actions if a.kind == "register"]
    assert action.line == upstream_line("aarch64", "/usr/bin/qemu-aarch64-static")
    assert res.fix.needs_root and res.remediation == (
        "Run `sudo mab-doctor --fix` (registers the distribution's QEMU handler with F). Other ways: "
        "`docker run --privileged --rm tonistiigi/binfmt --install arm64,arm,riscv64` (or `--install all`), or "
        "install the distribution's static QEMU package (qemu-user-static).")
    assert res.data == {"handler": None, "shadowed": (), "disabled": (), "garbage": ()}
    assert res.details == ("registration order unknown for a captured tree: listing order assumed",)


def test_distro_binfmt_d_definition_is_preferred(make_host, binfmt_tree):
    files = binfmt_tree({}, **{"/usr/lib/binfmt.d/qemu-aarch64.conf": DEBIAN_AARCH64 + "\n"})
    res = one(make_host, files)
    assert [a.line for a in res.fix.actions if a.kind == "register"] == [DEBIAN_AARCH64]
    assert "/usr/lib/binfmt.d/qemu-aarch64.conf" in res.fix.title


def test_no_static_emulator_plans_the_package_install(make_host, binfmt_tree):
    files = binfmt_tree({})
    del files["/usr/bin/qemu-aarch64-static"], files["/usr/libexec/qemu-binfmt/aarch64-binfmt-P"]
    res = one(make_host, files)
    kinds = [a.kind for a in res.fix.actions]
    assert kinds == ["install", "register"]
    assert res.fix.commands[0] == ("apt-get", "install", "-y", "qemu-user-static")


def test_missing_f_flag_explains_the_enoent_symptom_and_replaces(make_host, binfmt_tree):
    no_f = DEBIAN_AARCH64.replace(":OPF", ":OP")
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(no_f)}))
    assert res.status is Status.FAIL and res.summary == (
        "qemu-aarch64: no F flag: inside a container the kernel looks for /usr/libexec/qemu-binfmt/aarch64-binfmt-P "
        "in the container's own filesystem, so every foreign RUN step fails with \"no such file or directory\"")
    assert res.remediation == (
        "Re-register with F: `docker run --privileged --rm tonistiigi/binfmt --install <arch>` (always CF), "
        "`docker run --rm --privileged multiarch/qemu-user-static --reset -p yes`, or update-binfmts "
        "--fix-binary yes (binfmt-support >= 2.1.7).")
    assert [(a.kind, a.subject) for a in res.fix.actions][:2] == [("unregister", "qemu-aarch64"),
                                                                 ("register", "qemu-aarch64")]


def test_disabled_handler(make_host, binfmt_tree):
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64, enabled=False)}))
    assert res.status is Status.FAIL and res.summary == "handler qemu-aarch64 is registered but disabled"
    assert [(a.kind, a.subject) for a in res.fix.actions] == [("enable-entry", "qemu-aarch64")]
    assert res.remediation == "Enable it: `echo 1 | sudo tee /proc/sys/fs/binfmt_misc/qemu-aarch64`"
    assert res.details == ("registration order unknown for a captured tree: listing order assumed",
                           "disabled: qemu-aarch64")
    assert res.data == {"handler": None, "shadowed": (), "disabled": ("qemu-aarch64",), "garbage": ()}


def test_the_first_disabled_entry_is_the_one_to_enable(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64, enabled=False),
                         "zz-aarch64": entry_text(DEBIAN_AARCH64.replace(":qemu-aarch64:", ":zz-aarch64:"), False)})
    res = one(make_host, files)
    assert res.summary == "handler qemu-aarch64 is registered but disabled"
    assert res.data["disabled"] == ("qemu-aarch64", "zz-aarch64")


def test_a_disabled_duplicate_beside_a_working_handler_is_named(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64),
                         "zz-aarch64": entry_text(DEBIAN_AARCH64.replace(":qemu-aarch64:", ":zz-aarch64:"), False)})
    res = one(make_host, files)
    assert res.status is Status.OK and res.summary == "qemu-aarch64 (flags POF)"
    assert res.details[-1] == "disabled: zz-aarch64" and res.data["disabled"] == ("zz-aarch64",)


def test_dynamic_interpreter_fails(make_host, binfmt_tree):
    line = upstream_line("aarch64", "/usr/bin/qemu-aarch64")
    files = binfmt_tree({"qemu-aarch64": entry_text(line)},
                        **{"/usr/bin/qemu-aarch64": build_elf("x86_64", interp="/lib64/ld-linux-x86-64.so.2")})
    res = one(make_host, files)
    assert res.status is Status.FAIL and res.summary == (
        "qemu-aarch64: interpreter /usr/bin/qemu-aarch64 is dynamically linked (/lib64/ld-linux-x86-64.so.2): "
        "it cannot start inside containers")
    assert res.remediation == ("Install a static QEMU (Debian/Ubuntu `qemu-user-static`; on Debian before "
                               "1:9.1.0+ds-1 not `qemu-user` + `qemu-user-binfmt`, whose emulators were dynamic) "
                               "or use tonistiigi/binfmt.")
    assert res.fix.title == REPLACE_ARM64 and res.data["handler"]["static"] is False


def test_interpreter_for_another_host_fails(make_host, binfmt_tree):
    line = upstream_line("aarch64", "/opt/qemu-aarch64")
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(line)}, **{"/opt/qemu-aarch64": build_elf("aarch64")}))
    assert res.status is Status.FAIL
    assert res.summary == "qemu-aarch64: interpreter /opt/qemu-aarch64 is an EM_AARCH64 binary, not EM_X86_64"
    assert res.remediation == "Install the emulator built for this host (qemu-user-static)."
    assert res.fix.title == REPLACE_ARM64


def test_an_interpreter_that_is_no_elf_names_the_error(make_host, binfmt_tree):
    line = upstream_line("aarch64", "/opt/qemu-aarch64")
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(line)}, **{"/opt/qemu-aarch64": "#!/bin/sh\n"}))
    assert res.status is Status.FAIL
    assert res.summary == "qemu-aarch64: interpreter /opt/qemu-aarch64 is not a readable ELF file: not an ELF file"
    assert res.remediation == "Install the emulator built for this host (qemu-user-static)."
    assert res.details[0] == "handler qemu-aarch64: interpreter /opt/qemu-aarch64, flags 'F'"


def test_on_an_unknown_host_the_interpreter_machine_is_not_judged(make_host, binfmt_tree):
    line = upstream_line("aarch64", "/opt/qemu-aarch64")
    files = binfmt_tree({"qemu-aarch64": entry_text(line)}, **{"/proc/sys/kernel/arch": "sparc64\n",
                        "/usr/bin/sh": "#!nothing\n", "/opt/qemu-aarch64": build_elf("aarch64")})
    res = one(make_host, files)
    assert res.status is Status.OK and res.summary == "qemu-aarch64 (flags F)"


def test_missing_interpreter_with_and_without_f(make_host, binfmt_tree):
    gone = upstream_line("aarch64", "/usr/bin/gone")
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(gone)}))
    assert res.status is Status.WARN and res.summary == (
        "qemu-aarch64: interpreter /usr/bin/gone is gone; F keeps the opened copy working until the next reboot")
    assert res.remediation == "Reinstall qemu-user-static and re-register the handler."
    assert res.fix.title == REPLACE_ARM64
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(gone[:-1] + "O")}))
    assert res.status is Status.FAIL and res.summary == (
        "qemu-aarch64: interpreter /usr/bin/gone does not exist (\"no such file or directory\" on every exec)")
    assert res.remediation == "Install qemu-user-static and re-register the handler."
    assert res.fix.title == REPLACE_ARM64


def test_shadowed_duplicate_is_named(make_host, binfmt_tree):
    # Captured trees list entries in name order; the first one counts as the newest.
    files = binfmt_tree({"a-tonistiigi": entry_text(upstream_line("aarch64", "/usr/bin/qemu-aarch64-static", "OCF")),
                  "qemu-aarch64": entry_text(DEBIAN_AARCH64)})
    res = one(make_host, files)
    assert res.status is Status.OK and res.data["handler"]["name"] == "a-tonistiigi"
    assert res.data["shadowed"] == ("qemu-aarch64",) and res.summary == "a-tonistiigi (flags OCF, shadows qemu-aarch64)"
    assert res.details == ("handler a-tonistiigi: interpreter /usr/bin/qemu-aarch64-static, flags 'OCF'",
                           "registration order unknown for a captured tree: listing order assumed",
                           "shadowed (older, never used): qemu-aarch64 -> /usr/libexec/qemu-binfmt/aarch64-binfmt-P")


def test_every_shadowed_duplicate_is_listed(make_host, binfmt_tree):
    files = binfmt_tree({"a-new": entry_text(upstream_line("aarch64", "/usr/bin/qemu-aarch64-static")),
                         "b-mid": entry_text(upstream_line("aarch64", "/usr/bin/b")),
                         "c-old": entry_text(upstream_line("aarch64", "/usr/bin/c"))})
    res = one(make_host, files)
    assert res.summary == "a-new (flags F, shadows b-mid, c-old)" and res.data["shadowed"] == ("b-mid", "c-old")


def test_garbage_entries_warn_but_never_crash(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64), "broken": "what is this\n",
                  "jar": entry_text(":jar:E::jar::/usr/bin/jexec:")})
    res = one(make_host, files)
    assert res.status is Status.WARN and res.data["garbage"] == ("broken: first line is 'what is this', "
                                                                 "not enabled/disabled",)
    assert res.summary == "qemu-aarch64 (flags POF)"
    assert res.remediation == "Remove or fix the unparsable binfmt_misc entries."
    assert "unparsable entry: broken: first line is 'what is this', not enabled/disabled" in res.details


@pytest.mark.parametrize("offset, why", [
    ("9" * 5000, "offset 999999999999... (5000 characters) is not a usable number"),
    ("-4", "negative offset -4"),
    ("250", "offset 250 plus 20 magic bytes lies beyond the first 256 bytes the kernel reads")])
def test_entry_the_kernel_would_refuse_is_plain_garbage(make_host, binfmt_tree, offset, why):
    bad = entry_text(DEBIAN_AARCH64).replace("offset 0", f"offset {offset}")
    res = one(make_host, binfmt_tree({"qemu-aarch64": bad}))
    (garbage,) = res.data["garbage"]
    assert res.status is Status.FAIL and garbage == f"qemu-aarch64: {why}: the kernel would not accept it"
    assert "sys.set_int_max_str_digits" not in garbage


def test_mask_shorter_than_the_magic_is_refused(make_host, binfmt_tree):
    short = entry_text(DEBIAN_AARCH64).replace("mask ffffffffffffff00", "mask ffff\nignored ")
    res = one(make_host, binfmt_tree({"qemu-aarch64": short.split("ignored")[0]}))
    assert res.data["garbage"] == ("qemu-aarch64: mask of 2 bytes for a magic of 20: the kernel would not accept it",)


def test_protected_or_foreign_handlers_are_never_fixed(make_host, binfmt_tree):
    box = upstream_line("aarch64", "/usr/bin/box64")[:-1]  # a non-QEMU emulator without F
    files = binfmt_tree({"box64": entry_text(box.replace("qemu-aarch64", "box64"))},
                        **{"/usr/bin/box64": build_elf("x86_64")})
    res = one(make_host, files)
    assert res.status is Status.FAIL and res.fix is None


def test_native_targets_need_no_handler(make_host, binfmt_tree):
    assert one(make_host, binfmt_tree({}), "linux/386").summary == "native: no handler needed"


def test_same_elf_machine_as_the_host_cannot_be_emulated():
    (res,) = binfmt_handlers(host("pi-zero-raspbian", targets="linux/arm/v7"))
    assert res.status is Status.FAIL and res.summary == (
        "linux/arm/v7 cannot run here: needs ARMv7, this CPU is ARMv6: \"illegal instruction\", and no handler can "
        "emulate it without also catching this host's own programs")
    assert res.remediation == ("Build and test linux/arm/v7 on a machine whose CPU runs it (or in a full system "
                               "emulator); images for this host: linux/arm/v6.")
    assert res.fix is None  # a qemu-arm handler would capture every native program too


def test_a_mask_that_matches_only_static_executables_warns(make_host, binfmt_tree):
    exec_only = DEBIAN_AARCH64.replace("\\xfe", "\\xff")
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(exec_only)}))
    assert res.status is Status.WARN
    assert res.summary == "qemu-aarch64 matches only static executables or only PIEs of linux/arm64"
    assert res.remediation == "Re-register it with the upstream mask (e_type byte masked with \\xfe)."
    assert res.fix.title == REPLACE_ARM64


@pytest.fixture
def live_version(make_host, binfmt_tree):
    """live_version(output, rc=0, target=..., handler=..., files=...) -> result: a handler (Debian's for
    arm64 by default) on a tree treated as the live amd64 host, its QEMU answering `--version` with
    ``output``."""
    def run(output, rc=0, target="linux/arm64", handler=DEBIAN_AARCH64, qemu="/usr/bin/qemu-aarch64-static",
            files=None):
        name = handler.split(":")[1]
        ctx = make_host(binfmt_tree({name: entry_text(handler)}, **(files or {})), targets=target, live=True,
                        uname_override=Uname("6.1.0", "x86_64"))
        ask = (str(ctx.path(qemu)), "--version")
        ctx.runner = FakeRunner({ask: CommandResult(ask, rc, output)})
        (res,) = binfmt_handlers(ctx)
        return res
    return run


REMEDY = ("Prefer a current tonistiigi/binfmt image over old distribution QEMU; if a version crashes, try another "
          "tag (e.g. qemu-v8.x or v10.x); prefer cross-compilation in a --platform=$BUILDPLATFORM stage.")
SEGV = "qemu: uncaught target signal 11 (Segmentation fault) - core dumped"


@pytest.mark.parametrize("version, symptom, why_starts", [
    ("9.2.0", SEGV, "Reported, not root-caused: `qemu: uncaught target signal 11` while running libc-bin"),
    ("9.2.1", SEGV, "Inferred, unverified: 9.2.1 has 9.2.0's ELF placement change"),
    ("9.2.2", SEGV, "Reported, not root-caused: the same libc-bin segfault still reproduced with 9.2.2"),
    ("8.2.2", SEGV, "QEMU issue 1913, a regression after 8.1.1 (8.0.4 works)"),
    ("8.1.1", SEGV, "QEMU issue 1913, a regression after 8.1.1 (8.0.4 works)"),
    ("9.1.3", SEGV, "Inferred, unverified: QEMU issue 1913"),
    ("5.2.0", "Segmentation fault (core dumped)", "Reported regression from QEMU 5.1.0"),
])
def test_a_known_bad_qemu_version_warns(live_version, version, symptom, why_starts):
    res = live_version(f"qemu-aarch64 version {version} (Debian 1:{version}+ds-1)\n")
    assert res.status is Status.WARN and res.remediation == REMEDY
    head = f'qemu-aarch64: QEMU {version} is on the known-bad list for linux/arm64 ("{symptom}"): '
    assert res.summary.startswith(head + why_starts)
    assert res.fix is None and res.data["qemu_version"] == version


def test_every_known_bad_entry_of_a_version_is_named_with_its_source(live_version):
    res = live_version("qemu-aarch64 version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)\n")
    assert res.details[-1] == ('known bad 8.1.1 up to 8.2.10 (exclusive) for linux/arm64 ("qemu: uncaught target '
                               'signal 11 (Segmentation fault) - core dumped"): '
                               'https://bugs.launchpad.net/ubuntu/+source/qemu/+bug/2072564')


@pytest.mark.parametrize("version", ["8.1.0", "8.2.10", "9.2.3", "10.0.0", "6.0.0", "5.0.1", "7.0.0"])
def test_a_qemu_version_next_to_the_bad_ones_is_fine(live_version, version):
    res = live_version(f"qemu-aarch64 version {version}\n")
    assert res.status is Status.OK and res.summary == f"qemu-aarch64 (flags POF, QEMU {version})"


ARM = upstream_line("arm", "/usr/bin/qemu-arm-static")
ARM_FILES = {"/usr/bin/qemu-arm-static": build_elf("x86_64")}


def test_a_bug_of_one_target_is_not_held_against_another(live_version):
    # 8.2.2's ldconfig crash is an arm64 bug: the same QEMU release is fine for arm/v7.
    res = live_version("qemu-arm version 8.2.2\n", target="linux/arm/v7", handler=ARM, qemu="/usr/bin/qemu-arm-static",
                       files=ARM_FILES)
    assert res.status is Status.OK and res.summary == "qemu-arm (flags F, QEMU 8.2.2)"


def test_qemu_7_0_is_known_bad_for_arm_v7_only(live_version):
    res = live_version("qemu-arm version 7.0.0\n", target="linux/arm/v7", handler=ARM, qemu="/usr/bin/qemu-arm-static",
                       files=ARM_FILES)
    assert res.status is Status.WARN and res.summary.startswith(
        'qemu-arm: QEMU 7.0.0 is on the known-bad list for linux/arm/v7 ("Out of memory allocating 536870912 bytes!"): '
        "Reported with tonistiigi/binfmt qemu-v7.0.0-28")
    assert live_version("qemu-aarch64 version 7.0.0\n").status is Status.OK


def test_an_unreadable_qemu_version_is_left_out(live_version):
    res = live_version("", rc=1)
    assert res.status is Status.OK and res.summary == "qemu-aarch64 (flags POF)" and res.data["qemu_version"] is None
    (handler,) = res.details  # a live host's listing order is its registration order: no note about it
    assert handler.startswith("handler qemu-aarch64: interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P -> /")
    assert handler.endswith("/usr/bin/qemu-aarch64-static, flags 'POF'")


def test_a_partial_duplicate_behind_a_full_handler_is_only_shadowed(make_host, binfmt_tree):
    exec_only = DEBIAN_AARCH64.replace("\\xfe", "\\xff").replace(":qemu-aarch64:", ":a-exec-only:")
    files = binfmt_tree({"a-exec-only": entry_text(exec_only), "qemu-aarch64": entry_text(DEBIAN_AARCH64)})
    res = one(make_host, files)
    assert res.status is Status.OK and res.summary == "qemu-aarch64 (flags POF, shadows a-exec-only)"


def test_an_x86_interpreter_on_an_arm64_host_is_for_another_host(make_host, binfmt_tree):
    line = upstream_line("riscv64", "/opt/qemu-riscv64")
    files = binfmt_tree({"qemu-riscv64": entry_text(line)}, **{
        "/proc/sys/kernel/arch": "aarch64\n", "/usr/bin/sh": build_elf("aarch64"),
        "/opt/qemu-riscv64": build_elf("x86_64")})
    res = one(make_host, files, "linux/riscv64")
    assert res.status is Status.FAIL
    assert res.summary == "qemu-riscv64: interpreter /opt/qemu-riscv64 is an EM_X86_64 binary, not EM_AARCH64"


def test_a_symlinked_interpreter_names_its_target(make_host, binfmt_tree):
    line = upstream_line("aarch64", "/opt/qemu-aarch64")
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(line)},
                                     **{"/opt/qemu-aarch64": "-> ../usr/bin/qemu-aarch64-static"}))
    assert res.status is Status.OK and res.details[0] == (
        "handler qemu-aarch64: interpreter /opt/qemu-aarch64 -> /usr/bin/qemu-aarch64-static, flags 'F'")


def test_the_declaration():
    c = binfmt_handlers
    assert (c.name, c.title, c.category, c.requires, c.per_target, c.fixable) == (
        "binfmt-handlers", "binfmt_misc handler", "emulation", ("binfmt-mount",), True, True)
    assert c.doc.startswith("What it checks: ")


def _setuid_project(*lines):
    from mab_doctor.project.dockerfile import parse_dockerfile
    from mab_doctor.project.model import Intent

    dockerfile, problems = parse_dockerfile("Dockerfile", "".join(f"{line}\n" for line in lines))
    assert problems == []
    return Intent("/p", ("Dockerfile",), dockerfiles=(dockerfile,))


def test_a_setuid_step_as_a_non_root_user_makes_the_missing_c_flag_a_warning(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)})  # Debian 12: flags POF, no C
    ctx = make_host(files, targets="linux/arm64")
    ctx.project = _setuid_project("FROM debian:bookworm", "RUN apt-get install -y sudo", "USER app",
                                  "RUN sudo true")
    (res,) = binfmt_handlers(ctx)
    assert res.status is Status.WARN
    assert res.summary == ("qemu-aarch64 has no C flag, and Dockerfile:4:5 runs the setuid program sudo as USER app: "
                           "emulated, it runs without its privileges (sudo: \"effective uid is not 0\", su: \"must be suid "
                           "to work properly\")")
    assert "setuid programs run as a non-root USER in this project: sudo as app (Dockerfile:4:5)" in res.details
    assert "USER root" in res.remediation and "root exploit" in res.remediation
    # The fix re-registers Debian's definition with C, planned only with --add-c-flag.
    with_c = DEBIAN_AARCH64.replace(":M::", ":M:0:").replace(":OPF", ":POCF")
    assert [(a.kind, a.subject, a.line) for a in res.fix.actions] == [("unregister", "qemu-aarch64", ""),
                                                                       ("register", "qemu-aarch64", with_c)]
    assert res.fix.opt_in == "--add-c-flag" and "--fix --add-c-flag" in res.remediation


def test_setuid_steps_as_root_or_in_a_later_stage_do_not_matter(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)})
    ctx = make_host(files, targets="linux/arm64")
    # sudo before USER, as root again, and in a new stage (FROM resets the user to root)
    ctx.project = _setuid_project("FROM debian:bookworm", "RUN sudo true", "USER app", "USER root",
                                  "RUN ping -c1 localhost", "USER 1000", "FROM debian:bookworm", "RUN su -c true")
    (res,) = binfmt_handlers(ctx)
    assert res.status is Status.OK and res.summary == "qemu-aarch64 (flags POF)"


def test_with_the_c_flag_setuid_steps_are_fine(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64.replace(":OPF", ":OPCF"))})
    ctx = make_host(files, targets="linux/arm64")
    ctx.project = _setuid_project("FROM debian:bookworm", "USER app", "RUN sudo true")
    (res,) = binfmt_handlers(ctx)
    assert res.status is Status.OK and res.summary == "qemu-aarch64 (flags POCF)" and res.fix is None


def static_qemu(machine: int = 62, e_type: int = 2) -> bytes:
    """A static x86-64 (or other ``machine``) program with one PT_LOAD segment: ELF type EXEC is a
    fixed-address build, DYN a static PIE."""
    import struct

    from mab_doctor.host.elf import build_header

    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 120, 120, 0x1000)
    return build_header(64, "little", machine, e_type=e_type, entry=0x401000, phnum=1) + load


RISCV_WITH_AARCH64 = upstream_line("riscv64", "/usr/bin/qemu-aarch64-static")


def test_the_emulator_of_another_target_fails_and_is_replaced(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-riscv64": entry_text(RISCV_WITH_AARCH64)},
                        **{"/usr/bin/qemu-riscv64-static": build_elf("x86_64")})
    res = one(make_host, files, "linux/riscv64")
    assert res.status is Status.FAIL and res.summary == (
        "qemu-riscv64: interpreter /usr/bin/qemu-aarch64-static emulates aarch64, not riscv64 (file name "
        "qemu-aarch64-static): every linux/riscv64 program fails with \"Invalid ELF image for this architecture\"")
    assert res.remediation == "Re-register the handler with qemu-riscv64: `sudo mab-doctor --fix`."
    assert [(a.kind, a.subject, a.line) for a in res.fix.actions][:2] == [
        ("unregister", "qemu-riscv64", ""), ("register", "qemu-riscv64",
                                             upstream_line("riscv64", "/usr/bin/qemu-riscv64-static"))]
    assert res.data["handler"]["emulates"] == "aarch64"


def test_without_the_right_emulator_the_fix_installs_it(make_host, binfmt_tree):
    wrong = upstream_line("s390x", "/usr/bin/qemu-aarch64-static")
    res = one(make_host, binfmt_tree({"qemu-s390x": entry_text(wrong)}), "linux/s390x")
    assert res.status is Status.FAIL and "emulates aarch64, not s390x" in res.summary
    assert [a.kind for a in res.fix.actions] == ["install", "unregister", "register"]


def test_a_stored_definition_for_the_wrong_emulator_is_not_registered_again(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-riscv64": entry_text(RISCV_WITH_AARCH64)}, **{
        "/usr/lib/binfmt.d/qemu-riscv64.conf": RISCV_WITH_AARCH64 + "\n",
        "/usr/bin/qemu-riscv64-static": build_elf("x86_64")})
    res = one(make_host, files, "linux/riscv64")
    assert "/usr/lib/binfmt.d" not in res.fix.title and "qemu-riscv64-static" in res.fix.title


def test_debian_wrapper_names_tell_the_target(make_host, binfmt_tree):
    wrong = DEBIAN_AARCH64.replace("aarch64-binfmt-P", "s390x-binfmt-P")
    files = binfmt_tree({"qemu-aarch64": entry_text(wrong)}, **{
        "/usr/libexec/qemu-binfmt/s390x-binfmt-P": build_elf("x86_64")})
    res = one(make_host, files)
    assert res.status is Status.FAIL and res.summary.startswith(
        "qemu-aarch64: interpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P emulates s390x, not aarch64 "
        "(file name s390x-binfmt-P)")


def test_the_resolved_file_outranks_the_registered_name(make_host, binfmt_tree):
    # aarch64-binfmt-P pointing at the riscv64 emulator runs riscv64's QEMU, whatever the link is called.
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **{
        "/usr/bin/qemu-riscv64-static": build_elf("x86_64"),
        "/usr/libexec/qemu-binfmt/aarch64-binfmt-P": "-> ../../bin/qemu-riscv64-static"})
    res = one(make_host, files)
    assert res.status is Status.FAIL and "emulates riscv64, not aarch64 (file name qemu-riscv64-static)" in res.summary


def test_a_name_that_says_nothing_warns_honestly(make_host, binfmt_tree):
    line = upstream_line("aarch64", "/opt/emulators/static-emu")
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(line)},
                                     **{"/opt/emulators/static-emu": build_elf("x86_64")}))
    assert res.status is Status.WARN and res.summary == (
        "qemu-aarch64: cannot tell which architecture this interpreter emulates (neither its file name names a "
        "QEMU target); linux/arm64 needs qemu-aarch64")
    assert res.remediation == ("Register an emulator whose name says its target (qemu-aarch64, qemu-aarch64-static "
                               "or Debian's aarch64-binfmt-P), or make sure /opt/emulators/static-emu runs "
                               "linux/arm64 programs.")
    assert res.fix is None and res.data["handler"]["emulates"] is None


def test_on_a_live_host_version_names_the_target_whatever_the_file_is_called(live_version):
    line = upstream_line("aarch64", "/opt/emu")
    files = {"/opt/emu": build_elf("x86_64")}
    res = live_version("qemu-aarch64 version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)\n", handler=line, qemu="/opt/emu",
                       files=files)
    assert res.status is Status.OK and res.summary == "qemu-aarch64 (flags F, QEMU 10.0.13)"
    res = live_version("qemu-riscv64 version 7.2.22\n", handler=line, qemu="/opt/emu", files=files)
    assert res.status is Status.FAIL and res.summary.startswith("qemu-aarch64: interpreter ")
    assert res.summary.endswith("/opt/emu emulates riscv64, not aarch64 (`" + res.data["handler"]["resolved"] +
                                " --version` names qemu-riscv64): every linux/arm64 program fails with \"Invalid ELF "
                                "image for this architecture\"")
    res = live_version("", rc=1, handler=line, qemu="/opt/emu", files=files)
    assert res.status is Status.WARN
    assert "(neither its file name nor its `--version` names a QEMU target)" in res.summary


def test_qemu_before_7_2_cannot_run_x86_64_v2_userlands(make_host, binfmt_tree):
    line = upstream_line("x86_64", "/usr/bin/qemu-x86_64-static")
    files = binfmt_tree({"qemu-x86_64": entry_text(line)}, **{
        "/proc/sys/kernel/arch": "aarch64\n", "/usr/bin/sh": build_elf("aarch64"),
        "/usr/bin/qemu-x86_64-static": build_elf("aarch64")})
    ctx = make_host(files, targets="linux/amd64", live=True, uname_override=Uname("6.1.0", "aarch64"))
    ask = (str(ctx.path("/usr/bin/qemu-x86_64-static")), "--version")
    ctx.runner = FakeRunner({ask: CommandResult(ask, 0, "qemu-x86_64 version 7.1.0\n")})
    (res,) = binfmt_handlers(ctx)
    assert res.status is Status.WARN and res.summary.startswith(
        'qemu-x86_64: QEMU 7.1.0 is on the known-bad list for linux/amd64 ("Fatal glibc error: CPU does not support '
        'x86-64-v2"): Before 7.2.0 qemu-x86_64 emulates the qemu64 CPU by default')


@pytest.mark.parametrize("release, e_type, status", [
    ("6.1.119", 2, Status.WARN), ("6.1.106", 2, Status.OK), ("6.18.44-fc-v657", 2, Status.WARN),
    ("6.18.44-fc-v657", 3, Status.OK), ("6.8.12", 2, Status.OK), ("5.4.283", 2, Status.WARN)])
def test_a_non_pie_static_qemu_on_a_kernel_with_the_brk_change_warns(make_host, binfmt_tree, release, e_type, status):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **{
        "/proc/sys/kernel/osrelease": release + "\n", "/usr/bin/qemu-aarch64-static": static_qemu(e_type=e_type)})
    res = one(make_host, files)
    assert res.status is status and res.data["handler"]["static_pie"] is (e_type == 3)
    if status is Status.WARN:
        assert res.summary.startswith(f"qemu-aarch64: /usr/bin/qemu-aarch64-static is a static QEMU built without PIE "
                                      f"(ELF type EXEC), and kernel {release} carries the x86-64 brk randomisation "
                                      f"change (44c76825d6ee, ")
        assert res.summary.endswith('emulated programs crash at random ("Segmentation fault"; kernel log: "segfault at '
                                    '... in qemu-aarch64-static[401000+...]")')
        assert res.remediation.startswith("Install a static-PIE QEMU: on Debian 12 ") and \
            "qemu-user-static 1:7.2+dfsg-7+deb12u9 or newer" in res.remediation


def test_the_brk_warning_names_debians_hidden_stable_level(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, **{
        "/proc/sys/kernel/osrelease": "6.1.0-28-amd64\n", "/usr/bin/qemu-aarch64-static": static_qemu(),
        "/proc/version": "Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) "
                         "12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 "
                         "(2024-11-22)\n"})
    res = one(make_host, files)
    assert res.status is Status.WARN and "(44c76825d6ee, backported to 6.1.107)" in res.summary
    assert "kernel level: /proc/version says 6.1.119" in res.details


def test_another_user_namespace_without_binfmt_misc_skips_instead_of_blaming_the_host(make_host, base_host):
    files = {**base_host, "/proc/self/uid_map": "         0       1000          1\n"}
    (res,) = binfmt_handlers(make_host(files, targets="linux/arm64"))
    assert res.status is Status.SKIP and res.summary.startswith("this user namespace shows no binfmt_misc")
    initial = {**base_host, "/proc/self/uid_map": "         0          0 4294967295\n"}
    (res,) = binfmt_handlers(make_host(initial, targets="linux/arm64"))
    assert res.status is Status.FAIL and res.fix is not None
