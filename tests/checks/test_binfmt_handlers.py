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
                                   "flags": "POF", "resolved": "/usr/bin/qemu-aarch64-static", "static": True}
    assert res.details == ("handler qemu-aarch64: interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P -> "
                           "/usr/bin/qemu-aarch64-static, flags 'POF'",
                           "registration order unknown for a captured tree: listing order assumed")
    assert res.fix is None and res.data["qemu_version"] is None


@pytest.mark.parametrize("cpu, target", [("aarch64", "linux/arm64"), ("arm", "linux/arm/v6"),
                                         ("riscv64", "linux/riscv64"), ("ppc64le", "linux/ppc64le"),
                                         ("s390x", "linux/s390x"), ("mips64el", "linux/mips64le")])
def test_upstream_masks_match_their_architecture_only(make_host, cpu, target, binfmt_tree):
    line = upstream_line(cpu, "/usr/bin/qemu-aarch64-static")
    files = binfmt_tree({f"qemu-{cpu}": entry_text(line)})
    res = one(make_host, files, target)
    assert res.status is Status.OK and res.data["handler"]["name"] == f"qemu-{cpu}"
    other = "linux/s390x" if cpu != "s390x" else "linux/arm64"
    assert one(make_host, files, other).status is Status.FAIL


def test_debian_ppc64le_mask_differs_from_upstream_but_still_matches(make_host, binfmt_tree):
    debian = (":qemu-ppc64le:M::" + UPSTREAM["ppc64le"][0] + ":" + UPSTREAM["ppc64le"][1].replace(
        "\\xff\\x00\\xff", "\\xfc\\x00\\xff", 1) + ":/usr/bin/qemu-aarch64-static:OPF")
    assert one(make_host, binfmt_tree({"qemu-ppc64le": entry_text(debian)}), "linux/ppc64le").status is Status.OK


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
    assert res.remediation == ("Install a static QEMU (Debian/Ubuntu `qemu-user-static`, not `qemu-user` + "
                               "`qemu-user-binfmt` on pre-10.0 Debian packaging) or use tonistiigi/binfmt.")
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
        "linux/arm/v7 cannot run here: its binaries share linux/arm/v6's ELF machine, so binfmt_misc cannot "
        "send them to QEMU")
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
    """live_version(output) -> result: Debian's handler on a tree treated as the live amd64 host, its
    QEMU answering `--version` with ``output``."""
    def run(output, rc=0):
        ctx = make_host(binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}), targets="linux/arm64", live=True,
                        uname_override=Uname("6.1.0", "x86_64"))
        ask = (str(ctx.path("/usr/bin/qemu-aarch64-static")), "--version")
        ctx.runner = FakeRunner({ask: CommandResult(ask, rc, output)})
        (res,) = binfmt_handlers(ctx)
        return res
    return run


@pytest.mark.parametrize("version, why", [
    ("9.2.0", "Reported, not root-caused: `qemu: uncaught target signal 11` while running libc-bin triggers "
              "(ldconfig) during apt on arm64 targets; tonistiigi/binfmt qemu-v9.2.0 images, workaround was going "
              "back to qemu-v7.0.0-28."),
    ("9.2.2", "Reported, not root-caused: the same libc-bin segfault still reproduced with 9.2.2 in the "
              "tonistiigi/binfmt e2e test.")])
def test_a_known_bad_qemu_version_warns(live_version, version, why):
    res = live_version(f"qemu-aarch64 version {version} (Debian 1:9.2+ds-1)\n")
    assert res.status is Status.WARN and res.summary == f"qemu-aarch64: QEMU {version} is on the known-bad list: {why}"
    assert res.remediation == ("Prefer a current tonistiigi/binfmt image over old distribution QEMU; if a version "
                               "crashes, try another tag (e.g. qemu-v8.x or v10.x); prefer cross-compilation in a "
                               "--platform=$BUILDPLATFORM stage.")
    assert res.fix is None and res.data["qemu_version"] == version


@pytest.mark.parametrize("version", ["9.2.1", "9.1.9", "9.2.3", "10.0.0"])
def test_a_qemu_version_next_to_the_bad_ones_is_fine(live_version, version):
    res = live_version(f"qemu-aarch64 version {version}\n")
    assert res.status is Status.OK and res.summary == f"qemu-aarch64 (flags POF, QEMU {version})"


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
