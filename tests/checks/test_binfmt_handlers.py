"""binfmt-handlers on synthetic trees: mask matching, order, flags, interpreters, fixes."""

import pytest

from elfbuild import build_elf
from helpers import DEBIAN_AARCH64, entry_text, host
from mab_doctor.checks.binfmt_handlers import binfmt_handlers
from mab_doctor.core.model import Status
from mab_doctor.emulation.upstream import UPSTREAM, upstream_line


def one(make_host, files, target="linux/arm64"):
    (res,) = binfmt_handlers(make_host(files, targets=target))
    assert res.target == target
    return res


def test_debian_handler_is_ok(make_host, binfmt_tree):
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64)}))
    assert res.status is Status.OK and res.summary.startswith("qemu-aarch64 (flags POF")
    assert res.data["handler"]["resolved"] == "/usr/bin/qemu-aarch64-static"


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
    assert res.fix.needs_root and res.remediation


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
    assert res.status is Status.FAIL and "no F flag" in res.summary and "no such file or directory" in res.summary
    assert [(a.kind, a.subject) for a in res.fix.actions][:2] == [("unregister", "qemu-aarch64"),
                                                                 ("register", "qemu-aarch64")]


def test_disabled_handler(make_host, binfmt_tree):
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64, enabled=False)}))
    assert res.status is Status.FAIL and "registered but disabled" in res.summary
    assert [(a.kind, a.subject) for a in res.fix.actions] == [("enable-entry", "qemu-aarch64")]


def test_dynamic_interpreter_fails(make_host, binfmt_tree):
    line = upstream_line("aarch64", "/usr/bin/qemu-aarch64")
    files = binfmt_tree({"qemu-aarch64": entry_text(line)},
                        **{"/usr/bin/qemu-aarch64": build_elf("x86_64", interp="/lib64/ld-linux-x86-64.so.2")})
    res = one(make_host, files)
    assert res.status is Status.FAIL and "dynamically linked" in res.summary


def test_interpreter_for_another_host_fails(make_host, binfmt_tree):
    line = upstream_line("aarch64", "/opt/qemu-aarch64")
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(line)}, **{"/opt/qemu-aarch64": build_elf("aarch64")}))
    assert res.status is Status.FAIL and "EM_AARCH64 binary, not EM_X86_64" in res.summary


def test_missing_interpreter_with_and_without_f(make_host, binfmt_tree):
    gone = upstream_line("aarch64", "/usr/bin/gone")
    assert one(make_host, binfmt_tree({"qemu-aarch64": entry_text(gone)})).status is Status.WARN
    res = one(make_host, binfmt_tree({"qemu-aarch64": entry_text(gone[:-1] + "O")}))
    assert res.status is Status.FAIL and "does not exist" in res.summary


def test_shadowed_duplicate_is_named(make_host, binfmt_tree):
    # Captured trees list entries in name order; the first one counts as the newest.
    files = binfmt_tree({"a-tonistiigi": entry_text(upstream_line("aarch64", "/usr/bin/qemu-aarch64-static", "OCF")),
                  "qemu-aarch64": entry_text(DEBIAN_AARCH64)})
    res = one(make_host, files)
    assert res.status is Status.OK and res.data["handler"]["name"] == "a-tonistiigi"
    assert res.data["shadowed"] == ("qemu-aarch64",) and "shadows qemu-aarch64" in res.summary


def test_garbage_entries_warn_but_never_crash(make_host, binfmt_tree):
    files = binfmt_tree({"qemu-aarch64": entry_text(DEBIAN_AARCH64), "broken": "what is this\n",
                  "jar": entry_text(":jar:E::jar::/usr/bin/jexec:")})
    res = one(make_host, files)
    assert res.status is Status.WARN and res.data["garbage"] == ("broken: first line is 'what is this', "
                                                                 "not enabled/disabled",)


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
    assert res.status is Status.FAIL and "share linux/arm/v6's ELF machine" in res.summary
    assert res.fix is None  # a qemu-arm handler would capture every native program too
